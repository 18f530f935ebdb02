/// Pixel layouts Bedside moves around. Planes are tightly packed in one buffer.
public enum PixelFormat: String, Sendable, Codable, CaseIterable {
    case gray8
    case rgb24
    case bgr24
    case yuv420p
    case nv12
    case yuyv422
    case uyvy422

    /// Bytes a tightly packed image of this format needs.
    public func byteCount(width: Int, height: Int) -> Int {
        switch self {
        case .gray8: width * height
        case .rgb24, .bgr24: width * height * 3
        case .yuv420p, .nv12: width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
        case .yuyv422, .uyvy422: width * height * 2
        }
    }
}

/// What the phantom (or a labelled file) knows about a frame: the truth a model is tested against.
public struct GroundTruth: Sendable, Codable, Equatable {
    /// `head`, `abdomen`, `femur` or `none`.
    public var plane: String
    /// `standard`, `close` or `unknown`.
    public var status: String

    public init(plane: String, status: String) {
        self.plane = plane
        self.status = status
    }
}

/// One captured image. Value type; the pixels are shared copy-on-write storage.
public struct Frame: Sendable {
    /// Capture order, starting at 0, gapless at the source.
    public var seq: UInt64
    /// Capture time on the monotonic clock (`ContinuousClock`-like), nanoseconds.
    public var ptsNanos: UInt64
    /// Capture wall-clock time, for logs and file names.
    public var wallClock: Double
    public var width: Int
    public var height: Int
    public var format: PixelFormat
    public var pixels: [UInt8]
    public var truth: GroundTruth?
    /// Privacy masks were applied to this frame at the capture edge (at least one rectangle for its size).
    /// The recorder and snapshots refuse unmasked frames unless `privacy.allow_unmasked` is set.
    public var masked = false

    public init(
        seq: UInt64, ptsNanos: UInt64, wallClock: Double, width: Int, height: Int, format: PixelFormat,
        pixels: [UInt8], truth: GroundTruth? = nil
    ) {
        precondition(pixels.count >= format.byteCount(width: width, height: height), "frame buffer too small")
        self.seq = seq
        self.ptsNanos = ptsNanos
        self.wallClock = wallClock
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
        self.truth = truth
    }
}

/// A crop rectangle in source pixels.
public struct CropRect: Sendable, Equatable, Codable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}
