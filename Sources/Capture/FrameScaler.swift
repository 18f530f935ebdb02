import BedsideCore
import CFFmpeg

/// Crops, scales and converts frames with libswscale. Owns one `SwsContext`, rebuilt when the input changes.
///
/// Not thread-safe: each consumer (dispatcher, JPEG encoder, recorder) owns its own scaler.
public final class FrameScaler {
    private var context: OpaquePointer?
    private var key: (Int, Int, PixelFormat)?
    public let outWidth: Int
    public let outHeight: Int
    public let outFormat: PixelFormat
    public let crop: CropRect?

    public init(width: Int, height: Int, format: PixelFormat, crop: CropRect? = nil) {
        outWidth = width
        outHeight = height
        outFormat = format
        self.crop = crop
    }

    deinit { sws_freeContext(context) }

    /// Bytes `scale(_:into:)` writes.
    public var outputByteCount: Int { outFormat.byteCount(width: outWidth, height: outHeight) }

    /// The part of a `width` x `height` frame a crop takes (the whole frame without one): clamped to the frame, on
    /// even coordinates so chroma planes stay aligned.
    public static func clamp(_ crop: CropRect?, width: Int, height: Int) -> CropRect {
        var c = crop ?? CropRect(x: 0, y: 0, width: width, height: height)
        c.x = max(0, min(c.x, width - 2)) & ~1
        c.y = max(0, min(c.y, height - 2)) & ~1
        c.width = max(2, min(c.width, width - c.x)) & ~1
        c.height = max(2, min(c.height, height - c.y)) & ~1
        return c
    }

    /// Scales `frame` into `destination` (at least `outputByteCount` bytes, tightly packed).
    public func scale(_ frame: Frame, into destination: UnsafeMutableRawPointer) throws {
        let c = Self.clamp(crop, width: frame.width, height: frame.height)
        if key == nil || key! != (c.width, c.height, frame.format) {
            sws_freeContext(context)
            context = sws_getContext(
                Int32(c.width), Int32(c.height), frame.format.av, Int32(outWidth), Int32(outHeight), outFormat.av,
                SWS_BILINEAR, nil, nil, nil)
            guard context != nil else {
                throw AVError(call: "sws_getContext", message: "unsupported conversion \(frame.format) -> \(outFormat)")
            }
            key = (c.width, c.height, frame.format)
        }
        let srcPlanes = frame.format.planes(width: frame.width, height: frame.height)
        let dstPlanes = outFormat.planes(width: outWidth, height: outHeight)
        try frame.pixels.withUnsafeBufferPointer { (src) in
            let base = src.baseAddress!
            var srcPtrs: [UnsafePointer<UInt8>?] = [nil, nil, nil, nil]
            var srcStrides: [Int32] = [0, 0, 0, 0]
            for (i, p) in srcPlanes.enumerated() {
                let (bx, by) = Self.bytesOffset(format: frame.format, plane: i, x: c.x, y: c.y)
                srcPtrs[i] = base + p.offset + by * p.stride + bx
                srcStrides[i] = Int32(p.stride)
            }
            let dst = destination.assumingMemoryBound(to: UInt8.self)
            var dstPtrs: [UnsafeMutablePointer<UInt8>?] = [nil, nil, nil, nil]
            var dstStrides: [Int32] = [0, 0, 0, 0]
            for (i, p) in dstPlanes.enumerated() {
                dstPtrs[i] = dst + p.offset
                dstStrides[i] = Int32(p.stride)
            }
            let h = sws_scale(context, srcPtrs, srcStrides, 0, Int32(c.height), dstPtrs, dstStrides)
            try avCheck(h, "sws_scale")
        }
    }

    /// Scales `frame` into a new frame.
    public func scale(_ frame: Frame) throws -> Frame {
        var out = [UInt8](repeating: 0, count: outputByteCount)
        try out.withUnsafeMutableBytes { (b) in try scale(frame, into: b.baseAddress!) }
        return Frame(
            seq: frame.seq, ptsNanos: frame.ptsNanos, wallClock: frame.wallClock, width: outWidth, height: outHeight,
            format: outFormat, pixels: out, truth: frame.truth)
    }

    /// Byte offset of pixel (x, y) within plane `plane`.
    static func bytesOffset(format: PixelFormat, plane: Int, x: Int, y: Int) -> (Int, Int) {
        switch format {
        case .gray8: (x, y)
        case .rgb24, .bgr24: (3 * x, y)
        case .yuyv422, .uyvy422: (2 * x, y)
        case .nv12: plane == 0 ? (x, y) : (x, y / 2)
        case .yuv420p: plane == 0 ? (x, y) : (x / 2, y / 2)
        }
    }
}
