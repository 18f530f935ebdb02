/// What the recorder is doing, as the page and the logs show it. A snapshot: take a new one to see changes.
///
/// Encodes as the `recording` object of the web status (see `encode(to:)`); `RecordingStatusMessage` adds
/// `{"state":"off"}` for a config without recording.
public struct RecorderStatus: Sendable, Equatable, Encodable {
    public enum State: Sendable, Equatable {
        /// No session: not started yet (manual mode), stopped, or finished cleanly.
        case idle
        case recording
        /// A session is open but frames are not written (free space below `min_free_mb`, or frames no privacy
        /// mask covers); the message says which. The file was finalised; recording resumes in a new file.
        case paused(String)
        /// Recording stopped on an error (encoder failure, a folder that cannot be made); the message says which.
        case failed(String)
    }

    public var state: State = .idle
    /// `always` or `manual`.
    public var mode = "always"
    /// The session folder, `<directory>/<yyyyMMdd-HHmmss>`.
    public var sessionDirectory: String?
    /// The video file being written (or last written).
    public var currentFile: String?
    /// libavcodec's encoder name (`libx264`, `mpeg4`), once the first frame opened the encoder.
    public var codec: String?
    /// Frames written in this session (all its files).
    public var framesWritten: UInt64 = 0
    /// Frames refused because the encoder's queue was full.
    public var framesDropped: UInt64 = 0
    /// Frames not recorded while paused for disk space.
    public var framesSkippedForDisk: UInt64 = 0
    /// Frames not recorded because no privacy mask covered their size (`privacy.allow_unmasked` is off).
    public var framesSkippedUnmasked: UInt64 = 0
    /// Size of this session's video files so far.
    public var bytesWritten: Int64 = 0
    /// Video files in this session.
    public var segments = 0
    /// Free space where recordings go, MB (checked every second while recording).
    public var freeMB: Int?
    /// Something the operator must see (low disk); nil when all is well.
    public var alert: String?
    /// Sessions recorded since start-up.
    public var sessions = 0
    /// Every session folder this run opened, oldest first (a study makes its own: the console names them all at
    /// shutdown). Not in the web status.
    public var sessionFolders: [String] = []
    /// Recording failures since start-up (a folder that cannot be made, an encoder error).
    public var failures = 0

    public init() {}

    /// The state's wire name: `idle`, `recording`, `paused`, `failed`.
    public var stateName: String { state.name }

    enum CodingKeys: String, CodingKey {
        case state, error, mode, alert, session, segments, file, sessions, failures
        case freeMB = "free_mb", framesSkippedForDisk = "frames_skipped_for_disk"
        case framesSkippedUnmasked = "frames_skipped_unmasked", framesWritten = "frames_written"
        case framesDropped = "frames_dropped", bytesWritten = "bytes_written"
    }

    /// The web status's `recording` object: `error` only when failed; `alert`, `session`, `free_mb` and `file`
    /// are null when unknown; `codec` is not sent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stateName, forKey: .state)
        if case .failed(let message) = state { try c.encode(message, forKey: .error) }
        try c.encode(mode, forKey: .mode)
        try c.encode(alert, forKey: .alert)
        try c.encode(sessionDirectory, forKey: .session)
        try c.encode(segments, forKey: .segments)
        try c.encode(freeMB, forKey: .freeMB)
        try c.encode(framesSkippedForDisk, forKey: .framesSkippedForDisk)
        try c.encode(framesSkippedUnmasked, forKey: .framesSkippedUnmasked)
        try c.encode(currentFile, forKey: .file)
        try c.encode(framesWritten, forKey: .framesWritten)
        try c.encode(framesDropped, forKey: .framesDropped)
        try c.encode(sessions, forKey: .sessions)
        try c.encode(failures, forKey: .failures)
        try c.encode(bytesWritten, forKey: .bytesWritten)
    }
}

extension RecorderStatus.State {
    /// `idle`, `recording`, `paused`, `failed`: the wire encoding, not for comparisons (compare the cases).
    public var name: String {
        switch self {
        case .idle: "idle"
        case .recording: "recording"
        case .paused: "paused"
        case .failed: "failed"
        }
    }

    /// A session is open (recording or paused).
    public var isOpen: Bool {
        switch self {
        case .recording, .paused: true
        case .idle, .failed: false
        }
    }

    public var isFailed: Bool {
        if case .failed = self { return true }
        return false
    }
}

/// The web status's `recording` object: the recorder's status, or `{"state":"off"}` without a recorder.
public struct RecordingStatusMessage: Sendable, Equatable, Encodable {
    public var status: RecorderStatus?

    public init(_ status: RecorderStatus?) {
        self.status = status
    }

    private enum OffKeys: String, CodingKey { case state }

    public func encode(to encoder: any Encoder) throws {
        if let status {
            try status.encode(to: encoder)
        } else {
            var c = encoder.container(keyedBy: OffKeys.self)
            try c.encode("off", forKey: .state)
        }
    }
}
