import Synchronization

/// A single-consumer slot holding only the newest value.
///
/// `put` replaces whatever is waiting (counting the replaced value as skipped);
/// `next()` takes the newest value or waits for one. Nothing ever queues.
public final class Mailbox<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiter: CheckedContinuation<Value?, Never>?
        var closed = false
        var skipped: UInt64 = 0
        var delivered: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Woken on every `put`, for a consumer that is a thread rather than a task.
    public let signal: ConditionSignal?

    public init(signal: ConditionSignal? = nil) {
        self.signal = signal
    }

    /// Offers a value; a value not yet taken is replaced (and counted in `skipped`).
    public func put(_ value: Value) {
        let waiter: CheckedContinuation<Value?, Never>? = state.withLock { s in
            if s.closed { return nil }
            if let w = s.waiter {
                s.waiter = nil
                s.delivered += 1
                return w
            }
            if s.value != nil { s.skipped += 1 }
            s.value = value
            return nil
        }
        waiter?.resume(returning: value)
        signal?.signal()
    }

    /// The newest value not yet taken, waiting if there is none. `nil` once closed or cancelled.
    public func next() async -> Value? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Value?, Never>) in
                let immediate: Value?? = state.withLock { s in
                    if let v = s.value {
                        s.value = nil
                        s.delivered += 1
                        return .some(v)
                    }
                    if s.closed || Task.isCancelled { return .some(nil) }
                    precondition(s.waiter == nil, "Mailbox has a single consumer")
                    s.waiter = c
                    return .none
                }
                if let immediate { c.resume(returning: immediate) }
            }
        } onCancel: {
            let w = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            w?.resume(returning: nil)
        }
    }

    /// Takes the waiting value without suspending.
    public func poll() -> Value? {
        state.withLock { s in
            defer { s.value = nil }
            if s.value != nil { s.delivered += 1 }
            return s.value
        }
    }

    /// Wakes the consumer with `nil`; later puts are ignored.
    public func close() {
        let w = state.withLock { s in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
    }

    /// Values replaced before the consumer took them.
    public var skipped: UInt64 { state.withLock { $0.skipped } }
    public var delivered: UInt64 { state.withLock { $0.delivered } }
}
