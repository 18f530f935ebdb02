import BedsideCore
import CFFmpeg
import Capture
import Foundation
import Logging
import Recording
import Synchronization

/// The live picture as H.264 for the tablets that can decode it (WebCodecs): one low-latency encode shared by
/// all of them (libx264 `ultrafast` + `zerolatency`: no B-frames, no look-ahead, one frame in, one packet out),
/// at the JPEG stream's display size, CRF quality under a bit rate cap, a keyframe every `keyframe_s` and at once
/// when a tablet joins or falls behind (an IDR it can start from).
///
/// Runs on its own thread, taking the newest captured frame (an older one not yet encoded is skipped, never
/// queued), and only while an H.264 tablet is connected: capture, recording, the model and the JPEG tablets never
/// wait for it. Each packet goes out as one binary WebSocket message: `seq` (u64 LE), `pts_ns` (u64 LE), flags
/// (u8, bit 0 = keyframe), then the Annex B access unit (SPS and PPS in front of every keyframe). A `video` text
/// message gives the codec string and size before the first keyframe and whenever they change.
final class H264Stream: Sendable {
    static let headerBytes = 17

    let frames: Mailbox<Frame>
    let wake = ConditionSignal()
    let keyWanted = Atomic<Bool>(false)
    let stopFlag = Atomic<Bool>(false)
    let settings: LiveVideoConfig
    let displayWidth: Int?
    let logger: Logger
    /// The codec and size now (sent to a tablet that joins).
    let config = Mutex<VideoConfigMessage?>(nil)
    let stats = Mutex(Stats())

    struct Stats: Sendable, Equatable {
        var frames: UInt64 = 0
        var keyframes: UInt64 = 0
        var forcedKeyframes: UInt64 = 0
        var bytes: UInt64 = 0
        var encodeNanos: UInt64 = 0
        var failures: UInt64 = 0
    }

    init(settings: LiveVideoConfig, displayWidth: Int?, logger: Logger) {
        frames = Mailbox(signal: wake)
        self.settings = settings
        self.displayWidth = displayWidth
        self.logger = logger
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        wake.signal()
    }

    /// The encode loop (its own thread). `viewers` says whether any H.264 tablet is connected; `out` fans a
    /// packet out to them (the message, keyframe or not, the frame's seq and capture time); `announce` sends a
    /// new `video` message to them.
    func run(
        viewers: () -> Bool, out: (_ message: [UInt8], _ key: Bool, _ seq: UInt64, _ ptsNanos: UInt64) -> Void,
        announce: (VideoConfigMessage) -> Void
    ) {
        var encoder: VideoEncoder?
        var firstPts: UInt64?
        var lastTicks: Int64 = -1
        var codec = ""
        var failedAt: UInt64 = 0  // after a failure, 2 s before trying again (one log line, not one per frame)
        while !stopFlag.load(ordering: .relaxed) {
            guard let frame = frames.poll() else {
                wake.wait(timeoutSeconds: 0.1)
                continue
            }
            if failedAt > 0, BedsideCore.Clock.monotonicNanos() &- failedAt < 2_000_000_000 { continue }
            guard viewers(), frame.width >= 16, frame.height >= 16 else {
                encoder = nil  // nobody watches: no encoder, no CPU; the next tablet starts a fresh stream
                continue
            }
            let w = min(displayWidth ?? frame.width, frame.width) & ~1
            let h = (frame.height * w / frame.width) & ~1
            do {
                if encoder == nil || encoder!.width != w || encoder!.height != h {
                    var s = EncoderSettings()
                    s.codecs = ["libx264"]
                    s.crf = settings.crf
                    s.maxrateKbps = settings.maxrateKbps
                    s.keyframeSeconds = settings.keyframeSeconds
                    s.forcedIDR = true
                    s.threads = 2
                    encoder = try VideoEncoder(width: w, height: h, fps: 30, globalHeader: false, settings: s)
                    firstPts = nil
                    lastTicks = -1
                    codec = ""
                    keyWanted.store(true, ordering: .relaxed)
                }
                guard let enc = encoder else { continue }
                let origin = firstPts ?? frame.ptsNanos
                firstPts = origin
                var ticks = Int64((frame.ptsNanos &- origin) / 1000) * Int64(enc.timeBase.den) / 1_000_000
                if ticks <= lastTicks { ticks = lastTicks + 1 }  // strictly increasing, whatever the clock did
                lastTicks = ticks
                let force = keyWanted.exchange(false, ordering: .relaxed)
                let t0 = BedsideCore.Clock.monotonicNanos()
                var sent: UInt64 = 0, keys: UInt64 = 0
                try enc.encode(frame, pts: ticks, forceKey: force) { p in
                    let size = Int(p.pointee.size)
                    guard size > 0, let data = p.pointee.data else { return }
                    let key = p.pointee.flags & AV_PKT_FLAG_KEY != 0
                    var msg = [UInt8](repeating: 0, count: Self.headerBytes)
                    withUnsafeBytes(of: frame.seq.littleEndian) { msg.replaceSubrange(0..<8, with: $0) }
                    withUnsafeBytes(of: frame.ptsNanos.littleEndian) { msg.replaceSubrange(8..<16, with: $0) }
                    msg[16] = key ? 1 : 0
                    msg.append(contentsOf: UnsafeBufferPointer(start: data, count: size))
                    if key, let c = h264CodecString(annexB: Array(msg[Self.headerBytes...])), c != codec {
                        codec = c
                        let m = VideoConfigMessage(codec: c, width: w, height: h)
                        config.withLock { $0 = m }
                        announce(m)
                    }
                    sent += UInt64(msg.count)
                    if key { keys += 1 }
                    out(msg, key, frame.seq, frame.ptsNanos)
                }
                let took = BedsideCore.Clock.monotonicNanos() &- t0
                stats.withLock { s in
                    s.frames += 1
                    s.keyframes += keys
                    if force { s.forcedKeyframes += 1 }
                    s.bytes += sent
                    s.encodeNanos += took
                }
            } catch {
                stats.withLock { $0.failures += 1 }
                logger.error("cannot encode frame \(frame.seq) as H.264 for the tablets (trying again in 2 s): \(error)")
                encoder = nil
                failedAt = BedsideCore.Clock.monotonicNanos()
            }
        }
    }
}
