/// Decides what the recorder does: pure, no files, no encoder, no clock (`now` is monotonic ns, passed in).
///
/// Fed events in the order the recorder sees them (controls from any thread under the recorder's lock; frames,
/// markers, disk readings and I/O results on its encoder thread), it returns the I/O to do, in order. It owns:
/// - sessions: `requestStart`/`requestStop` say whether to queue a marker; `sessionBegins`/`sessionEnds` are
///   those markers reaching the encoder, so every frame offered while a session was open belongs to it;
/// - segment rotation: a new file after `segment_s` seconds, `segment_mb` MB, or a new frame size;
/// - low disk: below `min_free_mb` the file is closed and frames are skipped; recording resumes only at
///   `min_free_mb + max(10, min_free_mb / 10)` (hysteresis: no flapping around the threshold);
/// - the unmasked pause: with masks required, frames no privacy mask covered are never written;
/// - failures: a failed session ends; in `always` mode it is tried again every `retrySeconds` in a new folder;
/// - a deleted session folder (made again, recording goes on in a new file); retention once a minute.
public struct RecordingStateMachine: Sendable, Equatable {
    /// The rules, from the config.
    public struct Policy: Sendable, Equatable {
        public var segmentSeconds: Double
        public var segmentBytes: Int64
        public var minFreeMB: Int
        /// `always` (sessions start with Bedside, failures are tried again) or `manual`.
        public var mode: String
        /// Refuse frames no privacy mask covered (`privacy.allow_unmasked` off).
        public var requireMasks: Bool
        /// Retention (`keep_gb`) is on.
        public var retention: Bool
        /// Where sessions go, for the operator's messages.
        public var directory: String

        public init(
            segmentSeconds: Double = 300, segmentMB: Int = 1024, minFreeMB: Int = 500, mode: String = "always",
            requireMasks: Bool = false, retention: Bool = false, directory: String = "recordings"
        ) {
            self.segmentSeconds = segmentSeconds
            segmentBytes = Int64(segmentMB) * 1_048_576
            self.minFreeMB = minFreeMB
            self.mode = mode
            self.requireMasks = requireMasks
            self.retention = retention
            self.directory = directory
        }

        public var always: Bool { mode == "always" }

        /// Free space at which a disk pause ends.
        public var resumeFreeMB: Int { minFreeMB + max(10, minFreeMB / 10) }
    }

    /// What a frame brings: its capture time, size, and whether a privacy mask covered it.
    public struct FrameFacts: Sendable, Equatable {
        public var ptsNanos: UInt64
        public var width: Int
        public var height: Int
        public var masked: Bool

        public init(ptsNanos: UInt64, width: Int, height: Int, masked: Bool) {
            self.ptsNanos = ptsNanos
            self.width = width
            self.height = height
            self.masked = masked
        }

        /// The size an encoder opened for this frame has (even, at least 2x2).
        var encodedSize: Size { Size(width: max(2, width & ~1), height: max(2, height & ~1)) }
    }

    /// Where the open file stands after a frame was written.
    public struct Written: Sendable, Equatable {
        /// The open file's video length and size.
        public var fileSeconds: Double
        public var fileBytes: Int64
        /// All the session's files together.
        public var sessionBytes: Int64

        public init(fileSeconds: Double, fileBytes: Int64, sessionBytes: Int64) {
            self.fileSeconds = fileSeconds
            self.fileBytes = fileBytes
            self.sessionBytes = sessionBytes
        }
    }

    public enum Action: Sendable, Equatable {
        /// Make a new session folder with its predictions.jsonl and session.json; report `sessionOpened` or
        /// `failed`. `retry`: a failed session tried again (start a fresh predictions log).
        case openSession(retry: Bool)
        /// Close the file and predictions.jsonl, write session.json's end (`finished` unless failed); then
        /// report `sessionClosed`.
        case finishSession
        /// Finalise the open file (last fragment, trailer), if any, and note its length in session.json.
        case closeFile
        /// Encode the frame, in a new file (the next video-NNN.mp4) when `newFile`; report `fileOpened` and
        /// `frameWritten`, or `writeFailed`.
        case writeFrame(newFile: Bool)
        /// Note a pause in session.json with this reason, and log it as an error.
        case notePause(String)
        /// Note the end of the last pause in session.json, and log this.
        case noteResume(String)
        /// Note the failure in session.json (state `failed`, error) and log it.
        case noteFailure(String)
        /// Read whether the session folder exists and its free space; report `folderMissing` or `diskChecked`.
        case checkDisk
        /// Make the deleted session folder again and reopen predictions.jsonl; report `failed` when that fails.
        case remakeFolder
        /// Rewrite session.json with the current counters.
        case writeSessionFile
        /// Delete the oldest sessions beyond `keep_gb`, never the one open.
        case applyRetention
    }

    /// What `requestStop` did.
    public enum StopOutcome: Sendable, Equatable {
        /// Queue the end marker: frames offered so far are still written.
        case endSession
        /// A failed session was waiting for its retry: no retry then (nothing to queue).
        case cancelledRetry
        /// Nothing was recording.
        case refused
    }

    /// The encoder side's open session.
    struct Session: Sendable, Equatable {
        var fileOpen = false
        var fileSize: Size?
        var fileSeconds = 0.0
        var fileBytes: Int64 = 0
        var pausedForDisk = false
        /// Set while frames no privacy mask covers arrive (their size); nothing is written then.
        var unmaskedSize: String?
        var lastDiskCheck: UInt64
        var lastSessionWrite: UInt64
    }

    struct Size: Sendable, Equatable {
        var width: Int
        var height: Int
    }

    public let policy: Policy
    /// What the page and the logs show (the recorder adds the queue's drops).
    public private(set) var status = RecorderStatus()
    /// Frames offered now belong to a session (one was requested and has not ended or failed).
    public private(set) var accepting = false
    /// In `always` mode, when a failed session is tried again; nil when no retry is due.
    public private(set) var retryAt: UInt64?
    /// The recorder shut down: no more sessions or retries.
    public private(set) var isShutDown = false
    private(set) var session: Session?
    /// When retention last ran; nil: due at once.
    private var lastRetention: UInt64?

    public static let retryNanos: UInt64 = 10_000_000_000
    public static let diskCheckNanos: UInt64 = 1_000_000_000
    public static let sessionWriteNanos: UInt64 = 10_000_000_000
    public static let retentionNanos: UInt64 = 60_000_000_000

    public init(policy: Policy) {
        self.policy = policy
        status.mode = policy.mode
    }

    /// A session is open on the encoder side.
    public var hasSession: Bool { session != nil }

    // MARK: Controls (any thread, under the recorder's lock)

    /// Asks for a new session; true: queue the start marker (false when one is open or after shutdown).
    public mutating func requestStart() -> Bool {
        guard !accepting, !isShutDown else { return false }
        retryAt = nil
        accepting = true
        return true
    }

    public mutating func requestStop() -> StopOutcome {
        if retryAt != nil, !accepting {
            retryAt = nil
            status.alert = nil
            return .cancelledRetry
        }
        guard accepting else { return .refused }
        accepting = false
        return .endSession
    }

    /// The recorder stops: no more frames, sessions or retries (the open session ends on `drained`).
    public mutating func shutdown() {
        accepting = false
        retryAt = nil
        isShutDown = true
    }

    // MARK: Encoder thread

    /// The start marker reached the encoder: the open session (if any) ends, a new one opens.
    public mutating func sessionBegins() -> [Action] {
        lastRetention = nil
        return endSession() + [.openSession(retry: false)]
    }

    /// The end marker reached the encoder.
    public mutating func sessionEnds() -> [Action] { endSession() }

    /// The queue closed and is empty: the open session ends.
    public mutating func drained() -> [Action] { endSession() }

    /// The session folder exists: the status starts afresh (counters since start-up kept).
    public mutating func sessionOpened(folder: String, now: UInt64) -> [Action] {
        var fresh = RecorderStatus()
        fresh.mode = status.mode
        fresh.sessions = status.sessions + 1
        fresh.sessionFolders = status.sessionFolders + [folder]
        fresh.failures = status.failures
        fresh.sessionDirectory = folder
        fresh.state = .recording
        status = fresh
        session = Session(lastDiskCheck: now, lastSessionWrite: now)
        return [.writeSessionFile, .checkDisk]
    }

    /// The `finishSession` I/O is done (session.json says how it ended): the status says `idle`.
    public mutating func sessionClosed() {
        if status.state.isOpen { status.state = .idle }
    }

    /// A frame from the queue.
    public mutating func frame(_ f: FrameFacts) -> [Action] {
        guard var s = session else { return [] }
        defer { session = s }
        var out: [Action] = []
        if policy.requireMasks && !f.masked {
            // Never an unmasked frame on disk: the file so far is finalised, recording waits for masked frames.
            status.framesSkippedUnmasked += 1
            let size = "\(f.width)x\(f.height)"
            guard s.unmaskedSize != size else { return [] }
            s.unmaskedSize = size
            s.fileOpen = false
            let message =
                "Recording paused: frames of \(size) have no privacy mask, so they would be recorded with the patient banner. Draw the masks for this size on the admin page (or add privacy.masks_by_size.\(size) to the config); recording resumes by itself with masked frames."
            status.state = .paused(message)
            status.alert = message
            return [.closeFile, .notePause(message)]
        }
        if s.unmaskedSize != nil {
            s.unmaskedSize = nil
            if !s.pausedForDisk {
                status.state = .recording
                status.alert = nil
            }
            out.append(.noteResume("recording resumed: frames are masked again (\(f.width)x\(f.height))"))
        }
        if s.pausedForDisk {
            status.framesSkippedForDisk += 1
            return out
        }
        if s.fileOpen,
            s.fileSeconds >= policy.segmentSeconds || s.fileBytes >= policy.segmentBytes
                || (f.width > 0 && f.height > 0 && s.fileSize != f.encodedSize)  // a new input size: a new file
        {
            s.fileOpen = false
            out.append(.closeFile)
        }
        out.append(.writeFrame(newFile: !s.fileOpen))
        if !s.fileOpen {
            s.fileOpen = true
            s.fileSize = f.encodedSize
            s.fileSeconds = 0
            s.fileBytes = 0
        }
        return out
    }

    /// `writeFrame` opened a new file.
    public mutating func fileOpened(path: String, codec: String) {
        status.currentFile = path
        status.codec = codec
        status.segments += 1
    }

    /// `writeFrame` wrote the frame.
    public mutating func frameWritten(_ w: Written) {
        status.framesWritten += 1
        status.bytesWritten = w.sessionBytes
        session?.fileSeconds = w.fileSeconds
        session?.fileBytes = w.fileBytes
    }

    /// `writeFrame` failed. With `freeMB` near the floor the disk filled faster than the once-a-second check:
    /// recording pauses for space; otherwise the session fails.
    public mutating func writeFailed(_ message: String, freeMB: Int?, now: UInt64) -> [Action] {
        guard session != nil else { return [] }
        session?.fileOpen = false
        if let free = freeMB, free < policy.minFreeMB + 16 {
            return pauseForDisk(freeMB: free)
        }
        return [.closeFile] + failed(message, now: now)
    }

    /// Time passes: the disk check and session.json rewrite while recording, the `always` retry, retention.
    public mutating func tick(now: UInt64) -> [Action] {
        // Saturating: a mark may be a moment after `now`.
        func since(_ mark: UInt64) -> UInt64 { now > mark ? now - mark : 0 }
        var out: [Action] = []
        if var s = session, since(s.lastDiskCheck) >= Self.diskCheckNanos {
            s.lastDiskCheck = now
            out.append(.checkDisk)
            if since(s.lastSessionWrite) >= Self.sessionWriteNanos {
                s.lastSessionWrite = now
                out.append(.writeSessionFile)
            }
            session = s
        }
        if session == nil, let at = retryAt, now >= at, !accepting, !isShutDown {
            retryAt = nil
            accepting = true
            lastRetention = nil
            out.append(.openSession(retry: true))
        }
        if policy.retention, lastRetention.map({ since($0) >= Self.retentionNanos }) ?? true {
            lastRetention = now
            out.append(.applyRetention)
        }
        return out
    }

    /// A disk reading for the session folder (nil: statvfs failed, nothing known).
    public mutating func diskChecked(freeMB: Int?) -> [Action] {
        guard let free = freeMB, let s = session else { return [] }
        status.freeMB = free
        if !s.pausedForDisk && free < policy.minFreeMB {
            return pauseForDisk(freeMB: free)
        }
        if s.pausedForDisk && free >= policy.resumeFreeMB {
            session?.pausedForDisk = false
            status.state = .recording
            status.alert = nil
            return [.noteResume("recording resumed: disk space is back (\(free) MB free)")]
        }
        return []
    }

    /// The session folder is gone (deleted while recording): what it held is lost; it is made again and
    /// recording goes on there in a new file.
    public mutating func folderMissing() -> [Action] {
        guard session != nil else { return [] }
        session?.fileOpen = false
        return [.closeFile, .remakeFolder]
    }

    /// `remakeFolder` worked: the operator is told what was lost.
    public mutating func folderRemade(_ folder: String) -> [Action] {
        let message =
            "The recording folder \(folder) was deleted while recording: what it held is lost. Recording goes on in the same folder, made again."
        status.alert = message
        return [.notePause(message)]
    }

    /// Closing the file at the end of a session failed: a failure, unless the session failed already.
    public mutating func closeFailed(_ message: String, now: UInt64) -> [Action] {
        status.state.isFailed ? [] : failed(message, now: now)
    }

    /// A session could not be opened, its folder made again, or its encoder failed: the session ends. Tried
    /// again only in `always` mode and while recording is wanted (not after an operator's stop).
    public mutating func failed(_ message: String, now: UInt64) -> [Action] {
        let wanted = accepting
        accepting = false
        status.state = .failed(message)
        status.failures += 1
        let seconds = Self.retryNanos / 1_000_000_000
        if policy.always, wanted, !isShutDown {
            retryAt = now + Self.retryNanos
            status.alert = "Recording stopped: \(message). Bedside tries again every \(seconds) s; fix it (or stop recording on the admin page)."
        } else {
            status.alert = "Recording stopped: \(message). Fix it, then start recording again on the admin page."
        }
        return [.noteFailure(message)] + endSession()
    }

    // MARK: Rules

    private mutating func endSession() -> [Action] {
        guard session != nil else { return [] }
        session = nil
        return [.finishSession]
    }

    private mutating func pauseForDisk(freeMB free: Int) -> [Action] {
        guard let s = session, !s.pausedForDisk else { return [] }
        session?.pausedForDisk = true
        session?.fileOpen = false
        let message =
            "Recording paused: only \(free) MB free for \(policy.directory) (recording.min_free_mb is \(policy.minFreeMB)). The video so far is saved; recording resumes by itself when space is freed."
        status.state = .paused(message)
        status.alert = message
        status.freeMB = free
        return [.closeFile, .notePause(message)]
    }
}
