import BedsideCore
import Capture
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs one model: supervises its worker process and hands it the newest frame whenever it is idle.
///
/// All blocking I/O (zmq polls, process waits, scaling into shared memory) happens on the runner's own
/// thread; the decisions come from `SupervisorStateMachine` and `DispatchStateMachine`.
public final class ModelRunner: Service, Sendable {
    public let config: ModelConfig
    let frames: Mailbox<Frame>
    let wake = ConditionSignal()
    let stopFlag = Atomic<Bool>(false)
    let statusBox: Mutex<ModelStatus>
    let onPrediction: @Sendable (Prediction) -> Void
    let logger: Logger
    let bridgePath: String?
    let runtimeDirectory: String

    public init(
        config: ModelConfig, runtimeDirectory: String, bridgePath: String? = nil, logger: Logger,
        onPrediction: @escaping @Sendable (Prediction) -> Void
    ) {
        self.config = config
        self.runtimeDirectory = runtimeDirectory
        self.bridgePath = bridgePath ?? WorkerProcess.locateBridge()
        self.logger = logger
        self.onPrediction = onPrediction
        frames = Mailbox(signal: wake)
        var s = ModelStatus(name: config.name)
        if let c = config.input.crop { s.crop = .init(x: c.x, y: c.y, width: c.width, height: c.height) }
        statusBox = Mutex(s)
    }

    /// Offers a captured frame; only the newest offered frame is ever dispatched.
    public func offer(_ frame: Frame) {
        frames.put(frame)
    }

    public var status: ModelStatus { statusBox.withLock { $0 } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await DedicatedThread.run(name: "model-\(config.name)", stop: { self.requestStop() }) { self.loop() }
        } onGracefulShutdown: {
            self.requestStop()
        }
    }

    public func requestStop() {
        stopFlag.store(true, ordering: .relaxed)
        wake.signal()
    }

    var stopping: Bool { stopFlag.load(ordering: .relaxed) }

    static func now() -> Double { Double(Clock.monotonicNanos()) / 1e9 }

    // MARK: - the loop

    private func loop() {
        var supervisor = SupervisorStateMachine(startupTimeout: config.startupTimeoutSeconds)
        var generation = 0
        var action = supervisor.start(now: Self.now())
        while !stopping {
            switch action {
            case .spawn:
                generation += 1
                setState(supervisor)
                let reason = runOneWorker(generation: generation, supervisor: &supervisor)
                if stopping { break }
                action = supervisor.workerFailed(now: Self.now(), reason: reason)
                logger.warning("model \(config.name) stopped: \(reason); restarting", metadata: ["restarts": "\(supervisor.restarts)"])
                statusBox.withLock {
                    $0.lastError = reason
                    $0.pid = nil
                }
                setState(supervisor)
            case .waitUntil(let t):
                while !stopping && Self.now() < t { wake.wait(timeoutSeconds: min(0.1, max(0.001, t - Self.now()))) }
                _ = frames.poll()  // frames captured during the backoff are old now
                action = supervisor.tick(now: Self.now())
            case .kill, .none:
                action = supervisor.tick(now: Self.now())
                if action == .none { wake.wait(timeoutSeconds: 0.05) }
            }
        }
        supervisor.stop()
        setState(supervisor)
    }

    private func setState(_ s: SupervisorStateMachine) {
        statusBox.withLock {
            $0.state = s.stateName
            $0.restarts = s.restarts
        }
    }

    /// Starts one worker and serves it until it fails; returns why it ended.
    private func runOneWorker(generation: Int, supervisor: inout SupervisorStateMachine) -> String {
        let endpointPath = "\(runtimeDirectory)/\(config.name)-\(generation).sock"
        let endpoint = "ipc://\(endpointPath)"
        let socket: ZMQSocket
        let worker: WorkerProcess
        do {
            socket = try ZMQSocket(.dealer)
            try socket.bind(endpoint)
        } catch {
            return "cannot open the worker socket: \(error)"
        }
        defer {
            socket.unbind(endpoint)
            unlink(endpointPath)
        }
        do {
            worker = try WorkerProcess(config: config, endpoint: endpoint, bridgePath: bridgePath, logger: logger)
        } catch {
            return "\(error)"
        }
        statusBox.withLock { $0.pid = worker.pid }
        defer {
            _ = try? socket.send([Array(#"{"type":"shutdown"}"#.utf8)])
            worker.stop(grace: 2)
        }

        // Handshake: hello, then ready (import + setup) within the start-up timeout.
        var sawHello = false
        while !stopping {
            if case .kill(let reason) = supervisor.tick(now: Self.now()) { return reason }
            if let code = worker.exitStatus {
                return sawHello
                    ? "worker exited with status \(code) during start-up"
                    : "worker exited with status \(code) before the bridge started: does \(config.python) have the bridge's packages (pyzmq, numpy)? Install them with `\(config.python) -m pip install -e bridge` (the worker's stderr above says more)"
            }
            let msg: [[UInt8]]?
            do { msg = try socket.receive(timeoutMs: 50) } catch { return "\(error)" }
            guard let msg, let obj = Self.parse(msg.first) else { continue }
            switch obj["type"] as? String {
            case "hello":
                let proto = obj["protocol"] as? Int ?? -1
                guard proto == 1 else {
                    return "worker speaks bridge protocol \(proto), this Bedside speaks 1: install the matching bridge"
                }
                sawHello = true
            case "ready" where sawHello:
                _ = supervisor.workerReady(now: Self.now())
                setState(supervisor)
                logger.info(
                    "model \(config.name) ready", metadata: ["pid": "\(worker.pid)", "setup_ms": "\(obj["setup_ms"] ?? "?")"])
                return serve(socket: socket, worker: worker)
            case "fatal":
                let stage = obj["stage"] as? String ?? "?"
                let err = obj["error"] as? String ?? "?"
                if let tb = obj["traceback"] as? String, !tb.isEmpty { logger.error("model \(config.name) \(stage) traceback:\n\(tb)") }
                return "\(stage) failed: \(err)"
            case "log", "heartbeat":
                _ = handleSideMessage(type: obj["type"] as? String ?? "", obj)
            default:
                return "unexpected message during start-up: \(obj["type"] ?? "none")"
            }
        }
        return "stopped"
    }

    /// Lockstep serving: newest frame to an idle worker, answer back, repeat.
    private func serve(socket: ZMQSocket, worker: WorkerProcess) -> String {
        let input = config.input
        var scaler: FrameScaler?
        var ring: SharedFrameRing?
        var ringCount = 0
        var slot = 0
        var dispatch = DispatchStateMachine(workers: 1, timeout: config.timeoutSeconds)
        var latest: Frame?
        var inFlight: Frame?
        var sent = false
        var dispatchedAt: UInt64 = 0
        _ = dispatch.workerReady(0, now: Self.now())
        var lastAnswerAt = Self.now()
        while !stopping {
            if let code = worker.exitStatus { return "worker exited with status \(code)" }
            // 1. the newest frame, if a new one came
            if let f = frames.poll() {
                latest = f
                for a in dispatch.frameCaptured(seq: f.seq, now: Self.now()) {
                    if case .send = a {
                        inFlight = latest
                        sent = false
                    }
                }
                statusBox.withLock { $0.skippedFrames = dispatch.skipped }
            }
            // 2. send when the machine says so
            if let f = inFlight, !sent {
                do {
                    let w = input.width ?? f.width, h = input.height ?? f.height
                    let fmt: PixelFormat = [.gray8, .rgb24, .bgr24].contains(input.format) ? input.format : .rgb24
                    if scaler == nil || scaler!.outWidth != w || scaler!.outHeight != h {
                        scaler = FrameScaler(width: w, height: h, format: fmt, crop: input.crop)
                        ringCount += 1
                        ring = nil  // unmap and unlink the old slots before making new ones
                        ring = try SharedFrameRing(
                            name: "bedside-\(getpid())-\(config.name)-\(ringCount)", slotSize: scaler!.outputByteCount,
                            slots: 2)
                    }
                    slot = (slot + 1) % 2
                    try scaler!.scale(f, into: ring!.pointer(toSlot: slot))
                    let header: [String: Any] = [
                        "type": "frame", "seq": f.seq, "pts_ns": f.ptsNanos, "width": w, "height": h,
                        "format": fmt.rawValue, "stride": fmt == .gray8 ? w : w * 3, "shm": ring!.path,
                        "offset": ring!.offset(ofSlot: slot), "size": scaler!.outputByteCount,
                    ]
                    let data = try JSONSerialization.data(withJSONObject: header)
                    guard try socket.send([Array(data)]) else { return "worker is not reading its socket" }
                    sent = true
                    dispatchedAt = Clock.monotonicNanos()
                    statusBox.withLock { $0.framesSent += 1 }
                } catch {
                    return "cannot hand the frame to the worker: \(error)"
                }
            }
            // 3. an answer, or wait a little
            let msg: [[UInt8]]?
            do { msg = try socket.receive(timeoutMs: inFlight == nil ? 0 : 20) } catch { return "\(error)" }
            if let msg {
                guard let obj = Self.parse(msg.first), let type = obj["type"] as? String else {
                    return "worker sent a message Bedside cannot read"
                }
                if handleSideMessage(type: type, obj) { continue }
                guard let seqN = obj["seq"] as? NSNumber else {
                    return "worker sent a `\(type)` message without a frame sequence number"
                }
                let seq = seqN.uint64Value
                // Take in any frame captured meanwhile first, so the next dispatch is the newest one.
                if let f = frames.poll() {
                    latest = f
                    _ = dispatch.frameCaptured(seq: f.seq, now: Self.now())
                }
                let now = Self.now()
                let (verdict, next) = dispatch.resultReceived(0, seq: seq, now: now)
                guard case .accepted = verdict, let f = inFlight else {
                    return "worker answered for frame \(seq), which it was not given"
                }
                inFlight = nil
                sent = false
                for case .send(let nextSeq, _) in next where latest?.seq == nextSeq {
                    inFlight = latest
                }
                let received = Clock.monotonicNanos()
                let modelMs = (obj["model_ms"] as? NSNumber)?.doubleValue ?? 0
                let dt = max(1e-3, now - lastAnswerAt)
                lastAnswerAt = now
                if type == "result", let result = obj["result"] as? [String: Any],
                    let rdata = try? JSONSerialization.data(withJSONObject: result)
                {
                    let plane = result["plane"] as? [String: Any]
                    let p = Prediction(
                        model: config.name, seq: seq, ptsNanos: f.ptsNanos, dispatchedNanos: dispatchedAt,
                        receivedNanos: received, modelMs: modelMs, resultJSON: String(decoding: rdata, as: UTF8.self),
                        plane: plane?["name"] as? String, status: plane?["status"] as? String, truth: f.truth)
                    statusBox.withLock { s in
                        s.predictions += 1
                        s.rateHz = s.rateHz == 0 ? 1 / dt : 0.8 * s.rateHz + 0.2 / dt
                        s.latencyMs = s.latencyMs == 0 ? p.roundTripMs : 0.8 * s.latencyMs + 0.2 * p.roundTripMs
                        s.modelMs = s.modelMs == 0 ? modelMs : 0.8 * s.modelMs + 0.2 * modelMs
                    }
                    onPrediction(p)
                } else {
                    let err = obj["error"] as? String ?? "unreadable answer"
                    let fault = obj["fault"] as? String ?? "?"
                    statusBox.withLock {
                        $0.errors += 1
                        $0.lastError = "frame \(seq): \(err) (\(fault))"
                    }
                    logger.warning("model \(config.name) frame \(seq): \(err)", metadata: ["fault": "\(fault)"])
                }
                continue
            }
            // 4. hung?
            for a in dispatch.checkTimeouts(now: Self.now()) {
                if case .hung(_, let seq) = a {
                    worker.killNow()
                    return "no answer for frame \(seq) within \(config.timeoutSeconds) s (timeout_s): worker killed"
                }
            }
            if inFlight == nil { wake.wait(timeoutSeconds: 0.05) }
        }
        return "stopped"
    }

    /// Messages that are not answers to a frame: the researcher's output lines, heartbeats, future additions.
    /// Returns true when the message was one of those.
    private func handleSideMessage(type: String, _ obj: [String: Any]) -> Bool {
        switch type {
        case "result", "error":
            return false
        case "log":
            let stream = obj["stream"] as? String ?? "stdout"
            logger.info("[\(config.name) \(stream)] \(obj["line"] as? String ?? "")")
            return true
        default:
            // heartbeat and anything a newer bridge adds: not an answer, never a reason to restart
            return true
        }
    }

    static func parse(_ bytes: [UInt8]?) -> [String: Any]? {
        guard let bytes else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }
}
