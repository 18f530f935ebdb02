import BedsideCore
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import ModelBridge

/// Fuzzing of the worker -> Bedside half of the bridge protocol (issue 9).
///
/// 1. `WorkerMessage.decode` (the decoder every worker message goes through) with random bytes and byte-level
///    mutations of valid messages: it returns an object or nil, nothing else.
/// 2. A fake worker (Python + real ZeroMQ, started by a real `ModelRunner` through `command:`) that answers every
///    frame with structure-level mutations of the protocol's messages (wrong types, huge and negative numbers,
///    missing and unknown fields, deep nesting, huge strings, oversized results) and, in its first four
///    incarnations, with one message that breaks the protocol: the runner must restart it each time, keep
///    serving after, and never crash.
///
/// `BEDSIDE_FUZZ_CASES` scales both (default 5000: 4x that for the decoder, 1/10 of it frames for the worker).
@Suite("Worker protocol fuzzing", .serialized)
struct ProtocolFuzzTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var python: String {
        let venv = repo + "/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }
    static var cases: Int { ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_CASES"].flatMap { Int($0) } ?? 5000 }
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x0B51_D3F0_22ED
    }

    /// Valid messages of every kind a worker sends (docs/protocol.md), as the bridge encodes them.
    static let valid: [String] = [
        #"{"type":"hello","pid":4242,"name":"pcbm-demo","python":"3.11.2","bridge":"0.4.0","protocol":1}"#,
        #"{"type":"ready","setup_ms":812.5,"model":{"version":"0.1.0","classes":["background","skull"],"concepts":["a","b"],"planes":["head","abdomen","femur"]}}"#,
        #"{"type":"heartbeat","time_ns":123456789012345}"#,
        #"{"type":"network","attempts":[{"host":"download.pytorch.org","port":443,"url":"https://download.pytorch.org/x.pth","event":"urllib.Request","where":"model.py:12","function":"load","count":1,"denied":true}]}"#,
        #"{"type":"fatal","stage":"import","error":"ModuleNotFoundError: No module named 'torch'","traceback":"Traceback ...","fault":"researcher"}"#,
        #"{"type":"result","seq":17,"model_ms":12.5,"recv_to_send_ms":13.1,"received_ns":1000,"start_ns":1001,"end_ns":1002,"result":{"plane":{"name":"head","status":"standard","score":0.93},"concepts":[{"name":"skull_complete","plane":"head","score":8.5,"present":true}],"segmentation":{"width":4,"height":2,"encoding":"rle","classes":["background","skull"],"data":[0,5,1,3]},"guidance":{"text":"move the probe left","arrow":"left"},"extra":{}}}"#,
        #"{"type":"error","seq":18,"model_ms":3.2,"error":"ValueError: bad","traceback":"Traceback ...","fault":"researcher"}"#,
        #"{"type":"log","stream":"stderr","line":"hello from the model"}"#,
    ]

    // MARK: 1. the decoder

    static let nasty: [[UInt8]] = [
        "1e308", "-1e308", "1e400", "18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
        "-0", "0.0000001", "NaN", "Infinity", "null", "true", "[]", "{}", "\"\"", "\"\\ud800\"", "\"\\u0000\"",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        String(repeating: "{\"a\":", count: 300) + "1" + String(repeating: "}", count: 300),
        "\"" + String(repeating: "x", count: 100_000) + "\"",
    ].map { Array($0.utf8) }
    static let notObjects: [[UInt8]] = [
        "[]", "1", "\"hello\"", "null", "true", "[{\"type\":\"result\"}]", "",
        String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 50_000),
        "{\"type\":\"result\",\"seq\":1,\"seq\":2}", "{\"type\":\"hello\"}\u{0}garbage", "\u{FEFF}{\"type\":\"log\"}",
    ].map { Array($0.utf8) }

    @Test("ModelRunner.parse: random bytes and mutated messages give an object or nil, never a crash")
    func decoder() {
        var rng = SplitMix64(seed: Self.seed)
        func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
        let n = Self.cases * 4
        var objects = 0, refused = 0, reencoded = 0
        let start = Date()
        for i in 0..<n {
            var bytes: [UInt8]
            switch i % 5 {
            case 0:  // random bytes of random length
                bytes = (0..<int(300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // a valid message truncated
                let v = Array(Self.valid[int(Self.valid.count)].utf8)
                bytes = Array(v.prefix(int(v.count + 1)))
            case 2:  // a valid message with bytes flipped, inserted or deleted (invalid UTF-8 included)
                bytes = Array(Self.valid[int(Self.valid.count)].utf8)
                for _ in 0...int(6) {
                    let p = int(bytes.count)
                    switch int(3) {
                    case 0: if p < bytes.count { bytes[p] ^= UInt8(1 << int(8)) }
                    case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: p)
                    default: if p < bytes.count { bytes.remove(at: p) }
                    }
                }
            case 3:  // a valid message with a value swapped for a nasty one
                var text = Array(Self.valid[int(Self.valid.count)].utf8)
                let colons = text.indices.filter { text[$0] == UInt8(ascii: ":") }
                let at = colons[int(colons.count)] + 1
                var end = at
                while end < text.count && ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(text[end]) { end += 1 }
                text.replaceSubrange(at..<end, with: Self.nasty[int(Self.nasty.count)])
                bytes = text
            default:  // JSON that is not an object, and deep nesting past any sane limit
                bytes = Self.notObjects[int(Self.notObjects.count)]
            }
            if let message = try? WorkerMessage.decode(bytes) {
                objects += 1
                // What the runner does with a result: encode it again for the tablets and the log.
                if case .result(let answer) = message, let raw = answer.result,
                    (try? JSONWire.encoder().encode(raw)) != nil
                {
                    reencoded += 1
                }
                if case .result(let answer) = message { #expect(answer.modelMs.isFinite && answer.modelMs >= 0) }
            } else {
                refused += 1
            }
        }
        #expect((try? WorkerMessage.decode([])) == nil)
        let seconds = Date().timeIntervalSince(start)
        print("FUZZ protocol-decode cases=\(n) objects=\(objects) refused=\(refused) results-reencoded=\(reencoded) seconds=\(String(format: "%.1f", seconds))")
        #expect(objects > 0 && refused > 0)
        Reliability.record(
            fault:
                "fuzzed worker messages at Bedside's decoder (WorkerMessage.decode: random bytes, truncated, bit-flipped and value-swapped hello/ready/heartbeat/network/fatal/result/error/log, huge numbers, nesting to 100,000)",
            did:
                "\(objects) decoded to an object, \(refused) refused (a decoding error: the runner restarts such a worker), 0 crashes (\(String(format: "%.1f", seconds)) s)",
            lost: "nothing (decoding only)", cases: n, crashes: 0, test: "Tests/ModelBridgeTests/ProtocolFuzzTests.swift::decoder")
    }

    // MARK: 2. a fake worker at a real runner

    final class Collected: Sendable {
        let predictions = Mutex<[Prediction]>([])
        var count: Int { predictions.withLock { $0.count } }
    }

    @Test("a fake worker sending mutated messages at a real ModelRunner: refused or restarted, never a crash")
    func fakeWorker() async throws {
        let dir = NSTemporaryDirectory() + "bedside-protofuzz-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = dir + "/fake_worker.py"
        try Self.fakeWorker.write(toFile: script, atomically: true, encoding: .utf8)
        let framesPerIncarnation = max(20, Self.cases / 100)
        var m = ModelConfig(name: "fuzz", entry: dir + "/unused.py:predict")
        m.command = [Self.python, script]
        m.env["FUZZ_SEED"] = "\(Self.seed)"
        m.env["FUZZ_DIR"] = dir
        m.env["FUZZ_FRAMES"] = "\(framesPerIncarnation)"
        m.input = ModelInput(width: 64, height: 48, format: .gray8)
        m.timeoutSeconds = 5
        m.startupTimeoutSeconds = 15
        m.workdir = dir
        let collected = Collected()
        var logger = Logger(label: "protofuzz")
        logger.logLevel = .critical
        let runner = ModelRunner(config: m, runtimeDirectory: dir, bridgePath: Self.repo + "/bridge", logger: logger) { p in
            collected.predictions.withLock { $0.append(p) }
        }
        let task = Task { try await runner.run() }
        defer { runner.requestStop() }

        // Frames at ~200 fps until the four protocol breakers were sent and answered with restarts, and the fifth
        // incarnation has served its frames (or the deadline).
        let pixels = [UInt8](repeating: 90, count: 160 * 120)
        let start = Date()
        var seq: UInt64 = 0
        var predictionsAtLastRestart = 0
        var lastRestarts = 0
        while Date().timeIntervalSince(start) < 60 {
            runner.offer(
                Frame(
                    seq: seq, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: 160, height: 120, format: .gray8,
                    pixels: pixels))
            seq += 1
            let s = runner.status
            if s.restarts != lastRestarts {
                lastRestarts = s.restarts
                predictionsAtLastRestart = collected.count
            }
            if s.restarts >= 4 && s.state == .running && collected.count - predictionsAtLastRestart >= framesPerIncarnation { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let seconds = Date().timeIntervalSince(start)
        let status = runner.status
        runner.requestStop()
        _ = try? await task.value

        // What the fake workers sent, by kind (each incarnation writes its counts).
        var sent: [String: Int] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix("stats-") {
            guard let data = FileManager.default.contents(atPath: dir + "/" + f),
                let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Int]
            else { continue }
            for (k, v) in obj { sent[k, default: 0] += v }
        }
        let messages = sent.filter { $0.key != "frames" && $0.key != "incarnations" }.values.reduce(0, +)
        let summary = sent.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print(
            "FUZZ protocol-worker messages=\(messages) frames_sent=\(status.framesSent) predictions=\(collected.count) errors=\(status.errors) restarts=\(status.restarts) state=\(status.state) seconds=\(String(format: "%.1f", seconds)) sent: \(summary)"
        )

        #expect(status.restarts >= 4, "each protocol breaker must restart the worker (last error: \(status.lastError ?? "-"))")
        #expect(collected.count - predictionsAtLastRestart >= framesPerIncarnation, "predictions resume after the last restart")
        #expect(runner.status.state == .stopped)
        #expect((sent["breakers"] ?? 0) >= 4)
        #expect(messages > 500 || Self.cases < 5000)
        Reliability.record(
            fault:
                "fake worker (real ZeroMQ, real ModelRunner) answering every frame with mutated protocol messages: wrong types, huge/negative numbers (model_ms 1e308, seq 1.5, ns 2^64), missing/unknown fields, nesting to 300, 100 kB strings, 4.5 MB results, 60 distinct network attempts; plus 4 protocol breakers (garbage bytes, result without seq, answer for a frame not given, hello of protocol 99)",
            did:
                "all \(messages) messages handled: \(collected.count) predictions shown, \(status.errors) answers counted as errors, 4 breakers each killed and restarted the worker (\(status.restarts) restarts), serving again after the last; runner stopped cleanly",
            lost: "the frames in flight at each of the \(status.restarts) restarts (the worker's fault); no other answers",
            recoverySeconds: nil, cases: messages, crashes: 0, test: "Tests/ModelBridgeTests/ProtocolFuzzTests.swift::fakeWorker")
    }

    /// The fake worker: connects like the bridge (`--endpoint` in its arguments), says hello and ready, then answers
    /// each frame with 0-8 mutated side messages and one (mutated) answer for that frame (hello and ready are mutated
    /// too, once, at the start: a second `ready` mid-frame would free the worker for another frame).
    /// Incarnation k < 4 sends breaker k after FUZZ_FRAMES frames.
    static let fakeWorker = #"""
        import json, os, random, signal, sys, time
        import zmq

        argv = sys.argv
        endpoint = argv[argv.index("--endpoint") + 1]
        folder = os.environ["FUZZ_DIR"]
        frames_per = int(os.environ["FUZZ_FRAMES"])
        counter = os.path.join(folder, "incarnations")
        try:
            incarnation = int(open(counter).read())
        except OSError:
            incarnation = 0
        open(counter, "w").write(str(incarnation + 1))
        rng = random.Random(int(os.environ["FUZZ_SEED"]) * 1000 + incarnation)
        stats = {"incarnations": 1, "frames": 0, "breakers": 0}

        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)


        def send(kind, payload, *more):
            data = payload if isinstance(payload, bytes) else json.dumps(payload, allow_nan=True).encode()
            sock.send_multipart([data, *more])
            stats[kind] = stats.get(kind, 0) + 1


        def save():
            path = os.path.join(folder, f"stats-{incarnation}.json")
            with open(path + ".tmp", "w") as f:
                json.dump(stats, f)
            os.replace(path + ".tmp", path)  # whole or not at all: Bedside may kill this process any time


        def stop(signum, frame):
            save()
            sys.exit(0)


        signal.signal(signal.SIGTERM, stop)


        def nested(depth):
            v = rng.choice([1, "x", None])
            for _ in range(depth):
                v = [v] if rng.random() < 0.5 else {"a": v}
            return v


        NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63 - 1, 10**30, -10**30, 1e308, -1e308,
                   1.5, -0.0, 5e-324, 1e-7, 12.25]


        def value():
            k = rng.randrange(11)
            if k < 3:
                return rng.choice(NUMBERS)
            if k == 3:
                return rng.choice(["", "x", "\u0000", "\ud7ff\ue000", "\u202eevil", "日本語🩻", "a" * rng.randrange(100_000)])
            if k == 4:
                return rng.choice([None, True, False])
            if k == 5:
                return [value() for _ in range(rng.randrange(5))]
            if k == 6:
                return {rng.choice(["x", "", "type", "seq", "\u0000"]): value() for _ in range(rng.randrange(4))}
            if k == 7:
                return nested(rng.randrange(1, 300))
            if k == 8:
                return float(rng.randrange(-10**6, 10**6))
            return rng.choice(["standard", "close", "unknown", "head", "rle", "left"])


        def mutate(msg, keep=()):
            msg = dict(msg)
            for _ in range(rng.randrange(4)):
                op = rng.randrange(4)
                fields = [k for k in msg if k not in keep]
                if op == 0 and fields:
                    del msg[rng.choice(fields)]
                elif op == 1 and fields:
                    msg[rng.choice(fields)] = value()
                elif op == 2:
                    msg[rng.choice(["extra_field", "protocol_v2", "", "\u00e9"])] = value()
                elif op == 3 and fields:
                    key = rng.choice(fields)
                    if isinstance(msg[key], dict):
                        msg[key] = mutate(msg[key])
            return msg


        def attempt():
            a = {"host": "h%d.example" % rng.randrange(60), "port": 443, "url": None, "event": "socket.connect",
                 "where": "model.py:%d" % rng.randrange(100), "function": "f", "count": rng.randrange(1, 5), "denied": True}
            return mutate(a)


        def side():
            """A message Bedside must take in stride: never a reason to restart."""
            k = rng.randrange(7)
            if k == 0:
                send("heartbeat", mutate({"type": "heartbeat", "time_ns": time.monotonic_ns()}, keep=("type",)))
            elif k == 1:
                attempts = [attempt() if rng.random() < 0.9 else value() for _ in range(rng.randrange(1, 8))]
                send("network", mutate({"type": "network", "attempts": attempts}, keep=("type",)))
            elif k == 2:
                send("log", mutate({"type": "log", "stream": "stderr", "line": "x" * rng.randrange(2000)}, keep=("type",)))
            elif k == 3:  # hello again, protocol 1 (anything else is a breaker)
                send("hello-again", mutate({"type": "hello", "protocol": 1, "pid": os.getpid(), "name": "f", "python": "3",
                                            "bridge": "x"}, keep=("type", "protocol")))
            elif k == 4:  # a second `ready` would free the worker for another frame while this one is in flight
                send("heartbeat", {"type": "heartbeat", "time_ns": rng.choice(NUMBERS)})
            elif k == 5:  # types Bedside does not know
                send("unknown-type", mutate({"type": rng.choice(["HEARTBEAT", "", "result ", "shutdown", "frame", "progress"]),
                                             "seq": rng.choice(NUMBERS)}, keep=("type",)))
            else:  # a valid message with extra ZeroMQ parts
                send("multipart", {"type": "heartbeat", "time_ns": 1}, b"", os.urandom(rng.randrange(64)))


        def answer(seq):
            k = rng.randrange(10)
            same_seq = rng.choice([seq, seq, seq, float(seq), seq + 0.4])
            if k == 0:
                send("error", mutate({"type": "error", "seq": same_seq, "model_ms": 1.0, "error": "ValueError: x",
                                      "traceback": "", "fault": "researcher"}, keep=("type", "seq")))
            elif k == 1:  # not a dict: counted as an unreadable answer
                send("result-not-object", {"type": "result", "seq": same_seq, "model_ms": 1.0, "result": value()})
            elif k == 2 and rng.random() < 0.2:  # over Bedside's 4 MB limit: refused unparsed, the worker kept
                send("result-oversized", {"type": "result", "seq": seq, "result": {"extra": {"blob": "x" * 4_500_000}}})
            else:
                ns = rng.choice([[1, 2, 3], [2**64 - 3, 2**64 - 2, 2**64 - 1], [3, 2, 1], [-1, 0, 1], [0, 0, 0], [1.5, 2.5, 1e30]])
                result = {"plane": {"name": "head", "status": "standard", "score": 0.9},
                          "concepts": [{"name": "c", "score": 1.0, "present": True}],
                          "segmentation": {"width": 4, "height": 2, "encoding": "rle", "data": [0, 5, 1, 3]},
                          "guidance": {"text": "left", "arrow": "left"}, "extra": {}}
                msg = {"type": "result", "seq": same_seq, "model_ms": rng.choice(NUMBERS), "recv_to_send_ms": 1.0,
                       "received_ns": ns[0], "start_ns": ns[1], "end_ns": ns[2], "result": mutate(result)}
                send("result", mutate(msg, keep=("type", "seq", "result")))


        BREAKERS = [
            ("garbage", lambda seq: sock.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + b"\xff")),
            ("no-seq", lambda seq: sock.send(json.dumps({"type": "result", "seq": "seventeen", "result": {}}).encode())),
            ("wrong-seq", lambda seq: sock.send(json.dumps({"type": "result", "seq": seq + 1000, "model_ms": 1,
                                                            "result": {}}).encode())),
            ("protocol-99", lambda seq: sock.send(json.dumps({"type": "hello", "protocol": 99, "pid": 1}).encode())),
        ]

        send("hello", mutate({"type": "hello", "protocol": 1, "pid": os.getpid(), "name": "fuzz", "python": "3",
                              "bridge": "fuzz"}, keep=("type", "protocol")))
        send("ready", mutate({"type": "ready", "setup_ms": 1.0, "model": {
            "version": "fuzz", "classes": ["a", "b"], "concepts": ["c"], "planes": ["p"]}}, keep=("type",)))
        save()
        served = 0
        parent = os.getppid()
        while True:
            if not sock.poll(1000):
                if os.getppid() != parent:  # the runner's process is gone
                    break
                send("heartbeat", {"type": "heartbeat", "time_ns": time.monotonic_ns()})
                continue
            parts = sock.recv_multipart()
            header = json.loads(parts[0])
            if header.get("type") == "shutdown":
                break
            seq = header["seq"]
            served += 1
            stats["frames"] += 1
            if incarnation < len(BREAKERS) and served == frames_per:
                name, breaker = BREAKERS[incarnation]
                stats["breakers"] += 1
                stats["breaker-" + name] = 1
                save()
                breaker(seq)
                for _ in range(30):  # Bedside kills this incarnation
                    if os.getppid() != parent:
                        break
                    time.sleep(1)
                break
            for _ in range(rng.randrange(9)):
                side()
            answer(seq)
            if served % 10 == 0:
                save()
        save()
        """#
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same cases on every machine.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
