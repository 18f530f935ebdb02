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
        var frame: [UInt8]?
        var texts: [String] = []
        var waiter: CheckedContinuation<Item?, Never>?
        var closed = false
        var skippedFrames: UInt64 = 0
    }

    private let state = Mutex(State())
    let textLimit: Int

    init(textLimit: Int = 32) { self.textLimit = textLimit }

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
