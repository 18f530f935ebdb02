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
///
/// The rules (rotation, low disk, the unmasked pause, retries, retention, sessions) are `RecordingStateMachine`'s;
/// this class is its I/O: the queue, the encoder thread, files, `statvfs` and the clock.
public final class Recorder: Service, Sendable {
    private enum Item: Sendable {
        case frame(Frame)
        case start
        case end
    }

    struct Shared {
        var started = false
        var machine: RecordingStateMachine
        var originNanos: UInt64?
        var session: SessionInfo?
        var predictions: PredictionLog?
        var modelVersions: [String: String] = [:]
        var privacy: PrivacyMask
    }

    /// How long `always` mode waits before trying a failed recording again (a folder made writable, a disk back).
    public static let retrySeconds: UInt64 = RecordingStateMachine.retryNanos / 1_000_000_000

    /// Where session folders are created.
    public let directory: String
    public let sourceDescription: String
    public let nominalFPS: Double
    public let config: RecordingConfig
    let settings: EncoderSettings
    let logger: Logger
    let version: String
    let models: [String]
    let configFile: String?
    let configDigest: String?
    private let queue: BoundedQueue<Item>
    let shared: Mutex<Shared>
    /// Refuse frames no privacy mask covered (the default for Bedside's own sessions; `privacy.allow_unmasked`).
    let requireMasks: Bool
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
        let policy = RecordingStateMachine.Policy(
            segmentSeconds: config.segmentSeconds, segmentMB: config.segmentMB, minFreeMB: config.minFreeMB,
            mode: config.mode, requireMasks: requireMasks, retention: config.keepGB != nil,
            directory: config.directory)
        shared = Mutex(Shared(machine: RecordingStateMachine(policy: policy), privacy: privacy))
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
            guard s.machine.accepting else { return }
            if queue.push(.frame(frame)) && s.originNanos == nil { s.originNanos = frame.ptsNanos }
        }
    }

    /// Appends `prediction` to the open session's `predictions.jsonl` (a short lock and one `write`).
    /// `silent`: a model that runs without being shown (`show: false`), marked so in the log.
    public func log(_ prediction: Prediction, silent: Bool = false) {
        let (log, origin) = shared.withLock { ($0.predictions, $0.originNanos) }
        log?.append(PredictionLog.line(for: prediction, originNanos: origin, silent: silent))
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
            guard !queue.isClosed, s.machine.requestStart() else { return false }
            queue.push(.start, force: true)
            s.originNanos = nil
            s.predictions = PredictionLog()
            return true
        }
    }

    /// Ends the open session: frames already offered are still written, then the files are finalised.
    @discardableResult
    public func stopSession() -> Bool {
        shared.withLock { s in
            switch s.machine.requestStop() {
            case .endSession:
                queue.push(.end, force: true)
                return true
            case .cancelledRetry: return true  // a failed session waiting for its retry: no retry then
            case .refused: return false
            }
        }
    }

    /// A snapshot of the recorder's state and counters.
    public var status: RecorderStatus {
        var s = shared.withLock { $0.machine.status }
        s.framesDropped = queue.dropped
        return s
    }

    /// Capture time of the open session's first frame (monotonic ns): `pts_s` 0.
    public var sessionOriginNanos: UInt64? { shared.withLock { $0.originNanos } }

    /// Ends any session and lets `run()` return (as a graceful shutdown does).
    public func stop() {
        shared.withLock { $0.machine.shutdown() }
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
        let marked = SessionInfo.markInterrupted(in: baseDirectory, now: BedsideCore.Clock.wallSeconds()) { pid in
            pid != getpid() && !ProcessLiveness.isGone(pid)
        }
        for folder in marked {
            logger.warning(
                "a previous Bedside stopped without finishing its session; marked it interrupted (its video plays up to its last fragment)",
                metadata: ["folder": "\(folder)"])
        }
    }

    /// `directory`, absolute.
    var baseDirectory: String { URL(fileURLWithPath: directory).standardizedFileURL.path }

    /// Frames dropped by the full queue so far.
    var framesDropped: UInt64 { queue.dropped }

    // MARK: Encoder thread

    /// Pops the queue until it closes, feeding the machine and doing what it says.
    private func encodeLoop() {
        var session: OpenSession?
        loop: while true {
            switch queue.pop(timeoutSeconds: 0.5) {
            case .closed:
                break loop
            case .timedOut:
                break
            case .item(.start):
                perform(machine { $0.sessionBegins() }, &session)
            case .item(.end):
                perform(machine { $0.sessionEnds() }, &session)
            case .item(.frame(let f)):
                let facts = RecordingStateMachine.FrameFacts(ptsNanos: f.ptsNanos, width: f.width, height: f.height, masked: f.masked)
                perform(machine { $0.frame(facts) }, &session, frame: f)
            }
            let now = Clock.monotonicNanos()
            perform(machine { $0.tick(now: now) }, &session)
        }
        perform(machine { $0.drained() }, &session)
    }

    /// Feeds the machine one event under the lock; returns its actions.
    func machine<T>(_ event: (inout RecordingStateMachine) -> T) -> T {
        shared.withLock { event(&$0.machine) }
    }
}
