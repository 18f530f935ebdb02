import BedsideCore
import CFFmpeg
import Capture
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Snapshots: the newest full-resolution frame as PNG, with what the models had shown for it, as JSON.
///
/// Fed every captured frame (it keeps a reference to the newest, no copy); `take` encodes on the caller's thread.
public final class Snapshotter: Sendable {
    private let latest = Mutex<Frame?>(nil)
    private let counter = Mutex(0)

    public init() {}

    public func offer(_ frame: Frame) {
        latest.withLock { $0 = frame }
    }

    public struct Saved: Sendable {
        public var png: String
        public var json: String
        public var seq: UInt64
    }

    /// Saves `snapshot-<time>-<seq>.png` and `.json` (a `SnapshotRecord`) into `folder`. `describe` gets the
    /// frame and returns what to add (the predictions shown, the recording's timeline position).
    /// With `requireMasked`, a frame no privacy mask covered is refused (it would show the patient banner).
    public func take(into folder: String, requireMasked: Bool = false, describe: (Frame) -> SnapshotRecord.Details) throws -> Saved {
        guard let frame = latest.withLock({ $0 }) else {
            throw RecordingError("no frame captured yet: a snapshot needs a running source")
        }
        if requireMasked && !frame.masked {
            throw RecordingError(
                "no privacy mask covers frames of \(frame.width)x\(frame.height), so the snapshot would show the patient banner: draw the masks on the admin page (or set privacy.allow_unmasked: true)"
            )
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let n = counter.withLock { c -> Int in
            c += 1
            return c
        }
        let base = "snapshot-\(formatter.string(from: Date(timeIntervalSince1970: frame.wallClock)))-\(frame.seq)-\(n)"
        let png = (folder as NSString).appendingPathComponent(base + ".png")
        let json = (folder as NSString).appendingPathComponent(base + ".json")
        let bytes = try PNGEncoder.encode(frame)
        try Self.write(bytes, to: png)
        let record = SnapshotRecord(
            image: base + ".png", frame: frame, wallTime: Date(timeIntervalSince1970: frame.wallClock).formatted(.iso8601),
            details: describe(frame))
        try JSONWire.data(record, pretty: true).write(to: URL(fileURLWithPath: json), options: .atomic)
        return Saved(png: png, json: json, seq: frame.seq)
    }

    /// Writes `bytes` to a new file at `path` (replacing one there); errors name the path and the reason.
    private static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RecordingError("cannot write \(path)", .last("open(\(path))", fix: "Make the snapshot folder writable"))
        }
        defer { _ = Glibc.close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RecordingError("cannot write \(path)", .last("write(\(path))", fix: "Free space on the disk"))
            }
            done += n
        }
    }
}

/// One frame as a PNG file's bytes (libavcodec's PNG encoder, RGB, lossless).
public enum PNGEncoder {
    public static func encode(_ frame: Frame) throws -> [UInt8] {
        let rgb = try FrameScaler(width: frame.width, height: frame.height, format: .rgb24).scale(frame)
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
            throw RecordingError("this FFmpeg has no PNG encoder")
        }
        var ctxOpt = avcodec_alloc_context3(codec)
        defer { avcodec_free_context(&ctxOpt) }
        guard let ctx = ctxOpt else { throw RecordingError("out of memory (PNG encoder)") }
        ctx.pointee.width = Int32(rgb.width)
        ctx.pointee.height = Int32(rgb.height)
        ctx.pointee.pix_fmt = AV_PIX_FMT_RGB24
        ctx.pointee.time_base = AVRational(num: 1, den: 25)
        try avCheck(avcodec_open2(ctx, codec, nil), "avcodec_open2(png)")
        var avOpt = av_frame_alloc()
        defer { av_frame_free(&avOpt) }
        guard let av = avOpt else { throw RecordingError("out of memory (PNG frame)") }
        av.pointee.width = Int32(rgb.width)
        av.pointee.height = Int32(rgb.height)
        av.pointee.format = AV_PIX_FMT_RGB24.rawValue
        try avCheck(av_frame_get_buffer(av, 0), "av_frame_get_buffer")
        let stride = Int(av.pointee.linesize.0)
        rgb.pixels.withUnsafeBytes { src in
            for y in 0..<rgb.height {
                memcpy(av.pointee.data.0! + y * stride, src.baseAddress! + y * rgb.width * 3, rgb.width * 3)
            }
        }
        try avCheck(avcodec_send_frame(ctx, av), "avcodec_send_frame(png)")
        var packetOpt = av_packet_alloc()
        defer { av_packet_free(&packetOpt) }
        guard let packet = packetOpt else { throw RecordingError("out of memory (PNG packet)") }
        try avCheck(avcodec_receive_packet(ctx, packet), "avcodec_receive_packet(png)")
        return Array(UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)))
    }
}
