import BedsideCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Records sessions: every frame offered during a session goes to fragmented mp4 files encoded on the
/// recorder's own thread, every prediction logged goes to `predictions.jsonl`, and `session.json` describes it.
///
/// Layout: `<directory>/<yyyyMMdd-HHmmss>/video-000.mp4, video-001.mp4, ...`, `predictions.jsonl`, `session.json`.
/// - Sessions start with the service (`mode: always`) or on `startSession()` (`manual`: the page, the API), and
///   end on `stopSession()` or shutdown. Start/stop markers travel in the frame queue, so every frame offered
///   while a session was open belongs to it, in order.
/// - A new file starts after `segment_s` seconds or `segment_mb` MB; `session.json` lists each file with its
///   start on the session's timeline (`pts_s` in predictions.jsonl counts from the session's first frame).
/// - Below `min_free_mb` free space the current file is finalised and recording pauses (status `paused`, an
///   alert for the page); it resumes in a new file when space returns. Capture, models and the page go on.
/// - Producers never wait: `offer` drops (and counts) a frame when the queue is full.
/// - An encoder error ends the session (status `failed`, the file so far is kept); a new session may start.
public final class Recorder: Service, Sendable {
    private enum Item: Sendable {
        case frame(Frame)
        case start
        case end
    }

    private struct Shared {
        var started = false
        var accepting: Bool
        var originNanos: UInt64?
        var status = RecorderStatus()
        var session: SessionInfo?
        var predictions: PredictionLog?
        var modelVersions: [String: String] = [:]
        var privacy: PrivacyMask
        /// In `always` mode, when a failed session is tried again (monotonic ns); nil when no retry is due.
        var retryAt: UInt64?
    }

    /// How long `always` mode waits before trying a failed recording again (a folder made writable, a disk back).
    public static let retrySeconds: UInt64 = 10

    /// Where session folders are created.
    public let directory: String
    public let sourceDescription: String
    public let nominalFPS: Double
    public let config: RecordingConfig
    private let settings: EncoderSettings
    private let logger: Logger
    private let version: String
    private let models: [String]
    private let configFile: String?
    private let configDigest: String?
    private let queue: BoundedQueue<Item>
    private let shared: Mutex<Shared>
    /// Refuse frames no privacy mask covered (the default for Bedside's own sessions; `privacy.allow_unmasked`).
    private let requireMasks: Bool
    private let shutdownRequested = OneShotEvent()
    private let encoderDone = OneShotEvent()

    /// - Parameters:
    ///   - config: folder, queue length, mode, segment size, disk floor, retention.
    ///   - source: the source's description, for `session.json`.
    ///   - nominalFPS: the source's nominal rate (encoder rate control, keyframe spacing).
    ///   - version: Bedside's version string, for `session.json`.
    ///   - models: the model names, for `session.json`.
    ///   - configFile: the config file the session runs with (its path and SHA-256 go to `session.json`).
    public init(
        config: RecordingConfig, source: String, nominalFPS: Double, version: String, models: [String] = [],
        configFile: String? = nil, logger: Logger = Logger(label: "bedside.recorder"),
        encoder: EncoderSettings = EncoderSettings(), privacy: PrivacyMask = PrivacyMask(), requireMasks: Bool = false
    ) {
        self.config = config
        self.requireMasks = requireMasks
        directory = config.directory
        sourceDescription = source
        self.nominalFPS = nominalFPS
        settings = encoder
        self.logger = logger
        self.version = version
        self.models = models
        self.configFile = configFile
        configDigest = configFile.flatMap { Digest.sha256(file: $0) }
        queue = BoundedQueue(capacity: max(1, config.queueFrames))
        var s = Shared(accepting: false, privacy: privacy)
        s.status.mode = config.mode
        shared = Mutex(s)
        if config.mode == "always" { _ = startSession() }
    }

    /// Same, with the source's description and rate taken from the source.
    public convenience init(
        config: RecordingConfig, source: any FrameSource, version: String, models: [String] = [],
        configFile: String? = nil, logger: Logger = Logger(label: "bedside.recorder"),
        encoder: EncoderSettings = EncoderSettings(), privacy: PrivacyMask = PrivacyMask(), requireMasks: Bool = false
    ) {
        self.init(
            config: config, source: source.description, nominalFPS: source.nominalFPS, version: version,
            models: models, configFile: configFile, logger: logger, encoder: encoder, privacy: privacy,
            requireMasks: requireMasks)
    }

    // MARK: Producers and controls

    /// Queues `frame` for the encoder without waiting, if a session is open; a full queue drops it and counts it.
    public func offer(_ frame: Frame) {
        shared.withLock { s in
            guard s.accepting else { return }
            if queue.push(.frame(frame)) && s.originNanos == nil { s.originNanos = frame.ptsNanos }
        }
    }

    /// Appends `prediction` to the open session's `predictions.jsonl` (a short lock and one `write`).
    public func log(_ prediction: Prediction) {
        let (log, origin) = shared.withLock { ($0.predictions, $0.originNanos) }
        log?.append(PredictionLog.line(for: prediction, originNanos: origin))
    }

    /// Model name -> declared version, for `session.json` (models report it once they are ready).
    public func setModelVersions(_ versions: [String: String]) {
        shared.withLock { $0.modelVersions = versions }
    }

    /// The privacy masks now applied at the capture edge (the region editor changed them): logged in the open
    /// session's `session.json` with the time of the change.
    public func setPrivacy(_ mask: PrivacyMask) {
        shared.withLock { sh in
            sh.privacy = mask
            sh.session?.privacy?.changes.append(Self.maskSet(mask))
        }
    }

    static func maskSet(_ mask: PrivacyMask) -> SessionInfo.MaskSet {
        .init(atWall: SessionInfo.iso8601(BedsideCore.Clock.wallSeconds()), masks: mask.rects, masksBySize: mask.bySize)
    }

    /// Opens a new session (a new folder); false when one is open already or the recorder shut down.
    @discardableResult
    public func startSession() -> Bool {
        shared.withLock { s in
            guard !s.accepting else { return false }
            guard queue.push(.start, force: true) else { return false }
            s.retryAt = nil
            s.accepting = true
            s.originNanos = nil
            s.predictions = PredictionLog()
            return true
        }
    }

    /// Ends the open session: frames already offered are still written, then the files are finalised.
    @discardableResult
    public func stopSession() -> Bool {
        shared.withLock { s in
            if s.retryAt != nil, !s.accepting {  // a failed session waiting for its retry: no retry then
                s.retryAt = nil
                s.status.alert = nil
                return true
            }
            guard s.accepting else { return false }
            s.accepting = false
            queue.push(.end, force: true)
            return true
        }
    }

    /// A snapshot of the recorder's state and counters.
    public var status: RecorderStatus {
        var s = shared.withLock { $0.status }
        s.framesDropped = queue.dropped
        return s
    }

    /// Capture time of the open session's first frame (monotonic ns): `pts_s` 0.
    public var sessionOriginNanos: UInt64? { shared.withLock { $0.originNanos } }

    /// Ends any session and lets `run()` return (as a graceful shutdown does).
    public func stop() {
        shared.withLock {
            $0.accepting = false
            $0.retryAt = nil
        }
        queue.close()
        shutdownRequested.fire()
    }

    // MARK: Service

    /// Encodes on a dedicated thread until cancelled, gracefully shut down or `stop()`ped, then drains the
    /// queue and finishes the files. Never throws: failures are in `status`.
    public func run() async {
        let first = shared.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else {
            logger.warning("recorder already running; second run() ignored")
            return
        }
        let thread = Thread { [self] in
            ThreadName.set("recorder")
            markInterruptedSessions()
            encodeLoop()
            encoderDone.fire()
        }
        thread.name = "bedside-recorder"
        thread.start()
        await withTaskCancellationOrGracefulShutdownHandler {
            await shutdownRequested.wait()
        } onCancelOrGracefulShutdown: { [self] in
            stop()
        }
        await encoderDone.wait()
    }

    /// Sessions a killed Bedside left in state `recording` are marked `interrupted`, once, before recording.
    private func markInterruptedSessions() {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        let marked = SessionInfo.markInterrupted(in: base, now: BedsideCore.Clock.wallSeconds()) { pid in
            pid != getpid() && !ProcessLiveness.isGone(pid)
        }
        for folder in marked {
            logger.warning("a previous Bedside stopped without finishing its session; marked it interrupted (its video plays up to its last fragment)", metadata: ["folder": "\(folder)"])
        }
    }

    // MARK: Encoder thread

    /// One open session, owned by the encoder thread.
    private final class OpenSession {
        let folder: String
        let log: PredictionLog?
        var writer: Mp4Writer?
        var nextSegment = 0
        var paused = false
        /// Set while frames arrive that no privacy mask covers (their size); nothing is written then.
        var unmaskedSize: String?
        var framesWritten: UInt64 = 0
        var bytesBeforeWriter: Int64 = 0
        var lastSessionWrite: UInt64 = 0

        init(folder: String, log: PredictionLog?) {
            self.folder = folder
            self.log = log
        }
    }

    private func encodeLoop() {
        var session: OpenSession?
        var lastDiskCheck: UInt64 = 0
        var lastRetention: UInt64 = 0  // 0: due at once
        loop: while true {
            switch queue.pop(timeoutSeconds: 0.5) {
            case .closed:
                break loop
            case .timedOut:
                break
            case .item(.start):
                if let s = session { finishSession(s) }
                session = openSession()
                lastRetention = 0
            case .item(.end):
                if let s = session { finishSession(s) }
                session = nil
            case .item(.frame(let f)):
                if let s = session, !write(f, to: s) {
                    finishSession(s)
                    session = nil
                }
            }
            let now = Clock.monotonicNanos()
            // Saturating: the marks may be set a moment after `now` was read.
            func since(_ mark: UInt64) -> UInt64 { now > mark ? now - mark : 0 }
            if let s = session, since(lastDiskCheck) >= 1_000_000_000 {
                lastDiskCheck = now
                checkDisk(s)
                if shared.withLock({ $0.status.stateName == "failed" }) {  // a deleted folder that cannot be made again
                    finishSession(s)
                    session = nil
                    continue
                }
                if since(s.lastSessionWrite) >= 10_000_000_000 { writeSession(s) }
            }
            // `always` mode: a failed session is tried again every 10 s in a new folder, until it works.
            if session == nil, let at = shared.withLock({ $0.retryAt }), now >= at {
                let again = shared.withLock { s -> Bool in
                    guard s.retryAt != nil, !s.accepting else { return false }
                    s.retryAt = nil
                    s.accepting = true
                    s.originNanos = nil
                    s.predictions = PredictionLog()
                    return true
                }
                if again {
                    logger.info("trying to record again after the failure")
                    session = openSession()
                    lastRetention = 0
                }
            }
            if config.keepGB != nil, since(lastRetention) >= 60_000_000_000 {
                lastRetention = now
                applyRetention(keeping: session?.folder)
            }
        }
        if let s = session { finishSession(s) }
    }

    /// Creates the session folder, `predictions.jsonl` and the first `session.json`; nil (and `failed`) when it cannot.
    private func openSession() -> OpenSession? {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        let start = BedsideCore.Clock.wallSeconds()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date(timeIntervalSince1970: start))
        do {
            try Self.makeDirectories(base)
            // mkdir(2) of the session folder itself is the existence check: a second session in the same second gets "-2".
            var folder = (base as NSString).appendingPathComponent(stamp)
            var n = 1
            while mkdir(folder, 0o755) != 0 {
                guard errno == EEXIST, n < 100 else {
                    throw RecordingError("cannot create the recording folder \(folder): \(String(cString: strerror(errno)))")
                }
                n += 1
                folder = (base as NSString).appendingPathComponent("\(stamp)-\(n)")
            }
            let log = shared.withLock { $0.predictions }
            try log?.open(path: (folder as NSString).appendingPathComponent("predictions.jsonl"))
            let s = OpenSession(folder: folder, log: log)
            shared.withLock { sh in
                var info = SessionInfo(
                    bedsideVersion: version, source: sourceDescription, startWall: SessionInfo.iso8601(start),
                    startEpoch: start, fps: nominalFPS, models: models)
                info.mode = config.mode
                info.pid = getpid()
                info.configFile = configFile
                info.configSha256 = configDigest
                info.privacy = .init(allowUnmasked: !requireMasks, changes: [Self.maskSet(sh.privacy)])
                sh.session = info
                let mode = sh.status.mode
                let sessions = sh.status.sessions + 1
                let failures = sh.status.failures
                sh.status = RecorderStatus()
                sh.status.mode = mode
                sh.status.sessions = sessions
                sh.status.failures = failures
                sh.status.sessionDirectory = folder
                sh.status.state = .recording
            }
            writeSession(s)
            logger.info("recording session", metadata: ["folder": "\(folder)", "source": "\(sourceDescription)"])
            checkDisk(s)
            return s
        } catch {
            fail("\(error)")
            return nil
        }
    }

    /// `mkdir -p`: creates `path` and its missing parents; the error names the folder and the reason.
    private static func makeDirectories(_ path: String) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw RecordingError("cannot create the recording folder \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes one frame, rotating files as configured; false when the session must end (encoder error).
    private func write(_ frame: Frame, to s: OpenSession) -> Bool {
        if requireMasks && !frame.masked {
            // Never an unmasked frame on disk: the file so far is finalised, and recording waits for masked frames.
            shared.withLock { $0.status.framesSkippedUnmasked += 1 }
            let size = "\(frame.width)x\(frame.height)"
            if s.unmaskedSize != size {
                s.unmaskedSize = size
                try? finishWriter(s)
                let message =
                    "Recording paused: frames of \(size) have no privacy mask, so they would be recorded with the patient banner. Draw the masks for this size on the admin page (or add privacy.masks_by_size.\(size) to the config); recording resumes by itself with masked frames."
                shared.withLock { sh in
                    sh.status.state = .paused(message)
                    sh.status.alert = message
                    sh.session?.pauses.append(.init(atWall: SessionInfo.iso8601(BedsideCore.Clock.wallSeconds()), reason: message))
                }
                writeSession(s)
                logger.error("\(message)")
            }
            return true
        }
        if s.unmaskedSize != nil {
            s.unmaskedSize = nil
            shared.withLock { sh in
                if !s.paused {
                    sh.status.state = .recording
                    sh.status.alert = nil
                }
                if let n = sh.session?.pauses.count, n > 0 {
                    sh.session?.pauses[n - 1].resumedWall = SessionInfo.iso8601(BedsideCore.Clock.wallSeconds())
                }
            }
            writeSession(s)
            logger.info("recording resumed: frames are masked again (\(frame.width)x\(frame.height))")
        }
        if s.paused {
            shared.withLock { $0.status.framesSkippedForDisk += 1 }
            return true
        }
        do {
            if let w = s.writer,
                w.durationSeconds >= config.segmentSeconds || w.bytesWritten >= Int64(config.segmentMB) * 1_048_576
                    || (frame.width > 0 && frame.height > 0
                        && (w.width != max(2, frame.width & ~1) || w.height != max(2, frame.height & ~1)))  // a new input size: a new file
            {
                try finishWriter(s)
            }
            let w: Mp4Writer
            if let writer = s.writer {
                w = writer
            } else {
                w = try openWriter(s, first: frame)
            }
            try w.write(frame)
            s.framesWritten += 1
            let written = s.framesWritten, bytes = s.bytesBeforeWriter + w.bytesWritten
            shared.withLock { sh in
                sh.status.framesWritten = written
                sh.status.bytesWritten = bytes
            }
            return true
        } catch {
            if let free = Self.freeMB(s.folder), free < config.minFreeMB + 16 {
                // The disk filled faster than the once-a-second check: finalise what can be, and wait for space.
                pause(s, freeMB: free)
                return true
            }
            try? finishWriter(s)
            fail("\(error)")
            return false
        }
    }

    private func openWriter(_ s: OpenSession, first frame: Frame) throws -> Mp4Writer {
        let name = String(format: "video-%03d.mp4", s.nextSegment)
        s.nextSegment += 1
        let path = (s.folder as NSString).appendingPathComponent(name)
        let w = try Mp4Writer(path: path, width: frame.width, height: frame.height, fps: nominalFPS, settings: settings)
        s.writer = w
        shared.withLock { sh in
            let origin = sh.originNanos ?? frame.ptsNanos
            let start = Double(Int64(bitPattern: frame.ptsNanos &- origin)) / 1e9
            sh.status.currentFile = path
            sh.status.codec = w.codecName
            sh.status.segments += 1
            sh.session?.width = w.width
            sh.session?.height = w.height
            sh.session?.codec = w.codecName
            let first = sh.session?.firstFramePtsNs ?? origin
            sh.session?.firstFramePtsNs = first
            sh.session?.videoFiles.append(name)
            sh.session?.segments.append(.init(file: name, startS: max(0, start), firstPtsNs: frame.ptsNanos))
        }
        writeSession(s)
        logger.info("encoding", metadata: ["file": "\(path)", "codec": "\(w.codecName)", "size": "\(w.width)x\(w.height)"])
        return w
    }

    /// Finalises the current file (last fragment, trailer) and records its length in `session.json`.
    private func finishWriter(_ s: OpenSession) throws {
        guard let w = s.writer else { return }
        s.writer = nil
        defer {
            s.bytesBeforeWriter += w.bytesWritten
            let frames = w.framesWritten, duration = w.durationSeconds
            shared.withLock { sh in
                if let n = sh.session?.segments.count, n > 0 {
                    sh.session?.segments[n - 1].frames = frames
                    sh.session?.segments[n - 1].durationS = duration
                }
                let end = (sh.session?.segments.last).map { $0.startS + $0.durationS }
                sh.session?.durationS = end
            }
            writeSession(s)
        }
        try w.finish()
    }

    private func finishSession(_ s: OpenSession) {
        do {
            try finishWriter(s)
        } catch {
            if shared.withLock({ $0.status.stateName }) != "failed" { fail("\(error)") }
        }
        s.log?.close()
        shared.withLock { sh in
            let end = BedsideCore.Clock.wallSeconds()
            sh.session?.endEpoch = end
            sh.session?.endWall = SessionInfo.iso8601(end)
            if sh.status.stateName != "failed" { sh.session?.state = "finished" }
            sh.session?.framesSkippedForDisk = sh.status.framesSkippedForDisk
            sh.session?.framesSkippedUnmasked = sh.status.framesSkippedUnmasked
        }
        // session.json says "finished" before the status does: whoever sees `idle` finds the files complete.
        writeSession(s)
        shared.withLock { sh in
            if sh.status.stateName == "recording" || sh.status.stateName == "paused" { sh.status.state = .idle }
        }
        let st = status
        logger.info(
            "recording finished",
            metadata: [
                "folder": "\(s.folder)", "files": "\(st.segments)", "frames": "\(st.framesWritten)",
                "dropped": "\(st.framesDropped)", "bytes": "\(st.bytesWritten)",
            ])
    }

    // MARK: Disk space

    /// Free space of the filesystem holding `path`, in MB (for the unprivileged user: `f_bavail`).
    static func freeMB(_ path: String) -> Int? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int(UInt64(st.f_bavail) * UInt64(st.f_frsize) / 1_048_576)
    }

    private func checkDisk(_ s: OpenSession) {
        if !FileManager.default.fileExists(atPath: s.folder) {
            folderVanished(s)
            return
        }
        guard let free = Self.freeMB(s.folder) else { return }
        shared.withLock { $0.status.freeMB = free }
        if !s.paused && free < config.minFreeMB {
            pause(s, freeMB: free)
        } else if s.paused && free >= config.minFreeMB + max(10, config.minFreeMB / 10) {  // hysteresis
            s.paused = false
            shared.withLock { sh in
                sh.status.state = .recording
                sh.status.alert = nil
                if let n = sh.session?.pauses.count, n > 0 {
                    sh.session?.pauses[n - 1].resumedWall = SessionInfo.iso8601(BedsideCore.Clock.wallSeconds())
                }
            }
            writeSession(s)
            logger.info("recording resumed: disk space is back", metadata: ["free_mb": "\(free)"])
        }
    }

    /// The session folder was deleted while recording (checked once a second): what was in it is gone, but
    /// recording goes on at once in the folder made again, in a new file, and the operator is told.
    private func folderVanished(_ s: OpenSession) {
        try? finishWriter(s)  // into the deleted file: nothing to keep
        let message =
            "The recording folder \(s.folder) was deleted while recording: what it held is lost. Recording goes on in the same folder, made again."
        do {
            try Self.makeDirectories(s.folder)
            try s.log?.open(path: (s.folder as NSString).appendingPathComponent("predictions.jsonl"))
        } catch {
            fail("the recording folder \(s.folder) was deleted and cannot be made again: \(error)")
            return
        }
        shared.withLock { sh in
            sh.status.alert = message
            sh.session?.pauses.append(.init(atWall: SessionInfo.iso8601(BedsideCore.Clock.wallSeconds()), reason: message))
        }
        writeSession(s)
        logger.error("\(message)")
    }

    private func pause(_ s: OpenSession, freeMB free: Int) {
        guard !s.paused else { return }
        s.paused = true
        try? finishWriter(s)
        let message =
            "Recording paused: only \(free) MB free for \(directory) (recording.min_free_mb is \(config.minFreeMB)). The video so far is saved; recording resumes by itself when space is freed."
        shared.withLock { sh in
            sh.status.state = .paused(message)
            sh.status.alert = message
            sh.status.freeMB = free
            sh.session?.pauses.append(.init(atWall: SessionInfo.iso8601(BedsideCore.Clock.wallSeconds()), reason: message))
        }
        writeSession(s)
        logger.error("\(message)")
    }

    /// Deletes the oldest session folders while all of them together take more than `keep_gb`.
    private func applyRetention(keeping current: String?) {
        guard let keepGB = config.keepGB else { return }
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: base) else { return }
        var sessions: [(path: String, bytes: Int64)] = []
        for name in names.sorted() {
            let path = (base as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: path + "/session.json") else { continue }  // only Bedside's own folders
            var bytes: Int64 = 0
            for file in (try? fm.contentsOfDirectory(atPath: path)) ?? [] {
                let size = (try? fm.attributesOfItem(atPath: path + "/" + file)[.size] as? NSNumber)?.int64Value ?? 0
                bytes += size
            }
            sessions.append((path, bytes))
        }
        var total = sessions.reduce(0) { $0 + $1.bytes }
        let limit = Int64(keepGB * 1_073_741_824)
        for s in sessions where total > limit && s.path != current {
            do {
                try fm.removeItem(atPath: s.path)
                total -= s.bytes
                logger.info("retention: deleted the oldest session", metadata: ["folder": "\(s.path)", "keep_gb": "\(keepGB)"])
            } catch {
                logger.warning("retention: cannot delete \(s.path): \(error)")
            }
        }
    }

    // MARK: Failures and session.json

    /// Records a failure: status, log, `session.json` fields; the session stops taking frames.
    private func fail(_ message: String) {
        let always = config.mode == "always"
        shared.withLock { s in
            // Tried again only while recording is wanted: not after an operator's stop whose file failed to close.
            let wanted = s.accepting
            s.accepting = false
            s.status.state = .failed(message)
            s.status.failures += 1
            // The tablets and the admin page show it. In `always` mode it is tried again every 10 s (a disk that
            // comes back, a folder made writable); in `manual` mode nothing is recorded until someone acts.
            if always, wanted, !queue.isClosed {
                s.retryAt = Clock.monotonicNanos() + Self.retrySeconds * 1_000_000_000
                s.status.alert = "Recording stopped: \(message). Bedside tries again every \(Self.retrySeconds) s; fix it (or stop recording on the admin page)."
            } else {
                s.status.alert = "Recording stopped: \(message). Fix it, then start recording again on the admin page."
            }
            s.session?.state = "failed"
            s.session?.error = message
        }
        logger.error("recording stopped", metadata: ["error": "\(message)"])
    }

    /// Rewrites `session.json` with the current counters; a failure to write it is logged, not fatal.
    private func writeSession(_ s: OpenSession) {
        s.lastSessionWrite = Clock.monotonicNanos()
        guard
            var info = shared.withLock({ sh -> SessionInfo? in
                guard var i = sh.session else { return nil }
                i.framesWritten = sh.status.framesWritten
                i.modelVersions = sh.modelVersions
                return i
            })
        else { return }
        info.framesDropped = queue.dropped
        do {
            try info.write(to: (s.folder as NSString).appendingPathComponent("session.json"))
        } catch {
            logger.warning("cannot write session.json", metadata: ["folder": "\(s.folder)", "error": "\(error)"])
        }
    }
}
