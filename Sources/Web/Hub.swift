import BedsideCore
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
    /// Who each viewer is (`Access.describe`: "tablet-<id>", "console") and whether it is the admin page's
    /// preview (the region editor's picture), which is not a tablet and is not counted as one.
    let roles = Mutex<[Int: (label: String, preview: Bool)]>([:])
    let nextID = Atomic<Int>(0)
    let stopFlag = Atomic<Bool>(false)
    let displayWidth: Int?
    let quality: Int
    let logger: Logger
    let encoded = Atomic<UInt64>(0)
    /// Capture -> drawn latency, from what the pages report back (`viewers_latency` in the status).
    public let latency = ViewerLatency()

    public init(displayWidth: Int?, quality: Int, logger: Logger) {
        frames = Mailbox(signal: wake)
        self.displayWidth = displayWidth
        self.quality = quality
        self.logger = logger
    }

    /// Offers a captured frame; the encoder takes the newest one when it is free.
    public func offer(_ frame: Frame) { frames.put(frame) }

    /// Sends a JSON text message to every viewer (or those `filter` accepts).
    public func broadcast(text: String) {
        for v in viewers.withLock({ Array($0.values) }) { v.sendText(text) }
    }

    /// Every open stream, tablets and the admin page's preview alike (whether frames need encoding at all).
    public var viewerCount: Int { viewers.withLock { $0.count } }
    /// Open tablet pages: the status's `viewers`; the admin page's preview is not one.
    public var tabletPageCount: Int { roles.withLock { $0.values.filter { !$0.preview }.count } }
    /// Open tablet pages per identity ("tablet-<id>" or "console"): who is online now.
    public var onlinePages: [String: Int] {
        roles.withLock { r in r.values.filter { !$0.preview }.reduce(into: [:]) { $0[$1.label, default: 0] += 1 } }
    }
    public var framesEncoded: UInt64 { encoded.load(ordering: .relaxed) }

    func addViewer(label: String = "", preview: Bool = false) -> (Int, ViewerOutbox) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let o = ViewerOutbox()
        roles.withLock { $0[id] = (label, preview) }
        if !preview { latency.addViewer(id, label: label) }
        viewers.withLock { $0[id] = o }
        return (id, o)
    }

    func removeViewer(_ id: Int) {
        let o = viewers.withLock { $0.removeValue(forKey: id) }
        roles.withLock { $0[id] = nil }
        latency.removeViewer(id)
        o?.close()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await DedicatedThread.run(name: "jpeg", stop: { self.stop() }) { self.encodeLoop() }
        } onGracefulShutdown: {
            self.stop()
        }
        for v in viewers.withLock({ Array($0.values) }) { v.close() }
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        wake.signal()
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
            if viewerCount == 0 || frame.width < 2 || frame.height < 2 { continue }
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
                for v in viewers.withLock({ Array($0.values) }) { v.sendFrame(msg) }
            } catch {
                logger.error("cannot encode frame \(frame.seq) for viewers: \(error)")
            }
        }
    }
}
