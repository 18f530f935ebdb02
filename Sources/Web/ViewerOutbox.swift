import Synchronization

/// What one viewer is waiting to be sent: the newest video frame only, and a short list of text messages.
///
/// A slow viewer skips frames (counted) and, past `textLimit`, the oldest text messages; it never holds
/// up anyone else, and its memory stays bounded.
final class ViewerOutbox: Sendable {
    enum Item: Sendable {
        case frame([UInt8])
        case text(String)
    }

    private struct State {
        /// H.264 viewers: encoded frames in order from a keyframe (VideoQueue's rules); nil for JPEG viewers.
        var video: VideoQueue?
        var frame: [UInt8]?
        var texts: [String] = []
        var waiter: CheckedContinuation<Item?, Never>?
        var closed = false
        var skippedFrames: UInt64 = 0
    }

    private let state = Mutex(State())
    let textLimit: Int

    /// Whether this viewer gets the H.264 stream (else JPEG frames).
    let h264: Bool
    /// Who it is (`Access.describe`: "tablet-<id>", "console"), and whether it is the admin page's preview (the
    /// region editor's picture), which is not a tablet and is not counted as one.
    let label: String
    let preview: Bool

    init(textLimit: Int = 32, h264: Bool = false, label: String = "", preview: Bool = false) {
        self.textLimit = textLimit
        self.h264 = h264
        self.label = label
        self.preview = preview
        if h264 { state.withLock { $0.video = VideoQueue() } }
    }

    /// Queues an encoded H.264 frame (in order; a viewer that cannot keep up skips to the next keyframe).
    /// Returns whether this viewer needs a keyframe.
    func sendVideo(_ bytes: [UInt8], key: Bool, now: Double) -> Bool {
        var wants = false
        let handoff: (CheckedContinuation<Item?, Never>, [UInt8])? = state.withLock { s in
            guard !s.closed, var q = s.video else { return nil }
            wants = q.offer(.init(bytes: bytes, key: key), now: now)
            defer { s.video = q }
            guard let waiter = s.waiter, let p = q.take() else { return nil }
            s.waiter = nil
            return (waiter, p.bytes)
        }
        if let (waiter, b) = handoff { waiter.resume(returning: .frame(b)) }
        return wants
    }

    /// Whether this H.264 viewer waits for a keyframe and may ask for one now.
    func wantsKey(now: Double) -> Bool {
        state.withLock { s in
            guard var q = s.video else { return false }
            defer { s.video = q }
            return q.wantsKey(now: now)
        }
    }

    /// Frames this H.264 viewer did not get (it joined between keyframes, or its link could not keep up).
    var videoSkipped: UInt64 { state.withLock { $0.video?.skipped ?? 0 } }

    func sendFrame(_ jpeg: [UInt8]) {
        let w: CheckedContinuation<Item?, Never>? = state.withLock { s in
            if s.closed { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            if s.frame != nil { s.skippedFrames += 1 }
            s.frame = jpeg
            return nil
        }
        w?.resume(returning: .frame(jpeg))
    }

    func sendText(_ text: String) {
        let w: CheckedContinuation<Item?, Never>? = state.withLock { s in
            if s.closed { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.texts.append(text)
            if s.texts.count > textLimit { s.texts.removeFirst(s.texts.count - textLimit) }
            return nil
        }
        w?.resume(returning: .text(text))
    }

    /// Text first (small, ordered), then the newest frame; nil once closed.
    func next() async -> Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Item?, Never>) in
                let now: Item?? = state.withLock { s in
                    if !s.texts.isEmpty { return .some(.text(s.texts.removeFirst())) }
                    if var q = s.video, let p = q.take() {
                        s.video = q
                        return .some(.frame(p.bytes))
                    }
                    if let f = s.frame {
                        s.frame = nil
                        return .some(.frame(f))
                    }
                    if s.closed || Task.isCancelled { return .some(nil) }
                    s.waiter = c
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            close()
        }
    }

    func close() {
        let w = state.withLock { s in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
    }

    var skippedFrames: UInt64 { state.withLock { $0.skippedFrames } }
}
