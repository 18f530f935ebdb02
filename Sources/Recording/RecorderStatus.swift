/// What the recorder is doing, as the page and the logs show it. A snapshot: take a new one to see changes.
public struct RecorderStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// No session: not started yet (manual mode), stopped, or finished cleanly.
        case idle
        case recording
        /// A session is open but frames are not written: free space is below `min_free_mb`. The file was
        /// finalised; recording resumes in a new file when space returns.
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
    /// Recording failures since start-up (a folder that cannot be made, an encoder error).
    public var failures = 0

    public init() {}

    public var stateName: String {
        switch state {
        case .idle: "idle"
        case .recording: "recording"
        case .paused: "paused"
        case .failed: "failed"
        }
    }
}
