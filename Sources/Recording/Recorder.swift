import BedsideCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Records a session: every frame offered goes to an mp4 encoded on the recorder's own thread, every
/// prediction logged goes to `predictions.jsonl`, and `session.json` describes the session.
///
/// Layout: `<directory>/<yyyyMMdd-HHmmss>/video-000.mp4`, `predictions.jsonl`, `session.json`.
/// Producers never wait: `offer` drops (and counts) a frame when the queue is full. An encoder or disk error
/// stops the recording and shows in `status` and the log; the service keeps running until shutdown.
/// On cancellation or graceful shutdown, `run()` drains the queue, finishes the file and writes `session.json`.
public final class Recorder: Service, Sendable {
    private struct Shared {
        var started = false
        var accepting = true
        var originNanos: UInt64?
        var status = RecorderStatus()
        var session: SessionInfo
    }

    /// Where session folders are created.
    public let directory: String
    public let sourceDescription: String
    public let nominalFPS: Double
    private let settings: EncoderSettings
    private let logger: Logger
    private let queue: BoundedQueue<Frame>
    private let shared: Mutex<Shared>
    private let predictions = PredictionLog()
    private let stopRequested = OneShotEvent()
    private let encoderDone = OneShotEvent()

    /// - Parameters:
    ///   - config: the folder (`directory`) and the queue length (`queueFrames`).
    ///   - source: the source's description, for `session.json`.
    ///   - nominalFPS: the source's nominal rate (encoder rate control, keyframe spacing).
    ///   - version: Bedside's version string, for `session.json`.
    ///   - models: the model names, for `session.json`.
    public init(
        config: RecordingConfig, source: String, nominalFPS: Double, version: String, models: [String] = [],
        logger: Logger = Logger(label: "bedside.recorder"), encoder: EncoderSettings = EncoderSettings()
    ) {
        directory = config.directory
        sourceDescription = source
        self.nominalFPS = nominalFPS
        settings = encoder
        self.logger = logger
        queue = BoundedQueue(capacity: max(1, config.queueFrames))
        let now = BedsideCore.Clock.wallSeconds()
        shared = Mutex(
            Shared(
                session: SessionInfo(
                    bedsideVersion: version, source: source, startWall: SessionInfo.iso8601(now), startEpoch: now,
                    fps: nominalFPS, models: models)))
    }

    /// Same, with the source's description and rate taken from the source.
    public convenience init(
        config: RecordingConfig, source: any FrameSource, version: String, models: [String] = [],
        logger: Logger = Logger(label: "bedside.recorder"), encoder: EncoderSettings = EncoderSettings()
    ) {
        self.init(
            config: config, source: source.description, nominalFPS: source.nominalFPS, version: version,
            models: models, logger: logger, encoder: encoder)
    }

    // MARK: Producers

    /// Queues `frame` for the encoder without waiting; a full queue drops it and counts the drop.
    /// Frames offered before `run()` starts wait in the queue; after `stop()` or a failure they are ignored.
    public func offer(_ frame: Frame) {
        shared.withLock { s in
            guard s.accepting else { return }
            if queue.push(frame) && s.originNanos == nil { s.originNanos = frame.ptsNanos }
        }
    }

    /// Appends `prediction` to `predictions.jsonl` (a short lock and one `write`).
    public func log(_ prediction: Prediction) {
        let origin = shared.withLock { $0.originNanos }
        predictions.append(PredictionLog.line(for: prediction, originNanos: origin))
    }

    /// A snapshot of the recorder's state and counters.
    public var status: RecorderStatus {
        var s = shared.withLock { $0.status }
        s.framesDropped = queue.dropped
        return s
    }

    /// Stops accepting frames and lets `run()` finish the file and return (as a graceful shutdown does).
    public func stop() {
        shared.withLock { $0.accepting = false }
        queue.close()
        stopRequested.fire()
    }

    // MARK: Service

    /// Opens the session folder, encodes on a dedicated thread until cancelled, gracefully shut down or
    /// `stop()`ped, then drains the queue and finishes the files. Never throws: failures are in `status`.
    public func run() async {
        let first = shared.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else {
            logger.warning("recorder already running; second run() ignored")
            return
        }
        do {
            let folder = try openSession()
            let thread = Thread { [self] in
                encodeLoop(folder: folder)
            }
            thread.name = "bedside-recorder"
            thread.start()
        } catch {
            fail("\(error)")
            encoderDone.fire()
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await stopRequested.wait()
        } onCancelOrGracefulShutdown: { [self] in
            stop()
        }
        await encoderDone.wait()
        predictions.close()
    }

    // MARK: Encoder thread

    /// Creates the session folder, `predictions.jsonl` and the first `session.json`; returns the folder.
    private func openSession() throws -> String {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        let start = BedsideCore.Clock.wallSeconds()
        shared.withLock { s in
            s.session.startEpoch = start
            s.session.startWall = SessionInfo.iso8601(start)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date(timeIntervalSince1970: start))
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
        try predictions.open(path: (folder as NSString).appendingPathComponent("predictions.jsonl"))
        shared.withLock { s in
            s.status.sessionDirectory = folder
            s.status.state = .recording
        }
        writeSession(folder: folder)
        logger.info("recording session", metadata: ["folder": "\(folder)", "source": "\(sourceDescription)"])
        return folder
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

    /// The recorder thread: pops frames until the queue is closed and drained, then finishes the file.
    private func encodeLoop(folder: String) {
        let segmentIndex = 0
        let name = String(format: "video-%03d.mp4", segmentIndex)
        let path = (folder as NSString).appendingPathComponent(name)
        var writer: Mp4Writer?
        var failed = false
        while let frame = queue.pop() {
            if failed { continue }
            do {
                let w: Mp4Writer
                if let writer {
                    w = writer
                } else {
                    w = try Mp4Writer(path: path, width: frame.width, height: frame.height, fps: nominalFPS, settings: settings)
                    writer = w
                    shared.withLock { s in
                        s.status.currentFile = path
                        s.status.codec = w.codecName
                        s.session.width = w.width
                        s.session.height = w.height
                        s.session.codec = w.codecName
                        s.session.videoFiles = [name]
                    }
                    writeSession(folder: folder)
                    logger.info("encoding", metadata: ["file": "\(path)", "codec": "\(w.codecName)", "size": "\(w.width)x\(w.height)"])
                }
                try w.write(frame)
                let written = w.framesWritten, bytes = w.bytesWritten
                shared.withLock { s in
                    s.status.framesWritten = written
                    s.status.bytesWritten = bytes
                }
            } catch {
                failed = true
                fail("\(error)")
            }
        }
        if let w = writer {
            do {
                try w.finish()
            } catch {
                if !failed { fail("\(error)") }
            }
            let bytes = w.bytesWritten, duration = w.durationSeconds, origin = w.originNanos
            shared.withLock { s in
                s.status.bytesWritten = bytes
                s.session.durationS = duration
                s.session.firstFramePtsNs = origin
            }
        }
        shared.withLock { s in
            if s.status.state == .recording { s.status.state = .idle }
            let end = BedsideCore.Clock.wallSeconds()
            s.session.endEpoch = end
            s.session.endWall = SessionInfo.iso8601(end)
            if case .failed = s.status.state {} else { s.session.state = "finished" }
        }
        writeSession(folder: folder)
        let st = status
        logger.info(
            "recording finished",
            metadata: [
                "file": "\(path)", "frames": "\(st.framesWritten)", "dropped": "\(st.framesDropped)", "bytes": "\(st.bytesWritten)",
            ])
        encoderDone.fire()
    }

    /// Records a failure: status, log, `session.json` fields; stops taking frames.
    private func fail(_ message: String) {
        shared.withLock { s in
            s.accepting = false
            s.status.state = .failed(message)
            s.session.state = "failed"
            s.session.error = message
        }
        queue.close()
        logger.error("recording stopped", metadata: ["error": "\(message)"])
    }

    /// Rewrites `session.json` with the current counters; a failure to write it is logged, not fatal.
    private func writeSession(folder: String) {
        var info = shared.withLock { s -> SessionInfo in
            var i = s.session
            i.framesWritten = s.status.framesWritten
            return i
        }
        info.framesDropped = queue.dropped
        do {
            try info.write(to: (folder as NSString).appendingPathComponent("session.json"))
        } catch {
            logger.warning("cannot write session.json", metadata: ["folder": "\(folder)", "error": "\(error)"])
        }
    }
}
