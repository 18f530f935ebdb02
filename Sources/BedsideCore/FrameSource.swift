/// Anything that produces frames: the phantom, a video file, a V4L2 capture box.
public protocol FrameSource: Sendable {
    /// A short human description ("phantom 1280x720@30", "/dev/video0 YUYV 1920x1080@60").
    var description: String { get }
    /// Nominal frame rate, for the recorder's time base and the page.
    var nominalFPS: Double { get }
    /// Produces frames in capture order until the task is cancelled or the source ends.
    func run(emit: @escaping @Sendable (Frame) -> Void) async throws
    /// Current state of the link (signal, device); see `SourceHealth`.
    var health: SourceHealth { get }
}

/// How a source is doing, for the page and `/api/status`.
public struct SourceHealth: Sendable, Equatable {
    /// `ok`, `connecting`, `no signal`, `disconnected`, `ended`.
    public var state: String
    public var detail: String?
    /// The negotiated capture mode, e.g. "YUYV 1920x1080@60".
    public var mode: String?
    public var renegotiations = 0

    public init(state: String, detail: String? = nil, mode: String? = nil) {
        self.state = state
        self.detail = detail
        self.mode = mode
    }
}

extension FrameSource {
    /// Sources that cannot lose their signal (phantom, files) are always fine.
    public var health: SourceHealth { SourceHealth(state: "ok") }
}
