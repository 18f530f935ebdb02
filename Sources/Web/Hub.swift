import BedsideCore
import CFFmpeg
import Capture
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Fans the newest frame (as JPEG, encoded once) and every prediction out to all connected viewers.
public final class Hub: Service, Sendable {
    let frames: Mailbox<Frame>
    let wake = ConditionSignal()
    let viewers = Mutex<[Int: ViewerOutbox]>([:])
    let nextID = Atomic<Int>(0)
    let stopFlag = Atomic<Bool>(false)
    let displayWidth: Int?
    let quality: Int
    let logger: Logger
    let encoded = Atomic<UInt64>(0)
    /// Capture -> drawn latency, from what the pages report back (`viewers_latency` in the status).
    public let latency = ViewerLatency()
    /// The H.264 stream for tablets that decode it; nil when `web.video.codec` is `jpeg` or FFmpeg has no libx264.
    let h264: H264Stream?
    public let videoCodec: LiveVideoConfig.Codec

    public init(displayWidth: Int?, quality: Int, logger: Logger, video: LiveVideoConfig = LiveVideoConfig()) {
        frames = Mailbox(signal: wake)
        self.displayWidth = displayWidth
        self.quality = quality
        self.logger = logger
        videoCodec = video.codec
        if video.codec != .jpeg, Self.h264Available {
            h264 = H264Stream(settings: video, displayWidth: displayWidth, logger: logger)
        } else {
            if video.codec == .h264 { logger.error("web.video.codec is h264, but this FFmpeg has no libx264: the tablets get JPEG") }
            h264 = nil
        }
    }

    /// Whether this FFmpeg can encode H.264 (libx264).
    public static var h264Available: Bool { avcodec_find_encoder_by_name("libx264") != nil }

    /// What a page that asked for `wanted` gets: H.264 only where it asked (it can decode it) and Bedside can
    /// send it; with `web.video.codec: h264` a page that did not ask still gets JPEG (it could show nothing else).
    public func gives(h264 wanted: Bool) -> Bool { wanted && h264 != nil }

    /// Offers a captured frame; the encoders take the newest one when they are free.
    public func offer(_ frame: Frame) {
        frames.put(frame)
        h264?.frames.put(frame)
    }

    /// `status.stream`.
    public var streamStatus: StreamStatus {
        let st = h264?.stats.withLock { $0 } ?? H264Stream.Stats()
        let outboxes = viewers.withLock { Array($0.values) }
        return StreamStatus(
            codec: h264 == nil ? "jpeg" : videoCodec.rawValue, h264Viewers: outboxes.filter(\.h264).count,
            jpegViewers: outboxes.filter { !$0.h264 }.count, h264Frames: st.frames, h264Bytes: st.bytes, h264Keyframes: st.keyframes,
            h264ForcedKeyframes: st.forcedKeyframes,
            h264EncodeMsMean: st.frames > 0 ? (Double(st.encodeNanos) / Double(st.frames) / 1e4).rounded() / 100 : nil,
            h264Skipped: outboxes.reduce(0) { $0 + $1.videoSkipped }, jpegFrames: framesEncoded)
    }

    /// Sends a JSON text message to every viewer (or those `filter` accepts).
    public func broadcast(text: String) {
        for v in viewers.withLock({ Array($0.values) }) { v.sendText(text) }
    }

    /// Open tablet pages: the status's `viewers`; the admin page's preview (the region editor's picture) is not one.
    public var tabletPageCount: Int { viewers.withLock { $0.values.filter { !$0.preview }.count } }
    /// Open tablet pages per identity ("tablet-<id>" or "console"): who is online now.
    public var onlinePages: [String: Int] {
        viewers.withLock { v in v.values.filter { !$0.preview }.reduce(into: [:]) { $0[$1.label, default: 0] += 1 } }
    }
    public var framesEncoded: UInt64 { encoded.load(ordering: .relaxed) }

    /// JPEG and H.264 viewers now.
    var jpegViewerCount: Int { viewers.withLock { $0.values.filter { !$0.h264 }.count } }
    var h264ViewerCount: Int { viewers.withLock { $0.values.filter { $0.h264 }.count } }

    func addViewer(label: String = "", preview: Bool = false, h264 wanted: Bool = false) -> (Int, ViewerOutbox) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let useH264 = gives(h264: wanted)
        let o = ViewerOutbox(h264: useH264, label: label, preview: preview)
        if !preview { latency.addViewer(id, label: label) }
        viewers.withLock { $0[id] = o }
        return (id, o)
    }

    /// Tells a new viewer what its binary frames are (after `hello`, which stays the first message); an H.264
    /// viewer then waits for a keyframe, asked for now.
    func startVideo(_ o: ViewerOutbox) {
        if o.h264, let stream = h264 {
            if let c = stream.config.withLock({ $0 }) { o.sendText(JSONWire.string(c)) }
            if o.wantsKey(now: Self.seconds()) { stream.keyWanted.store(true, ordering: .relaxed) }
        } else {
            o.sendText(JSONWire.string(VideoConfigMessage.jpeg))
        }
    }

    func removeViewer(_ id: Int) {
        let o = viewers.withLock { $0.removeValue(forKey: id) }
        latency.removeViewer(id)
        o?.close()
    }

    static func seconds() -> Double { Double(BedsideCore.Clock.monotonicNanos()) / 1e9 }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await DedicatedThread.run(name: "jpeg", stop: { self.stop() }) { self.encodeLoop() } }
                if let stream = h264 {
                    group.addTask {
                        await DedicatedThread.run(name: "h264", stop: { stream.stop() }) {
                            stream.run(
                                viewers: { self.h264ViewerCount > 0 },
                                out: { bytes, key, seq, pts in self.sendVideo(bytes, key: key, seq: seq, ptsNanos: pts) },
                                announce: { m in self.broadcastVideo(JSONWire.string(m)) })
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
        for v in viewers.withLock({ Array($0.values) }) { v.close() }
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        wake.signal()
        h264?.stop()
    }

    /// An encoded H.264 frame to every H.264 viewer; one that waits for a keyframe asks the encoder for one.
    private func sendVideo(_ bytes: [UInt8], key: Bool, seq: UInt64, ptsNanos: UInt64) {
        let now = Self.seconds()
        latency.sent(seq: seq, ptsNanos: ptsNanos, sentNanos: BedsideCore.Clock.monotonicNanos())  // capture -> drawn, as JPEG
        var wantKey = false
        for v in viewers.withLock({ Array($0.values) }) where v.h264 {
            if v.sendVideo(bytes, key: key, now: now) { wantKey = true }
        }
        if wantKey { h264?.keyWanted.store(true, ordering: .relaxed) }
    }

    private func broadcastVideo(_ text: String) {
        for v in viewers.withLock({ Array($0.values) }) where v.h264 { v.sendText(text) }
    }

    private func encodeLoop() {
        let encoder: JPEGEncoder
        do { encoder = try JPEGEncoder(quality: quality) } catch {
            logger.error("JPEG encoder unavailable: \(error)")
            return
        }
        var scaler: FrameScaler?
        while !stopFlag.load(ordering: .relaxed) {
            guard let frame = frames.poll() else {
                wake.wait(timeoutSeconds: 0.1)
                continue
            }
            if jpegViewerCount == 0 || frame.width < 2 || frame.height < 2 { continue }
            do {
                var f = frame
                let w = min(displayWidth ?? frame.width, frame.width) & ~1
                let h = (frame.height * w / frame.width) & ~1
                let target: PixelFormat = frame.format == .gray8 ? .gray8 : .rgb24
                if w != frame.width || target != frame.format {
                    if scaler == nil || scaler!.outWidth != w || scaler!.outHeight != h || scaler!.outFormat != target {
                        scaler = FrameScaler(width: w, height: h, format: target)
                    }
                    f = try scaler!.scale(frame)
                }
                let jpeg = try encoder.compress(f.pixels, width: f.width, height: f.height, format: f.format)
                var msg = [UInt8](repeating: 0, count: 16)
                withUnsafeBytes(of: frame.seq.littleEndian) { msg.replaceSubrange(0..<8, with: $0) }
                withUnsafeBytes(of: frame.ptsNanos.littleEndian) { msg.replaceSubrange(8..<16, with: $0) }
                msg += jpeg
                encoded.add(1, ordering: .relaxed)
                latency.sent(seq: frame.seq, ptsNanos: frame.ptsNanos, sentNanos: BedsideCore.Clock.monotonicNanos())
                for v in viewers.withLock({ Array($0.values) }) where !v.h264 { v.sendFrame(msg) }
            } catch {
                logger.error("cannot encode frame \(frame.seq) for viewers: \(error)")
            }
        }
    }
}
