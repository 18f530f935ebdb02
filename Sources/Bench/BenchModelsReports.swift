import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The research code the model benchmarks run: written to a temp folder, so the bench needs nothing but the
/// bridge. `noop` returns at once, `sleep50` and friends sleep, as a model of that cost would.
enum BenchModelCode {
    static let source = """
        import time


        def noop(image):
            return {}


        def sleep20(image):
            time.sleep(0.020)
            return {}


        def sleep50(image):
            time.sleep(0.050)
            return {}


        def sleep300(image):
            time.sleep(0.300)
            return {}


        def sleep1000(image):
            time.sleep(1.0)
            return {}
        """
}

/// Runs one model through a real ModelRunner (real worker process, real ZeroMQ, real shared memory) and
/// feeds it frames, either one at a time (lockstep: each answer awaited) or at a capture rate.
final class AnswerBox: Sendable {
    let answers = Mutex<[UInt64: (Prediction, UInt64)]>([:])
    /// One signal per answer: a wake-up is never lost between a check and a wait.
    let signal = DispatchSemaphore(value: 0)
}

final class BenchRunner: @unchecked Sendable {
    let harness: ModelHarness
    var runner: ModelRunner { harness.runner }
    let config: ModelConfig
    private let box = AnswerBox()
    private var worker: ChildProcess?
    private let runtime: String

    init(config: ModelConfig, runtime: String) {
        self.config = config
        self.runtime = runtime
        var logger = Logger(label: "bench")
        logger.logLevel = ProcessInfo.processInfo.environment["BEDSIDE_BENCH_DEBUG"] != nil ? .info : .critical
        let box = self.box
        harness = ModelHarness(
            ModelRunner(config: config, runtimeDirectory: runtime, logger: logger) { p in
                box.answers.withLock { $0[p.seq] = (p, Clock.monotonicNanos()) }
                box.signal.signal()
            })
    }

    /// Starts the runner (and, for TCP, a worker process that connects to it); waits until it is ready.
    var workerLogPath: String { runtime + "/remote-worker-\(config.name).log" }

    func start(remoteWorker: [String]? = nil, timeout: Double = 120) async throws -> Double {
        let t0 = Clock.monotonicNanos()
        harness.start()
        if let remoteWorker {
            // Our own spawn (not Foundation's Process): this runs on a concurrency thread whose blocked signals a
            // Process child would inherit, and then SIGTERM would never reach the worker.
            var env = ProcessInfo.processInfo.environment
            if let bridge = WorkerProcess.locateBridge() { env["PYTHONPATH"] = bridge }
            let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
            defer { close(null) }
            // The worker's own account (connecting, connected, refused) goes to a file, quoted if it never joins.
            let log = open(workerLogPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { if log >= 0 { close(log) } }
            let exe = remoteWorker[0].hasPrefix("/") ? remoteWorker[0] : FileManager.default.currentDirectoryPath + "/" + remoteWorker[0]
            worker = try ChildProcess(
                executable: exe, arguments: Array(remoteWorker.dropFirst()), environment: env, directory: nil,
                stdout: null, stderr: ProcessInfo.processInfo.environment["BEDSIDE_BENCH_DEBUG"] == nil ? (log >= 0 ? log : null) : 2)
        }
        let debug = ProcessInfo.processInfo.environment["BEDSIDE_BENCH_DEBUG"] != nil
        var report: (@Sendable (ModelStatus) -> Void)?
        if debug {
            report = { (s: ModelStatus) -> Void in
                FileHandle.standardError.write(Data("bench: \(String(describing: s))\n".utf8))
            }
        }
        let started = await harness.waitUntilRunning(timeout: .seconds(timeout), failFast: false, report: report)
        if started != ModelHarness.Start.running {
            var why = "model \(config.name) did not start: \(runner.status.lastError ?? "?")"
            if remoteWorker != nil, let text = try? String(contentsOfFile: workerLogPath, encoding: .utf8) {
                why += "\nthe remote worker's output:\n" + text.split(separator: "\n").suffix(20).joined(separator: "\n")
            }
            throw BenchError(why)
        }
        return Double(Clock.monotonicNanos() - t0) / 1e6
    }

    func stop() async {
        await harness.stop()
        worker?.signal(SIGTERM)
        if worker?.wait(timeout: 5) == false { worker?.signal(SIGKILL) }
        _ = worker?.wait(timeout: 5)
    }

    /// Offers frame `seq` and waits for its answer; returns (prediction, offer->answer ms).
    func lockstep(_ frame: Frame, timeout: Double = 30) -> (Prediction, Double)? {
        let offered = Clock.monotonicNanos()
        runner.offer(frame)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let (p, at) = box.answers.withLock({ $0.removeValue(forKey: frame.seq) }) {
                return (p, Double(at - offered) / 1e6)
            }
            _ = box.signal.wait(timeout: .now() + 0.05)
        }
        return nil
    }

    /// All answers so far, in order.
    var allAnswers: [Prediction] { box.answers.withLock { $0.values.map(\.0).sorted { $0.seq < $1.seq } } }
}

enum Stats {
    static func summary(_ values: [Double]) -> (p50: Double, p99: Double, max: Double) {
        let s = values.sorted()
        return (Report.pct(s, 50), Report.pct(s, 99), s.last ?? 0)
    }

    static func cell(_ values: [Double]) -> String {
        let s = summary(values)
        return "\(Report.f(s.p50)) / \(Report.f(s.p99)) / \(Report.f(s.max))"
    }
}

/// A frame of `width`x`height` RGB whose first bytes change (so no layer can cache it).
func benchFrame(seq: UInt64, width: Int, height: Int, pixels: inout [UInt8], format: PixelFormat = .rgb24) -> Frame {
    pixels[0] = UInt8(truncatingIfNeeded: seq)
    return Frame(
        seq: seq, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: width, height: height, format: format,
        pixels: pixels)
}
extension BenchReports {
    public static func overhead(sizes: String, frames: Int, slowFrames: Int, transports: String, python: String) async throws -> String {
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let code = runtime + "/bench_models.py"
        try BenchModelCode.source.write(toFile: code, atomically: true, encoding: .utf8)
        var out = "## Overhead vs native (`bedside bench overhead`)\n\n"
        out += "Native: the model's own time, measured inside the Python process. Round trip: Bedside offers the frame (RGB, "
        out += "copied into shared memory or sent over TCP) until the answer is parsed and handed on. Overhead: the difference "
        out += "per frame. ms, p50 / p99 / max. Seed (Table 1): 30-60 ms of framework overhead per frame.\n\n"
        out += "Of which after the copy: from the frame message's send to the parsed answer, minus native (the copy of the "
        out += "frame into the shared-memory slot, or its encryption for TCP, is the rest).\n\n"
        out += "| size | transport | model | frames | native | round trip | overhead | of which after the copy | target (1080p local: p50 <= 0.5, p99 <= 1) |\n"
        out += "|---|---|---|---|---|---|---|---|---|\n"
        for spec in sizes.split(separator: ",") {
            let (w, h) = try parseSize(String(spec))
            for transport in transports.split(separator: ",").map(String.init) {
                for (model, n) in [("noop", frames), ("sleep50", slowFrames)] {
                    var c = ModelConfig(name: "bench-\(model)", entry: "\(code):\(model)")
                    c.python = python
                    c.input.width = w
                    c.input.height = h
                    c.input.format = .rgb24
                    c.timeoutSeconds = 30
                    var remote: [String]?
                    if transport == "tcp" {
                        let keys = runtime + "/keys-\(w)-\(model)"
                        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
                        let s = try CurveKeys.generate(), wk = try CurveKeys.generate()
                        try "\(s.secret)\n".write(toFile: keys + "/server.key", atomically: true, encoding: .utf8)
                        try "\(s.public)\n".write(toFile: keys + "/server.pub", atomically: true, encoding: .utf8)
                        try "\(wk.public)\n".write(toFile: keys + "/authorized_workers", atomically: true, encoding: .utf8)
                        try "\(wk.public)\n\(wk.secret)\n".write(toFile: keys + "/worker.key", atomically: true, encoding: .utf8)
                        let port = try freePort()
                        c.remoteBind = "tcp://127.0.0.1:\(port)"
                        c.remoteKeys = keys
                        remote = [
                            python.contains("/") ? python : "/usr/bin/env", python.contains("/") ? nil : python, "-m", "bridge",
                            "--endpoint", "tcp://127.0.0.1:\(port)", "--entry", "\(code):\(model)", "--server-key", keys + "/server.pub",
                            "--key-file", keys + "/worker.key",
                        ].compactMap { $0 }
                    }
                    let r = BenchRunner(config: c, runtime: runtime)
                    _ = try await r.start(remoteWorker: remote)
                    var pixels = [UInt8](repeating: 90, count: w * h * 3)
                    var native: [Double] = [], trip: [Double] = [], over: [Double] = [], wire: [Double] = []
                    for i in 0..<(n + 5) {  // 5 warm-up frames
                        let f = benchFrame(seq: UInt64(i), width: w, height: h, pixels: &pixels)
                        guard let (p, ms) = r.lockstep(f) else { throw BenchError("no answer for frame \(i)") }
                        if ProcessInfo.processInfo.environment["BEDSIDE_BENCH_DEBUG"] != nil {
                            FileHandle.standardError.write(Data("frame \(i): \(ms) ms (model \(p.modelMs))\n".utf8))
                        }
                        if i < 5 { continue }
                        native.append(p.modelMs)
                        trip.append(ms)
                        over.append(ms - p.modelMs)
                        wire.append(p.roundTripMs - p.modelMs)
                    }
                    await r.stop()
                    var verdict = ""
                    if w == 1920 && transport == "shm" && model == "noop" {
                        let s = Stats.summary(over)
                        verdict = s.p50 <= 0.5 && s.p99 <= 1 ? "met" : "missed"
                    }
                    out +=
                        "| \(w)x\(h) | \(transport) | \(model) | \(n) | \(Stats.cell(native)) | \(Stats.cell(trip)) | \(Stats.cell(over)) | \(Stats.cell(wire)) | \(verdict) |\n"
                }
            }
        }
        return out
    }
}

/// A TCP port nobody listens on now (bound and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw BenchError("no free TCP port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
extension BenchReports {
    public static func staleness(seconds: Double, python: String) async throws -> String {
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let code = runtime + "/bench_models.py"
        try BenchModelCode.source.write(toFile: code, atomically: true, encoding: .utf8)
        var out = "## Staleness (`bedside bench staleness`)\n\n"
        out += "A 300 ms model fed live at the capture rate (640x480): how old the frame is when it is handed to the model, "
        out += "and how old the answer is when it arrives (what a tablet then shows). ms, p50 / p99 / max.\n\n"
        out += "| fps | frame interval | answers | age at dispatch | result age at arrival | target: dispatch p99 <= 1 interval |\n|---|---|---|---|---|---|\n"
        for fps in [30.0, 60.0] {
            var c = ModelConfig(name: "stale", entry: "\(code):sleep300")
            c.python = python
            c.input.width = 640
            c.input.height = 480
            let r = BenchRunner(config: c, runtime: runtime)
            _ = try await r.start()
            var pixels = [UInt8](repeating: 90, count: 640 * 480 * 3)
            let interval = 1 / fps
            let t0 = Clock.monotonicNanos()
            var seq: UInt64 = 0
            while Double(Clock.monotonicNanos() - t0) / 1e9 < seconds {
                r.runner.offer(benchFrame(seq: seq, width: 640, height: 480, pixels: &pixels))
                seq += 1
                let next = t0 + UInt64(Double(seq) * interval * 1e9)
                let now = Clock.monotonicNanos()
                if next > now { usleep(UInt32((next - now) / 1000)) }
            }
            try await Task.sleep(for: .milliseconds(400))
            await r.stop()
            let answers = r.allAnswers.dropFirst()  // the first waits for the worker to be ready
            let dispatch = answers.map { Double($0.dispatchedNanos &- $0.ptsNanos) / 1e6 }
            let result = answers.map { Double($0.receivedNanos &- $0.ptsNanos) / 1e6 }
            let verdict = Stats.summary(dispatch).p99 <= interval * 1000 ? "met" : "missed"
            out += "| \(Int(fps)) | \(Report.f(interval * 1000)) ms | \(answers.count) | \(Stats.cell(dispatch)) | \(Stats.cell(result)) | \(verdict) |\n"
        }
        return out
    }
}
extension BenchReports {
    public static func replicas(seconds: Double, python: String) async throws -> String {
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let code = runtime + "/bench_models.py"
        try BenchModelCode.source.write(toFile: code, atomically: true, encoding: .utf8)
        var out = "## Replicas (`bedside bench replicas`)\n\n"
        out += "A model that takes 1 s per frame, fed at 30 fps, 320x240, over \(Int(seconds)) s.\n\n"
        out += "| replicas | predictions/s | target (>= 0.9 x replicas) |\n|---|---|---|\n"
        for k in [1, 2, 4] {
            var c = ModelConfig(name: "replicas", entry: "\(code):sleep1000")
            c.python = python
            c.replicas = k
            c.input.width = 320
            c.input.height = 240
            let r = BenchRunner(config: c, runtime: runtime)
            _ = try await r.start()
            while r.runner.status.replicasReady < k { try await Task.sleep(for: .milliseconds(20)) }
            var pixels = [UInt8](repeating: 90, count: 320 * 240 * 3)
            let t0 = Clock.monotonicNanos()
            var seq: UInt64 = 0
            var firstSeen: Int?
            while Double(Clock.monotonicNanos() - t0) / 1e9 < seconds + 1 {
                r.runner.offer(benchFrame(seq: seq, width: 320, height: 240, pixels: &pixels))
                seq += 1
                if firstSeen == nil, !r.allAnswers.isEmpty { firstSeen = r.allAnswers.count }
                try await Task.sleep(for: .milliseconds(33))
            }
            await r.stop()
            // Rate over the steady part: answers from the first to the last one's arrival.
            let a = r.allAnswers
            let span = a.count > 1 ? Double(a.last!.receivedNanos - a.first!.receivedNanos) / 1e9 : 1
            let rate = a.count > 1 ? Double(a.count - 1) / span : 0
            out += "| \(k) | \(Report.f(rate)) | \(rate >= 0.9 * Double(k) ? "met" : "missed") |\n"
        }
        return out
    }
}
extension BenchReports {
    public static func startup(runs: Int, python: String) async throws -> String {
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let code = runtime + "/bench_models.py"
        try BenchModelCode.source.write(toFile: code, atomically: true, encoding: .utf8)
        var ready: [Double] = [], first: [Double] = [], load: [Double] = []
        for i in 0..<runs {
            var c = ModelConfig(name: "startup", entry: "\(code):noop")
            c.python = python
            c.input.width = 640
            c.input.height = 480
            let r = BenchRunner(config: c, runtime: runtime)
            let t0 = Clock.monotonicNanos()
            let readyMs = try await r.start()
            var pixels = [UInt8](repeating: 90, count: 640 * 480 * 3)
            guard r.lockstep(benchFrame(seq: UInt64(i), width: 640, height: 480, pixels: &pixels)) != nil else {
                throw BenchError("no first answer")
            }
            let firstMs = Double(Clock.monotonicNanos() - t0) / 1e6
            load.append(r.runner.status.setupMs ?? 0)
            await r.stop()
            ready.append(readyMs)
            first.append(firstMs)
        }
        var out = "## Start-up (`bedside bench startup`)\n\n"
        out += "A model process started from nothing (interpreter, numpy, pyzmq, the bridge) until its first answer; the "
        out += "model's own import and setup (`setup_ms`, measured by the bridge) is listed apart. ms, p50 / p99 / max over \(runs) starts.\n\n"
        out += "| start to ready | start to first answer | model's own load | Bedside + bridge (first answer minus load) |\n|---|---|---|---|\n"
        out += "| \(Stats.cell(ready)) | \(Stats.cell(first)) | \(Stats.cell(load)) | \(Stats.cell(zip(first, load).map { $0 - $1 })) |\n"
        return out
    }
}
