import BedsideCore
import CFFmpeg
import Capture

/// A libavcodec video encoder (`AVCodecContext` + `avcodec_send_frame` / `avcodec_receive_packet`) fed yuv420p.
///
/// H.264 through libx264 (`preset=ultrafast`, `tune=zerolatency`, CRF) when FFmpeg has it, else MPEG-4 Part 2.
/// Owns its codec context, input frame and packet; not thread-safe (one owner: the recorder's thread, or the
/// live stream's).
public final class VideoEncoder {
    public let width: Int
    public let height: Int
    /// libavcodec's name of the encoder in use (`libx264`, `mpeg4`).
    public let codecName: String
    /// The codec's time base: timestamps passed to `encode` count these.
    public let timeBase: AVRational
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let converter: YUVConverter

    /// Opens an encoder for `width`x`height` (even) at nominal `fps`.
    /// `globalHeader`: put SPS/PPS in extradata, as mp4 wants (`AV_CODEC_FLAG_GLOBAL_HEADER`).
    public init(width: Int, height: Int, fps: Double, globalHeader: Bool, settings: EncoderSettings = EncoderSettings()) throws {
        precondition(width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0, "encoder size must be even")
        self.width = width
        self.height = height
        var found: UnsafePointer<AVCodec>?
        for name in settings.codecs {
            if let c = avcodec_find_encoder_by_name(name) {
                found = c
                break
            }
        }
        guard let codec = found else {
            throw AVError(call: "avcodec_find_encoder", message: "none of \(settings.codecs.joined(separator: ", ")) is available")
        }
        codecName = String(cString: codec.pointee.name)
        // MPEG-4 Part 2 limits the time base denominator to 16 bits.
        timeBase = codec.pointee.id == AV_CODEC_ID_MPEG4 ? AVRational(num: 1, den: 30000) : AVRational(num: 1, den: 90000)
        converter = YUVConverter(width: width, height: height)

        guard let ctx = avcodec_alloc_context3(codec) else {
            throw AVError(call: "avcodec_alloc_context3", message: "out of memory")
        }
        context = ctx
        let rate = fps > 0 && fps.isFinite ? fps : 30
        ctx.pointee.width = Int32(width)
        ctx.pointee.height = Int32(height)
        ctx.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        ctx.pointee.time_base = timeBase
        ctx.pointee.framerate = av_d2q(rate, 100_000)
        ctx.pointee.gop_size = Int32(max(1, (rate * settings.keyframeSeconds).rounded()))
        ctx.pointee.max_b_frames = 0
        ctx.pointee.thread_count = Int32(settings.threads)
        if globalHeader { ctx.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        if let kbps = settings.maxrateKbps, kbps > 0 {
            ctx.pointee.rc_max_rate = Int64(kbps) * 1000
            ctx.pointee.rc_buffer_size = Int32(clamping: Int64(Double(kbps) * 1000 * max(0.05, settings.bufferSeconds)))
        }

        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        if codecName == "libx264" {
            av_dict_set(&options, "preset", settings.preset, 0)
            av_dict_set(&options, "tune", settings.tune, 0)
            av_dict_set(&options, "crf", String(settings.crf), 0)
            if settings.forcedIDR { av_dict_set(&options, "forced-idr", "1", 0) }
        } else {
            ctx.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
            ctx.pointee.global_quality = Int32(settings.mpeg4Quality) * FF_QP2LAMBDA
        }
        try avCheck(avcodec_open2(ctx, codec, &options), "avcodec_open2(\(codecName))")

        guard let f = av_frame_alloc(), let p = av_packet_alloc() else {
            throw AVError(call: "av_frame_alloc", message: "out of memory")
        }
        frame = f
        packet = p
        f.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        try avCheck(av_frame_get_buffer(f, 0), "av_frame_get_buffer")
    }

    deinit {
        av_packet_free(&packet)
        av_frame_free(&frame)
        avcodec_free_context(&context)
    }

    /// The opened codec context, for `avcodec_parameters_from_context`.
    var codecContext: UnsafeMutablePointer<AVCodecContext> { context! }

    /// Frame duration at the nominal rate, in `timeBase` units.
    var nominalFrameTicks: Int64 {
        let fr = context!.pointee.framerate
        guard fr.num > 0, fr.den > 0 else { return Int64(timeBase.den / 30) }
        return max(1, av_rescale_q(1, AVRational(num: fr.den, den: fr.num), timeBase))
    }

    /// Encodes `input` (any format and size; converted and scaled to yuv420p) at `pts` (in `timeBase`),
    /// handing every packet that comes out to `sink`.
    /// `forceKey`: this frame is a keyframe (an IDR with `forcedIDR`), for a viewer that joins or fell behind.
    public func encode(
        _ input: Frame, pts: Int64, forceKey: Bool = false, sink: (UnsafeMutablePointer<AVPacket>) throws -> Void
    ) throws {
        let f = frame!
        try avCheck(av_frame_make_writable(f), "av_frame_make_writable")
        try converter.convert(input, into: f)
        f.pointee.pts = pts
        f.pointee.pict_type = forceKey ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        try avCheck(avcodec_send_frame(context, f), "avcodec_send_frame(\(codecName))")
        try drain(sink)
    }

    /// Flushes the encoder (`avcodec_send_frame(NULL)`), handing the delayed packets to `sink`.
    public func flush(sink: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        let r = avcodec_send_frame(context, nil)
        if r != bedside_averror_eof { try avCheck(r, "avcodec_send_frame(flush)") }
        try drain(sink)
    }

    private func drain(_ sink: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        let p = packet!
        while true {
            let r = avcodec_receive_packet(context, p)
            if r == bedside_averror_eagain || r == bedside_averror_eof { return }
            try avCheck(r, "avcodec_receive_packet(\(codecName))")
            defer { av_packet_unref(p) }
            try sink(p)
        }
    }
}
