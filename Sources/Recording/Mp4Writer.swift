import BedsideCore
import CFFmpeg
import Capture

/// Writes frames to a fragmented mp4 (libavformat's `mov` muxer with
/// `movflags=frag_keyframe+empty_moov+default_base_moof`): a fragment per keyframe (~1 s), so a killed
/// process leaves a file that plays up to its last complete fragment.
///
/// Timestamps (1/90000 s; 1/30000 for mpeg4) come from each frame's capture time (`ptsNanos`), the first
/// frame at 0: frames the source dropped leave a gap in the video instead of shifting what follows (no drift).
/// Owns the `AVFormatContext` and its `AVIOContext`; not thread-safe (one owner, the recorder's thread).
public final class Mp4Writer {
    public let path: String
    /// Encoded size: the first frame's size rounded down to even numbers; other sizes are scaled to it.
    public let width: Int
    public let height: Int
    /// libavcodec's name of the encoder in use: `libx264`, or `mpeg4` where FFmpeg lacks it.
    public var codecName: String { encoder.codecName }
    public private(set) var framesWritten: UInt64 = 0
    /// Capture time of the first frame (monotonic ns): video time 0.
    public private(set) var originNanos: UInt64?
    /// Capture time of the last frame written (monotonic ns).
    public private(set) var lastNanos: UInt64?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private let encoder: VideoEncoder
    private var lastPts: Int64 = -1
    private var finished = false
    private var finalBytes: Int64 = 0

    /// Creates `path` and writes the mp4 header. `fps` is the nominal rate (rate control, keyframe spacing,
    /// the last frame's duration); the real timing comes from the frames.
    public init(path: String, width: Int, height: Int, fps: Double, settings: EncoderSettings = EncoderSettings()) throws {
        self.path = path
        self.width = max(2, width & ~1)
        self.height = max(2, height & ~1)
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        try avCheck(avformat_alloc_output_context2(&ctx, nil, "mp4", path), "avformat_alloc_output_context2(\(path))")
        guard let ctx else { throw AVError(call: "avformat_alloc_output_context2", message: "no context") }
        format = ctx
        do {
            let globalHeader = (ctx.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0
            encoder = try VideoEncoder(
                width: self.width, height: self.height, fps: fps, globalHeader: globalHeader, settings: settings)
            guard let st = avformat_new_stream(ctx, nil) else {
                throw AVError(call: "avformat_new_stream", message: "out of memory")
            }
            stream = st
            try avCheck(avcodec_parameters_from_context(st.pointee.codecpar, encoder.codecContext), "avcodec_parameters_from_context")
            st.pointee.time_base = encoder.timeBase
            st.pointee.avg_frame_rate = encoder.codecContext.pointee.framerate
            try avCheck(avio_open(&ctx.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open(\(path))")
            // Hand each finished fragment to the OS at once, so a kill loses at most the current fragment.
            ctx.pointee.flush_packets = 1
            var options: OpaquePointer?
            defer { av_dict_free(&options) }
            av_dict_set(&options, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0)
            try avCheck(avformat_write_header(ctx, &options), "avformat_write_header(\(path))")
        } catch {
            if ctx.pointee.pb != nil { avio_closep(&ctx.pointee.pb) }
            avformat_free_context(ctx)
            format = nil
            throw error
        }
    }

    deinit {
        if let ctx = format {
            if !finished && ctx.pointee.pb != nil { _ = av_write_trailer(ctx) }
            avio_closep(&ctx.pointee.pb)
            avformat_free_context(ctx)
        }
    }

    /// Bytes in the file so far (`avio_tell`).
    public var bytesWritten: Int64 {
        guard let pb = format?.pointee.pb else { return finalBytes }
        return avio_tell(pb)
    }

    /// Video time of the last frame written plus one nominal frame, in seconds.
    public var durationSeconds: Double {
        guard lastPts >= 0 else { return 0 }
        let tb = encoder.timeBase
        return Double(lastPts + encoder.nominalFrameTicks) * Double(tb.num) / Double(tb.den)
    }

    /// Encodes one frame at its capture time. A frame no later than the previous one is placed one tick after it.
    public func write(_ frame: Frame) throws {
        precondition(!finished, "write after finish")
        guard frame.width > 0, frame.height > 0 else {
            throw RecordingError("\(path): frame \(frame.seq) is empty (\(frame.width)x\(frame.height))")
        }
        let origin = originNanos ?? frame.ptsNanos
        if originNanos == nil { originNanos = origin }
        let since = frame.ptsNanos >= origin ? frame.ptsNanos - origin : 0
        let tb = encoder.timeBase
        let ticksPerSecond = UInt64(tb.den) / UInt64(tb.num)
        var pts = Int64(since / 1_000_000_000 * ticksPerSecond + (since % 1_000_000_000) * ticksPerSecond / 1_000_000_000)
        if pts <= lastPts { pts = lastPts + 1 }
        try encoder.encode(frame, pts: pts, sink: writePacket)
        lastPts = pts
        lastNanos = frame.ptsNanos
        framesWritten += 1
    }

    /// Flushes the encoder, writes the last fragment and the trailer, and closes the file.
    public func finish() throws {
        guard !finished, let ctx = format else { return }
        finished = true
        defer {
            finalBytes = avio_tell(ctx.pointee.pb)
            avio_closep(&ctx.pointee.pb)
        }
        try encoder.flush(sink: writePacket)
        try avCheck(av_write_trailer(ctx), "av_write_trailer(\(path))")
    }

    private func writePacket(_ packet: UnsafeMutablePointer<AVPacket>) throws {
        // FFmpeg 5.1's libx264 wrapper leaves the duration 0: the last frame would get none and go missing.
        if packet.pointee.duration <= 0 { packet.pointee.duration = encoder.nominalFrameTicks }
        av_packet_rescale_ts(packet, encoder.timeBase, stream.pointee.time_base)
        packet.pointee.stream_index = stream.pointee.index
        try avCheck(av_interleaved_write_frame(format, packet), "av_interleaved_write_frame(\(path))")
    }
}
