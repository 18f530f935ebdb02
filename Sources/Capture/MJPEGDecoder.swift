import BedsideCore
import CFFmpeg

/// Decodes MJPEG capture buffers with libavcodec and converts them to yuv420p. One owner thread.
///
/// The corresponding C calls are `avcodec_send_packet` and `avcodec_receive_frame`.
final class MJPEGDecoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var sws: OpaquePointer?
    private var swsKey: (Int32, Int32, Int32)?

    init() throws {
        guard let codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG) else {
            throw AVError(call: "avcodec_find_decoder(mjpeg)", message: "this libavcodec has no MJPEG decoder")
        }
        context = avcodec_alloc_context3(codec)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        try avCheck(avcodec_open2(context, codec, nil), "avcodec_open2(mjpeg)")
    }

    deinit {
        avcodec_free_context(&context)
        av_packet_free(&packet)
        av_frame_free(&frame)
        sws_freeContext(sws)
    }

    /// Decodes one JPEG into a tightly packed yuv420p buffer; returns (pixels, width, height).
    func decode(_ bytes: UnsafeRawBufferPointer) throws -> ([UInt8], Int, Int) {
        guard let packet, let frame else { throw AVError(call: "av_packet_alloc", message: "out of memory") }
        packet.pointee.data = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        packet.pointee.size = Int32(bytes.count)
        defer {
            packet.pointee.data = nil
            packet.pointee.size = 0
        }
        try avCheck(avcodec_send_packet(context, packet), "avcodec_send_packet(mjpeg)")
        try avCheck(avcodec_receive_frame(context, frame), "avcodec_receive_frame(mjpeg)")
        defer { av_frame_unref(frame) }
        let w = frame.pointee.width & ~1, h = frame.pointee.height & ~1
        let key = (w, h, frame.pointee.format)
        if swsKey == nil || swsKey! != key {
            sws_freeContext(sws)
            sws = sws_getContext(
                w, h, AVPixelFormat(rawValue: frame.pointee.format), w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nil, nil,
                nil)
            swsKey = key
        }
        var out = [UInt8](repeating: 0, count: PixelFormat.yuv420p.byteCount(width: Int(w), height: Int(h)))
        let planes = PixelFormat.yuv420p.planes(width: Int(w), height: Int(h))
        try out.withUnsafeMutableBufferPointer { o in
            var dst: [UnsafeMutablePointer<UInt8>?] = planes.map { o.baseAddress! + $0.offset } + [nil]
            var dstStride: [Int32] = planes.map { Int32($0.stride) } + [0]
            let rc = withUnsafePointer(to: &frame.pointee.data) { dp in
                dp.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                    withUnsafePointer(to: &frame.pointee.linesize) { lp in
                        lp.withMemoryRebound(to: Int32.self, capacity: 8) { ls in
                            sws_scale(sws, src, ls, 0, h, &dst, &dstStride)
                        }
                    }
                }
            }
            try avCheck(rc, "sws_scale(mjpeg)")
        }
        return (out, Int(w), Int(h))
    }
}
