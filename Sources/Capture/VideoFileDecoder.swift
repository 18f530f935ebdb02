import BedsideCore
import CFFmpeg

#if canImport(Glibc)
import Glibc
#endif

/// Decodes the best video stream of a file (`avformat_open_input`, `av_read_frame`,
/// `avcodec_send_packet` / `avcodec_receive_frame`) into tightly packed pictures of one pixel format.
///
/// Owns the format and codec contexts, the packet, the frame and a `SwsContext`; freed in deinit.
/// Not thread-safe: one owner (a `FileSource.run` call, or `bedside replay`).
public final class VideoFileDecoder {
    /// One decoded picture: packed pixels and its presentation time in seconds (nil when the file has none).
    public struct Picture {
        public var pixels: [UInt8]
        public var width: Int
        public var height: Int
        public var seconds: Double?
    }

    public let path: String
    public private(set) var width = 0
    public private(set) var height = 0
    /// The stream's average frame rate (else its real base rate, else 25).
    public private(set) var fps = 25.0
    public private(set) var codecName = ""
    /// The stream's start time in seconds (`start_time`), nil when the file does not say.
    public private(set) var startSeconds: Double?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var sws: OpaquePointer?
    private var streamIndex: Int32 = -1
    private var timeBase = AVRational(num: 1, den: 1)
    private var draining = false

    /// Opens `path` and its decoder. Errors name the file and give libav's message.
    /// (Every stored property has a value before the first throw, so deinit frees what was opened.)
    public init(path: String) throws {
        self.path = path
        do {
            try avCheck(avformat_open_input(&format, path, nil, nil), "avformat_open_input")
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "cannot open \(path): \(e.message)")
        }
        var decoder: UnsafePointer<AVCodec>?
        do {
            try avCheck(avformat_find_stream_info(format, nil), "avformat_find_stream_info")
            streamIndex = try avCheck(
                av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0), "av_find_best_stream")
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "cannot read a video stream from \(path): \(e.message)")
        }
        guard let decoder, let stream = format!.pointee.streams[Int(streamIndex)] else {
            throw FileSourceError(path: path, message: "\(path): no decoder for its video stream")
        }
        codec = avcodec_alloc_context3(decoder)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard let ctx = codec, packet != nil, frame != nil else {
            throw FileSourceError(path: path, message: "\(path): out of memory")
        }
        do {
            try avCheck(avcodec_parameters_to_context(ctx, stream.pointee.codecpar), "avcodec_parameters_to_context")
            ctx.pointee.thread_count = 0
            try avCheck(avcodec_open2(ctx, decoder, nil), "avcodec_open2")
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "cannot decode \(path): \(e.message)")
        }
        timeBase = stream.pointee.time_base
        if stream.pointee.start_time != bedside_av_nopts_value {
            startSeconds = Double(stream.pointee.start_time) * av_q2d(timeBase)
        }
        width = Int(ctx.pointee.width)
        height = Int(ctx.pointee.height)
        codecName = String(cString: decoder.pointee.name)
        let rates = [stream.pointee.avg_frame_rate, stream.pointee.r_frame_rate]
        fps = rates.first { $0.num > 0 && $0.den > 0 }.map { av_q2d($0) } ?? 25
        guard width > 0, height > 0 else {
            throw FileSourceError(path: path, message: "\(path): the video stream has no size")
        }
    }

    deinit {
        sws_freeContext(sws)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        avformat_close_input(&format)
    }

    /// The next picture converted to `outFormat`, or nil at the end of the file.
    public func next(as outFormat: PixelFormat) throws -> Picture? {
        do {
            while true {
                let r = avcodec_receive_frame(codec, frame)
                if r == 0 {
                    consecutiveErrors = 0
                    defer { av_frame_unref(frame) }
                    return try convert(frame!, to: outFormat)
                }
                if r == bedside_averror_eof { return nil }
                if r != bedside_averror_eagain {
                    // A damaged picture: counted and skipped, as players do; the file goes on.
                    try damaged(r, "avcodec_receive_frame")
                    continue
                }
                if draining { return nil }
                let rr = av_read_frame(format, packet)
                if rr < 0 {
                    // End of file (or an unreadable tail, treated alike): drain what the decoder holds.
                    draining = true
                    let s = avcodec_send_packet(codec, nil)
                    if s != bedside_averror_eof { try avCheck(s, "avcodec_send_packet(flush)") }
                    continue
                }
                defer { av_packet_unref(packet) }
                if packet!.pointee.stream_index == streamIndex {
                    let sr = avcodec_send_packet(codec, packet)
                    if sr < 0 && sr != bedside_averror_eagain { try damaged(sr, "avcodec_send_packet") }
                }
            }
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "\(path): decoding failed: \(e.description)")
        }
    }

    /// Damaged packets or pictures skipped so far (a corrupt section of the file).
    public private(set) var decodeErrors = 0
    private var consecutiveErrors = 0

    /// Counts a decoding error and goes on; only a long run of them (nothing decodable any more) stops the file.
    private func damaged(_ code: Int32, _ call: String) throws {
        decodeErrors += 1
        consecutiveErrors += 1
        if consecutiveErrors > 300 { try avCheck(code, call) }
    }

    /// The number of packets in the file's video stream (one per frame for the codecs Bedside records),
    /// counted by reading the packets without decoding them: cheap, for progress totals.
    public static func packetCount(path: String) throws -> Int {
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        defer { avformat_close_input(&ctx) }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        do {
            try avCheck(avformat_open_input(&ctx, path, nil, nil), "avformat_open_input")
            try avCheck(avformat_find_stream_info(ctx, nil), "avformat_find_stream_info")
            let index = try avCheck(av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0), "av_find_best_stream")
            var count = 0
            while av_read_frame(ctx, packet) >= 0 {
                if packet!.pointee.stream_index == index { count += 1 }
                av_packet_unref(packet)
            }
            return count
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "cannot read a video stream from \(path): \(e.message)")
        }
    }

    /// Seeks back to the start (`av_seek_frame`, `avcodec_flush_buffers`) for the next loop.
    public func rewind() throws {
        let stream = format!.pointee.streams[Int(streamIndex)]!
        let start = stream.pointee.start_time == bedside_av_nopts_value ? 0 : stream.pointee.start_time
        do {
            try avCheck(av_seek_frame(format, streamIndex, start, AVSEEK_FLAG_BACKWARD), "av_seek_frame")
        } catch let e as AVError {
            throw FileSourceError(path: path, message: "\(path): cannot seek to the start: \(e.message)")
        }
        avcodec_flush_buffers(codec)
        draining = false
    }

    private func convert(_ f: UnsafeMutablePointer<AVFrame>, to outFormat: PixelFormat) throws -> Picture {
        let w = Int(f.pointee.width), h = Int(f.pointee.height)
        let srcFormat = AVPixelFormat(rawValue: f.pointee.format)
        var pixels = [UInt8](repeating: 0, count: outFormat.byteCount(width: w, height: h))
        let src = [f.pointee.data.0, f.pointee.data.1, f.pointee.data.2, f.pointee.data.3]
        let srcStride = [f.pointee.linesize.0, f.pointee.linesize.1, f.pointee.linesize.2, f.pointee.linesize.3]
        let planes = outFormat.planes(width: w, height: h)
        try pixels.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            if srcFormat == outFormat.av && (outFormat == .yuv420p || outFormat == .gray8) {
                // Same layout: copy the planes row by row, dropping libav's line padding.
                for (i, p) in planes.enumerated() {
                    guard let s = src[i] else { continue }
                    let rows = i == 0 ? h : (h + 1) / 2
                    for y in 0..<rows {
                        memcpy(base + p.offset + y * p.stride, s + y * Int(srcStride[i]), p.stride)
                    }
                }
                return
            }
            sws = sws_getCachedContext(
                sws, Int32(w), Int32(h), srcFormat, Int32(w), Int32(h), outFormat.av, SWS_BILINEAR, nil, nil, nil)
            guard sws != nil else {
                throw FileSourceError(path: path, message: "\(path): cannot convert pixel format \(f.pointee.format) to \(outFormat)")
            }
            var dst: [UnsafeMutablePointer<UInt8>?] = [nil, nil, nil, nil]
            var dstStride: [Int32] = [0, 0, 0, 0]
            for (i, p) in planes.enumerated() {
                dst[i] = base + p.offset
                dstStride[i] = Int32(p.stride)
            }
            let srcConst = src.map { UnsafePointer<UInt8>($0) }
            try avCheck(sws_scale(sws, srcConst, srcStride, 0, Int32(h), dst, dstStride), "sws_scale")
        }
        let pts = f.pointee.best_effort_timestamp
        let seconds: Double? = pts == bedside_av_nopts_value ? nil : Double(pts) * av_q2d(timeBase)
        return Picture(pixels: pixels, width: w, height: h, seconds: seconds)
    }
}
