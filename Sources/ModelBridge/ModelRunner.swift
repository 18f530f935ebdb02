import BedsideCore
import Capture
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs one model: supervises its worker processes (replicas) and hands the newest frame to whichever is idle.
///
/// All blocking I/O (zmq polls, process waits, scaling into shared memory) happens on the runner's own
/// thread; the decisions come from one `SupervisorStateMachine` per replica and one `DispatchStateMachine`.
public final class ModelRunner: Service, Sendable {
    /// A frame offered to the model, with the upstream model's answer for it in a pipeline.
    struct Offered: Sendable {
        var frame: Frame
        var upstream: Prediction?
    }

    public let config: ModelConfig
    let frames: Mailbox<Offered>
    let stopFlag = StopFlag()
    /// Models fed with this one's answers (pipelines).
    let downstream = Mutex<[ModelRunner]>([])
    let statusBox: Mutex<ModelStatus>
    let onPrediction: @Sendable (Prediction) -> Void
    let logger: Logger
    let bridgePath: String?
    let runtimeDirectory: String
    /// Wakes the runner's poll when a frame arrives (or on stop), so dispatch never waits for a poll timeout.
    let frameEvent = WakePipe()
    let lastResultBox = Mutex<Prediction?>(nil)
    /// The model's crop in source pixels (`input.crop`); the admin's region editor changes it live.
    let cropBox: Mutex<CropRect?>
    public var crop: CropRect? { cropBox.withLock { $0 } }

    /// A new crop from the next frame on (nil: the whole frame).
    public func setCrop(_ crop: CropRect?) {
        cropBox.withLock { $0 = crop }
        statusBox.withLock { s in s.crop = crop.map { .init(x: $0.x, y: $0.y, width: $0.width, height: $0.height) } }
        logger.notice("model \(config.name): crop changed to \(crop.map { "\($0.x),\($0.y) \($0.width)x\($0.height)" } ?? "the whole frame")")
    }
    /// The newest answer, whether shown or not (for `bedside check`).
    public var lastPrediction: Prediction? { lastResultBox.withLock { $0 } }

    private static let instances = Atomic<Int>(0)
    /// Distinguishes this runner's sockets and shared memory from an earlier runner's of the same model.
    let instance = ModelRunner.instances.add(1, ordering: .relaxed).newValue

    public init(
        config: ModelConfig, runtimeDirectory: String, bridgePath: String? = nil, logger: Logger,
        onPrediction: @escaping @Sendable (Prediction) -> Void
    ) {
        self.config = config
        self.runtimeDirectory = runtimeDirectory
        self.bridgePath = bridgePath ?? WorkerProcess.locateBridge()
        self.logger = logger
        self.onPrediction = onPrediction
        frames = Mailbox()
        var s = ModelStatus(name: config.name)
        s.silent = !config.show
        s.replicas = config.replicas
        s.upstream = config.upstream
        s.network = config.network
        if let c = config.input.crop { s.crop = .init(x: c.x, y: c.y, width: c.width, height: c.height) }
        statusBox = Mutex(s)
        cropBox = Mutex(config.input.crop)
    }

    /// Offers a captured frame; only the newest offered frame is ever dispatched.
    public func offer(_ frame: Frame) {
        frames.put(Offered(frame: frame, upstream: nil))
        notify()
    }

    /// Pipelines: a frame with the answer an upstream model gave for it.
    public func offer(_ frame: Frame, upstream: Prediction) {
        frames.put(Offered(frame: frame, upstream: upstream))
        notify()
    }

    /// Sends every answer this model shows, with its frame, to `runner` (which has `upstream:` set to this one).
    public func feed(_ runner: ModelRunner) {
        downstream.withLock { $0.append(runner) }
    }

    private func notify() { frameEvent.wake() }

    public var status: ModelStatus { statusBox.withLock { $0 } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await DedicatedThread.run(name: "model-\(config.name)", stop: { self.requestStop() }) { self.loop() }
        } onGracefulShutdown: {
            self.requestStop()
        }
    }

    public func requestStop() {
        stopFlag.set()
        notify()
    }

    var stopping: Bool { stopFlag.isSet }

    static func now() -> Double { Double(Clock.monotonicNanos()) / 1e9 }

    // MARK: - one replica's resources, owned by the runner thread

    final class Replica {
        let index: Int
        var supervisor: SupervisorStateMachine
        var generation = 0
        var socket: ZMQSocket?
        /// A remote worker's connection events (accepted, authenticated, refused, dropped), for the log and status.
        var monitor: ZMQSocket?
        /// The remote socket's connections by descriptor (the value of ACCEPTED and DISCONNECTED): accepted with
        /// the handshake not yet decided (oldest first), and authenticated. A refused stranger's connection is
        /// disconnected too; only the loss of an authenticated one is the worker going away. libzmq's handshake
        /// events carry no descriptor: the newest undecided connection is taken to be the one that succeeded (a
        /// stranger that stalls its handshake stays the oldest until ZeroMQ's handshake timeout drops it).
        var undecided: [UInt32] = []
        var authenticated: Set<UInt32> = []
        var endpointPath: String?
        /// The folder of the worker's socket (one per start), removed with the socket.
        var socketFolder: String?
        /// The folder in /dev/shm for this replica's frame rings: `bedside-<pid>-...` so that a later Bedside can
        /// tell the leftovers of a killed one.
        let ringFolderName: String
        var worker: WorkerProcess?
        var sawHello = false
        var scaler: FrameScaler?
        var ring: SharedFrameRing?
        var ringCount = 0
        var slot = 0
        var inFlight: Frame?
        var inFlightUpstream: Prediction?
        /// The crop `inFlight` was cut with.
        var inFlightCrop: CropRect?
        /// When the last message of any kind came from this worker (monotonic seconds).
        var lastHeard = 0.0
        var lastMemoryCheck = 0.0
        var dispatchedAt: UInt64 = 0
        var pixels: [UInt8] = []

        init(index: Int, supervisor: SupervisorStateMachine, ringFolderName: String) {
            self.index = index
            self.supervisor = supervisor
            self.ringFolderName = ringFolderName
        }

        deinit {
            ring = nil  // unlinks the ring file first
            rmdir("/dev/shm/\(ringFolderName)")
        }
    }

    // MARK: - the loop

    private func loop() {
        let replicas = (0..<max(1, config.replicas)).map {
            Replica(
                index: $0, supervisor: SupervisorStateMachine(startupTimeout: config.startupTimeoutSeconds),
                ringFolderName: "bedside-\(getpid())-\(config.name)-\(instance)-\($0)")
        }
        var dispatch = DispatchStateMachine(workers: replicas.count, timeout: config.timeoutSeconds)
        var freeze = config.trigger == "freeze" ? FreezeDetector(stillSeconds: config.freezeSeconds) : nil
        var latest: Frame?
        var latestUpstream: Prediction?
        var retriedSeq: UInt64?
        var lastShownSeq: UInt64?
        var rate = AnswerRate()

        func fail(_ r: Replica, _ reason: String) {
            let lost = r.inFlight
            teardown(r, graceful: false)
            dispatch.workerLost(r.index)
            if freeze != nil, let lost, lost.seq == latest?.seq, retriedSeq != lost.seq {
                // A frozen image is inferred once: if the worker died on it, the restarted worker gets it again
                // (once: a frame that kills the model every time must not become a crash loop).
                retriedSeq = lost.seq
                _ = dispatch.frameCaptured(seq: lost.seq, now: Self.now())
            }
            _ = r.supervisor.workerFailed(now: Self.now(), reason: reason)
            let tail = r.worker?.stderrTail.all ?? []
            logger.warning("model \(config.name)[\(r.index)] stopped: \(reason)", metadata: ["restarts": "\(r.supervisor.restarts)"])
            statusBox.withLock {
                $0.lastError = reason
                if !tail.isEmpty { $0.stderrTail = tail }
            }
            r.worker = nil
        }

        let remote = config.remoteBind
        func spawn(_ r: Replica) {
            r.generation += 1
            r.sawHello = false
            r.inFlight = nil
            r.inFlightUpstream = nil
            r.lastHeard = Self.now()
            if let remote {
                // No process to start: bind and wait for the remote worker to connect and say hello.
                do {
                    let keys = config.remoteKeys ?? "."
                    let secret = try CurveKeys.lines(ofFile: keys + "/server.key")
                    try CurveAuthenticator.shared.allow(try CurveKeys.lines(ofFile: keys + "/authorized_workers"))
                    let socket = try ZMQSocket(.dealer)
                    try socket.makeCurveServer(secretKey: secret.first ?? "")
                    r.monitor = try socket.monitor(events: ZMQSocket.MonitorEvent.peerEvents)
                    try socket.bind(remote)
                    r.socket = socket
                    logger.info("model \(config.name): listening for its remote worker on \(remote)")
                    statusBox.withLock { $0.lastError = $0.lastError ?? "waiting for the remote worker to connect to \(remote)" }
                } catch {
                    fail(r, "cannot listen for the remote worker on \(remote): \(error)")
                }
                return
            }
            // Unique per runner too: a runner of the same name started while an old one still tears down (its
            // unlink) must not lose its socket file. Each worker's socket and frame ring sit in folders of their
            // own, so that a sandboxed worker is shown only those two and never another model's.
            let socketFolder = "\(runtimeDirectory)/\(config.name)-\(instance)-\(r.index)-\(r.generation)"
            let path = "\(socketFolder)/worker.sock"
            let ringFolder = "/dev/shm/\(r.ringFolderName)"
            do {
                for folder in [socketFolder, ringFolder] where mkdir(folder, 0o700) != 0 && errno != EEXIST {
                    throw SystemError(call: "mkdir(\(folder))", errno: errno)
                }
                r.socketFolder = socketFolder
                let socket = try ZMQSocket(.dealer)
                try socket.bind("ipc://\(path)")
                r.socket = socket
                r.endpointPath = path
                r.worker = try WorkerProcess(
                    config: config, endpoint: "ipc://\(path)", runtimeDirectory: runtimeDirectory,
                    privateFolders: [socketFolder, ringFolder], bridgePath: bridgePath, logger: logger)
            } catch {
                fail(r, "\(error)")
            }
        }

        func send(_ r: Replica, _ f: Frame, upstream: Prediction?) {
            guard let socket = r.socket else { return }
            let input = config.input
            do {
                let crop = cropBox.withLock { $0 }
                // Without a size in `input`, the model gets the crop's pixels as they are (not stretched to the
                // whole frame's size): the crop's size, within the frame.
                let cut = FrameScaler.clamp(crop, width: f.width, height: f.height)
                let w = input.width ?? cut.width, h = input.height ?? cut.height
                let fmt: PixelFormat = [.gray8, .rgb24, .bgr24].contains(input.format) ? input.format : .rgb24
                if r.scaler == nil || r.scaler!.outWidth != w || r.scaler!.outHeight != h {
                    r.scaler = FrameScaler(width: w, height: h, format: fmt, crop: crop)
                    r.ringCount += 1
                    r.ring = nil  // unmap and unlink the old slots before making new ones
                    if remote == nil {
                        r.ring = try SharedFrameRing(
                            name: "\(r.ringFolderName)/ring-\(r.ringCount)",
                            slotSize: r.scaler!.outputByteCount, slots: 2)
                    }
                } else if r.scaler!.crop != crop {
                    r.scaler = FrameScaler(width: w, height: h, format: fmt, crop: crop)  // same size: the slots stay
                }
                var header = BedsideMessage.FrameMessage(
                    protocol: Self.protocolVersion, seq: f.seq, ptsNs: f.ptsNanos, width: w, height: h, format: fmt.rawValue,
                    stride: fmt == .gray8 ? w : w * 3, size: r.scaler!.outputByteCount, shm: nil, offset: 0,
                    upstream: upstream.map { .init(model: $0.model, seq: $0.seq, result: RawJSON($0.resultJSON)) })
                var parts: [[UInt8]]
                if remote != nil {
                    // A remote worker cannot see this machine's shared memory: the pixels go in the message.
                    if r.pixels.count != r.scaler!.outputByteCount { r.pixels = [UInt8](repeating: 0, count: r.scaler!.outputByteCount) }
                    try r.pixels.withUnsafeMutableBytes { try r.scaler!.scale(f, into: $0.baseAddress!) }
                    parts = [BedsideMessage.frame(header).bytes, r.pixels]
                } else {
                    r.slot = (r.slot + 1) % 2
                    try r.scaler!.scale(f, into: r.ring!.pointer(toSlot: r.slot))
                    header.shm = r.ring!.path
                    header.offset = r.ring!.offset(ofSlot: r.slot)
                    parts = [BedsideMessage.frame(header).bytes]
                }
                let sentAt = Clock.monotonicNanos()  // before the send: the worker may read it before send returns
                guard try socket.send(parts) else { return fail(r, "worker is not reading its socket") }
                r.inFlight = f
                r.inFlightUpstream = upstream
                r.inFlightCrop = crop
                r.dispatchedAt = sentAt
                statusBox.withLock { $0.framesSent += 1 }
            } catch {
                fail(r, "cannot hand the frame to the worker: \(error)")
            }
        }

        func perform(_ actions: [DispatchStateMachine.Action]) {
            for a in actions {
                switch a {
                case .send(let seq, let w):
                    if let f = latest, f.seq == seq { send(replicas[w], f, upstream: latestUpstream) }
                case .hung(let w, let seq):
                    fail(replicas[w], "no answer for frame \(seq) within \(config.timeoutSeconds) s (timeout_s): worker killed")
                }
            }
        }

        let thumbnailer = FrameScaler(width: 32, height: 18, format: .gray8, crop: config.input.crop)
        func takeNewestFrame() {
            if let o = frames.poll() {
                let f = o.frame
                if freeze != nil {
                    guard let thumb = try? thumbnailer.scale(f),
                        freeze!.observe(thumbnail: thumb.pixels, at: Double(f.ptsNanos) / 1e9)
                    else { return }
                    logger.info("model \(config.name): the image froze; inferring frame \(f.seq)")
                }
                latest = f
                latestUpstream = o.upstream
                perform(dispatch.frameCaptured(seq: f.seq, now: Self.now()))
                statusBox.withLock { $0.skippedFrames = dispatch.skipped }
            }
        }

        func handle(_ r: Replica, _ message: WorkerMessage) {
            switch message {
            case .hello(let hello):
                guard hello.protocol == Self.protocolVersion else {
                    return fail(
                        r,
                        "worker speaks bridge protocol \(hello.protocol), this Bedside speaks \(Self.protocolVersion): install the bridge that comes with this Bedside into the model's environment (pip install <bedside>/bridge)"
                    )
                }
                r.sawHello = true
                _ = r.supervisor.workerHello(now: Self.now())
            case .ready(let ready):
                guard r.sawHello else { return fail(r, "worker said ready before hello") }
                _ = r.supervisor.workerReady(now: Self.now())
                statusBox.withLock {
                    $0.setupMs = ready.setupMs
                    $0.info = ready.model ?? ModelStatus.Info()
                }
                if remote != nil { statusBox.withLock { $0.lastError = nil } }
                logger.info(
                    "model \(config.name)[\(r.index)] ready",
                    metadata: ["pid": "\(r.worker?.pid ?? 0)", "setup_ms": "\(ready.setupMs.map { "\($0)" } ?? "?")"])
                takeNewestFrame()
                perform(dispatch.workerReady(r.index, now: Self.now()))
            case .fatal(let fatal):
                if !fatal.traceback.isEmpty { logger.error("model \(config.name) \(fatal.stage) traceback:\n\(fatal.traceback)") }
                fail(r, "\(fatal.stage) failed: \(fatal.error)")
            case .result(let answer), .error(let answer):
                let type = if case .result = message { "result" } else { "error" }
                guard let seq = answer.seq else {
                    return fail(r, "worker sent a `\(type)` message without a frame sequence number")
                }
                // Take in any frame captured meanwhile first, so the next dispatch is the newest one.
                takeNewestFrame()
                let now = Self.now()
                let (verdict, next) = dispatch.resultReceived(r.index, seq: seq, now: now)
                guard case .accepted = verdict, let f = r.inFlight else {
                    // A remote worker may answer a frame sent before a reconnect: late, not wrong. Ignore it.
                    if remote != nil { return }
                    return fail(r, "worker answered for frame \(seq), which it was not given")
                }
                let upstream = r.inFlightUpstream
                r.inFlight = nil
                r.inFlightUpstream = nil
                let received = Clock.monotonicNanos()
                if case .result = message, let result = answer.result {
                    rate.record(at: now)
                    let plane = result.value?["plane"]
                    var p = Prediction(
                        model: config.name, seq: seq, ptsNanos: f.ptsNanos, dispatchedNanos: r.dispatchedAt,
                        receivedNanos: received, modelMs: answer.modelMs, resultJSON: result.text,
                        plane: plane?["name"]?.stringValue, status: plane?["status"]?.stringValue, truth: f.truth)
                    p.upstreamModel = upstream?.model
                    p.crop = r.inFlightCrop
                    if var times = answer.times {
                        times.sameClock = remote == nil
                        p.worker = times
                    }
                    // Time never goes backwards on the page: an answer older than one already shown is dropped.
                    let inOrder = lastShownSeq.map { seq > $0 } ?? true
                    statusBox.withLock { s in
                        s.predictions += 1
                        if !inOrder { s.lateResults += 1 }
                        s.rateHz = rate.perSecond(at: now)
                        s.intervalMs = (rate.usualInterval(at: now) ?? 0) * 1000
                        s.failingAnswers = 0
                        s.lastErrorFix = nil
                        s.latencyMs = s.latencyMs == 0 ? p.roundTripMs : 0.8 * s.latencyMs + 0.2 * p.roundTripMs
                        s.modelMs = s.modelMs == 0 ? answer.modelMs : 0.8 * s.modelMs + 0.2 * answer.modelMs
                    }
                    lastResultBox.withLock { $0 = p }
                    if inOrder {
                        lastShownSeq = seq
                        onPrediction(p)
                        for d in downstream.withLock({ $0 }) { d.offer(f, upstream: p) }
                    }
                } else {
                    let err = answer.error ?? "unreadable answer"
                    let fault = answer.fault ?? "?"
                    statusBox.withLock {
                        $0.errors += 1
                        $0.failingAnswers += 1
                        $0.lastError = "frame \(seq): \(err) (\(fault))"
                        $0.lastErrorFix = ModelStatus.answerFix(fault: fault)
                    }
                    logger.warning("model \(config.name) frame \(seq): \(err)", metadata: ["fault": "\(fault)"])
                }
                perform(next)
            case .network(let attempts):
                // The research code tried the network (denied at once under `network: deny`): logged and shown.
                for attempt in attempts {
                    let isNew = statusBox.withLock { s -> Bool in
                        if let i = s.networkAttempts.firstIndex(where: { $0.key == attempt.key }) {
                            s.networkAttempts[i] = attempt
                            return false
                        }
                        if s.networkAttempts.count >= Self.maxNetworkAttempts { s.networkAttempts.removeFirst() }
                        s.networkAttempts.append(attempt)
                        return true
                    }
                    if isNew {
                        let target = attempt.url ?? "\(attempt.host)\(attempt.port.map { ":\($0)" } ?? "")"
                        logger.warning(
                            "model \(config.name) tried the network: \(target) from \(attempt.location ?? "?") (\(attempt.denied ? "denied: network is deny; `bedside prepare` fetches downloads once" : "allowed"))"
                        )
                    }
                }
            case .log(let stream, let line):
                logger.info("[\(config.name) \(stream)] \(line)")
            case .heartbeat, .other:
                break  // not an answer, never a reason to restart
            }
        }

        /// What happened to a remote worker's connections: logged, and a refused key shows in status. A peer
        /// that retries a failing handshake is logged once per 10 s, not at every retry.
        var lastHandshakeWarning = -1e9
        var quietHandshakes = 0
        func connectionEvents(_ r: Replica) {
            while let m = r.monitor, let parts = try? m.receive(timeoutMs: 0), let e = ZMQSocket.MonitorEvent(parts) {
                switch e.event {
                case ZMQSocket.MonitorEvent.accepted:
                    // The handshake's outcome is what is logged (a retrying stranger would flood the log).
                    r.undecided.append(e.value)
                    if r.undecided.count > 64 { r.undecided.removeFirst(r.undecided.count - 64) }
                case ZMQSocket.MonitorEvent.handshakeSucceeded:
                    if !r.undecided.isEmpty { r.authenticated.insert(r.undecided.removeLast()) }
                    logger.info("model \(config.name): remote worker authenticated on \(e.endpoint)")
                case ZMQSocket.MonitorEvent.handshakeFailedAuth:
                    logger.warning(
                        "model \(config.name): refused a worker on \(e.endpoint): its key is not in \(config.remoteKeys ?? ".")/authorized_workers (status \(e.value))"
                    )
                    statusBox.withLock {
                        $0.refusedWorkers += 1
                        $0.lastError =
                            "waiting for the remote worker to connect to \(remote ?? ""); refused \($0.refusedWorkers) connection(s) with a key not in authorized_workers"
                    }
                case ZMQSocket.MonitorEvent.handshakeFailedProtocol, ZMQSocket.MonitorEvent.handshakeFailedNoDetail:
                    guard Self.now() - lastHandshakeWarning >= 10 else {
                        quietHandshakes += 1
                        continue
                    }
                    lastHandshakeWarning = Self.now()
                    if quietHandshakes > 0 { logger.warning("model \(config.name): \(quietHandshakes) more failed handshakes in the last 10 s") }
                    quietHandshakes = 0
                    logger.warning(
                        "model \(config.name): a worker's handshake on \(e.endpoint) failed (ZeroMQ event \(e.event), value \(e.value)): is it a Bedside bridge with --server-key set to this Bedside's server.pub?"
                    )
                case ZMQSocket.MonitorEvent.disconnected:
                    r.undecided.removeAll { $0 == e.value }
                    guard r.authenticated.remove(e.value) != nil else { continue }  // a refused or unfinished one
                    // Gone (killed, unplugged, rebooted): noticed now, not at timeout_s or the 10 s heartbeat. The
                    // frame it had is given up, and Bedside listens again for the worker to come back.
                    let had = r.inFlight.map { " while it had frame \($0.seq)" } ?? ""
                    logger.warning("model \(config.name): the remote worker's connection on \(e.endpoint) closed\(had)")
                    fail(r, "the remote worker disconnected\(had); waiting for it to connect again to \(remote ?? "")")
                    return
                default: break
                }
            }
        }

        for r in replicas where r.supervisor.start(now: Self.now()) == .spawn { spawn(r) }
        while !stopping {
            let now = Self.now()
            for r in replicas {
                switch r.supervisor.tick(now: now) {
                case .spawn:
                    _ = frames.poll()  // frames captured during a backoff are old now
                    spawn(r)
                case .kill(let reason): fail(r, reason)
                default: break
                }
            }
            takeNewestFrame()
            for r in replicas where r.monitor != nil { connectionEvents(r) }
            let live = replicas.filter { $0.socket != nil && ($0.worker != nil || remote != nil) }
            var any = false
            if let ready = try? ZMQSocket.poll(live.map { $0.socket! }, alsoFD: frameEvent.readFD, timeoutMs: 50) {
                if ready.last == true { frameEvent.drain() }
                for (r, isReady) in zip(live, ready) where isReady {
                    while r.socket != nil, let msg = try? r.socket?.receive(timeoutMs: 0) {
                        any = true
                        r.lastHeard = Self.now()
                        let bytes = msg.reduce(0) { $0 + $1.count }
                        if bytes > Self.maxResultBytes, let f = r.inFlight {
                            // Not even parsed: a huge answer would cost seconds and hundreds of MB (and would flood
                            // every tablet and the predictions log). Refused as the model's fault; the worker stays.
                            handle(
                                r,
                                .error(
                                    .init(
                                        seq: f.seq, modelMs: 0,
                                        error:
                                            "result too large (\(bytes / 1_000_000) MB > \(Self.maxResultBytes / 1_000_000) MB): return labels as a small uint8 map and no images",
                                        fault: "result")))
                            continue
                        }
                        guard let first = msg.first, let message = try? WorkerMessage.decode(first) else {
                            fail(r, "worker sent a message Bedside cannot read")
                            break
                        }
                        handle(r, message)
                    }
                }
            } else {
                usleep(50_000)
            }
            // Exits are checked after the socket was read, so a `fatal` sent just before exiting is not lost.
            for r in replicas {
                if let w = r.worker, let code = w.exitStatus {
                    fail(
                        r,
                        r.sawHello
                            ? "worker exited with status \(code)"
                            : "worker exited with status \(code) before the bridge started: does \(config.python) have the bridge's packages (pyzmq, numpy)? Install them with `\(config.python) -m pip install -e bridge` (the worker's stderr says more)"
                    )
                }
            }
            if !any { perform(dispatch.checkTimeouts(now: Self.now())) }
            let t = Self.now()
            for r in replicas where r.socket != nil && r.inFlight == nil && r.supervisor.isRunning {
                // An idle worker says so once a second; silence means it is stopped, or a remote one is gone.
                if t - r.lastHeard > Self.heartbeatTimeout {
                    fail(r, "no heartbeat for \(Int(Self.heartbeatTimeout)) s from an idle worker: it is stopped or disconnected")
                }
            }
            for r in replicas where r.worker != nil && t - r.lastMemoryCheck >= 1 {
                r.lastMemoryCheck = t
                guard let w = r.worker, let mb = ProcessMemory.residentMB(group: w.pid) else { continue }
                if r.index == 0 { statusBox.withLock { $0.memoryMB = mb } }
                if mb > config.maxMemoryMB {
                    fail(r, "worker uses \(mb) MB, more than max_memory_mb (\(config.maxMemoryMB) MB): restarted (a leak in the research code?)")
                }
            }
            let rateNow = rate.perSecond(at: t)
            statusBox.withLock { $0.rateHz = rateNow }  // decays while no answer comes
            updateStatus(replicas)
        }
        for r in replicas {
            r.supervisor.stop()
            teardown(r, graceful: true)
        }
        updateStatus(replicas)
    }

    private func teardown(_ r: Replica, graceful: Bool) {
        if let w = r.worker {
            if graceful {
                _ = try? r.socket?.send([BedsideMessage.shutdown.bytes])
                w.stop(grace: 2)
            } else {
                w.killNow()
            }
        }
        if let path = r.endpointPath {
            r.socket?.unbind("ipc://\(path)")
            unlink(path)
        }
        if let folder = r.socketFolder { rmdir(folder) }
        r.socketFolder = nil
        if let remote = config.remoteBind { r.socket?.unbind(remote) }
        r.socket?.stopMonitor()
        r.monitor = nil
        r.undecided = []
        r.authenticated = []
        r.socket = nil
        r.endpointPath = nil
        r.inFlight = nil
        r.ring = nil
        r.scaler = nil
    }

    /// The model's state is the best of its replicas': running if any runs.
    private func updateStatus(_ replicas: [Replica]) {
        let states = replicas.map { $0.supervisor.modelState }
        statusBox.withLock {
            $0.state = states.min() ?? .stopped
            $0.restarts = replicas.map(\.supervisor.restarts).reduce(0, +)
            $0.replicasReady = states.filter(\.isRunning).count
            $0.pid = replicas.first?.worker?.pid
        }
    }

    /// The bridge protocol this Bedside speaks (docs/protocol.md).
    static let protocolVersion = 1
    /// An idle worker sends a heartbeat every second; this long without any message and it is considered gone.
    static let heartbeatTimeout = 10.0
    /// Distinct network attempts kept in status (the oldest go first).
    static let maxNetworkAttempts = 50

    /// Largest result accepted from a model, in bytes of JSON.
    static let maxResultBytes = 4_000_000
}
