import Synchronization

/// A FIFO with a fixed capacity for the one consumer that must see every item (the recorder).
///
/// A full queue refuses new items and counts them as dropped: never silent, never unbounded.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var dropped: UInt64 = 0
        var closed = false
    }

    public let capacity: Int
    private let state = Mutex(State())
    private let condition = ConditionSignal()

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Appends `item`; returns false (and counts a drop) when the queue is full or closed.
    /// `force` ignores the capacity (control items that must not be lost); a closed queue still refuses.
    @discardableResult
    public func push(_ item: Element, force: Bool = false) -> Bool {
        let ok = state.withLock { s -> Bool in
            if s.closed || (!force && s.items.count - s.head >= capacity) {
                s.dropped += 1
                return false
            }
            s.items.append(item)
            return true
        }
        if ok { condition.signal() }
        return ok
    }

    public enum Popped {
        case item(Element)
        case timedOut
        case closed
    }

    /// Waits up to `timeoutSeconds` for an item.
    public func pop(timeoutSeconds: Double) -> Popped {
        let deadline = Clock.monotonicNanos() + UInt64(max(0, timeoutSeconds) * 1e9)
        while true {
            let r: Popped? = state.withLock { s in
                if s.head < s.items.count {
                    let e = s.items[s.head]
                    s.head += 1
                    if s.head > 64 && s.head * 2 > s.items.count {
                        s.items.removeFirst(s.head)
                        s.head = 0
                    }
                    return .item(e)
                }
                return s.closed ? .closed : nil
            }
            if let r { return r }
            let now = Clock.monotonicNanos()
            if now >= deadline { return .timedOut }
            condition.wait(timeoutSeconds: min(0.2, Double(deadline - now) / 1e9))
        }
    }

    /// Blocks the calling thread until an item arrives; `nil` once closed and drained.
    public func pop() -> Element? {
        while true {
            switch pop(timeoutSeconds: 3600) {
            case .item(let e): return e
            case .closed: return nil
            case .timedOut: continue
            }
        }
    }

    public func close() {
        state.withLock { $0.closed = true }
        condition.signal()
    }

    public var count: Int { state.withLock { $0.items.count - $0.head } }
    /// Whether `close()` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }
    public var dropped: UInt64 { state.withLock { $0.dropped } }
}
