/// Anything that produces frames: the phantom, a video file, a V4L2 capture box.
public protocol FrameSource: Sendable {
    /// A short human description ("phantom 1280x720@30", "/dev/video0 YUYV 1920x1080@60").
    var description: String { get }
    /// Nominal frame rate, for the recorder's time base and the page.
    var nominalFPS: Double { get }
    /// Produces frames in capture order until the task is cancelled or the source ends.
    func run(emit: @escaping @Sendable (Frame) -> Void) async throws
}
