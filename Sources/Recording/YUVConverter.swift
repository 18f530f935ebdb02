import BedsideCore
import CFFmpeg
import Capture

#if canImport(Glibc)
import Glibc
#endif

/// Puts any `Frame` into a yuv420p `AVFrame` of a fixed size: a plane copy when the frame already is
/// yuv420p at that size, else `sws_scale` (which also maps gray8's full range to video range).
///
/// Owns one `SwsContext` (`sws_getCachedContext`), rebuilt when the input size or format changes.
final class YUVConverter {
    let width: Int
    let height: Int
    private var context: OpaquePointer?

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    deinit { sws_freeContext(context) }

    /// Writes `input` into `frame`'s planes (allocated yuv420p, `width`x`height`, writable).
    func convert(_ input: Frame, into frame: UnsafeMutablePointer<AVFrame>) throws {
        let dst = [frame.pointee.data.0, frame.pointee.data.1, frame.pointee.data.2]
        let dstStride = [frame.pointee.linesize.0, frame.pointee.linesize.1, frame.pointee.linesize.2]
        let srcPlanes = input.format.planes(width: input.width, height: input.height)
        try input.pixels.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            if input.format == .yuv420p && input.width == width && input.height == height {
                let rows = [height, (height + 1) / 2, (height + 1) / 2]
                let bytes = [width, (width + 1) / 2, (width + 1) / 2]
                for i in 0..<3 {
                    guard let d = dst[i] else { continue }
                    for y in 0..<rows[i] {
                        memcpy(d + y * Int(dstStride[i]), base + srcPlanes[i].offset + y * srcPlanes[i].stride, bytes[i])
                    }
                }
                return
            }
            context = sws_getCachedContext(
                context, Int32(input.width), Int32(input.height), input.format.av, Int32(width), Int32(height),
                AV_PIX_FMT_YUV420P, SWS_BILINEAR, nil, nil, nil)
            guard context != nil else {
                throw AVError(
                    call: "sws_getCachedContext",
                    message: "unsupported conversion \(input.format) \(input.width)x\(input.height) -> yuv420p")
            }
            var src: [UnsafePointer<UInt8>?] = [nil, nil, nil, nil]
            var srcStride: [Int32] = [0, 0, 0, 0]
            for (i, p) in srcPlanes.enumerated() {
                src[i] = UnsafePointer(base + p.offset)
                srcStride[i] = Int32(p.stride)
            }
            let d: [UnsafeMutablePointer<UInt8>?] = dst + [nil]
            let ds: [Int32] = dstStride + [0]
            try avCheck(sws_scale(context, src, srcStride, 0, Int32(input.height), d, ds), "sws_scale")
        }
    }
}
