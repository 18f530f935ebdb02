/// What the recorder is doing, as the page and the logs show it. A snapshot: take a new one to see changes.
public struct RecorderStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Not started yet, or finished cleanly.
        case idle
        case recording
        /// Recording stopped on an error (disk full, encoder failure); the message says which.
        case failed(String)
    }

    public var state: State = .idle
    /// The session folder, `<directory>/<yyyyMMdd-HHmmss>`.
    public var sessionDirectory: String?
    /// The video file being written (or last written).
    public var currentFile: String?
    /// libavcodec's encoder name (`libx264`, `mpeg4`), once the first frame opened the encoder.
    public var codec: String?
    public var framesWritten: UInt64 = 0
    /// Frames refused because the encoder's queue was full.
    public var framesDropped: UInt64 = 0
    /// Size of the video file so far.
    public var bytesWritten: Int64 = 0

    public init() {}
}
