#if canImport(Glibc)
import Glibc
#endif

/// An auto-reset event for a consumer thread that must block (encoder, capture loop).
///
/// The corresponding C calls are `pthread_cond_timedwait` and `pthread_cond_signal`.
public final class ConditionSignal: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var pending = false

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    public func signal() {
        pthread_mutex_lock(&mutex)
        pending = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits for a signal or the timeout; returns whether a signal arrived.
    @discardableResult
    public func wait(timeoutSeconds: Double) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if !pending {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let ns = Int(ts.tv_nsec) + Int(timeoutSeconds * 1e9)
            ts.tv_sec += ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            _ = pthread_cond_timedwait(&cond, &mutex, &ts)
        }
        let got = pending
        pending = false
        return got
    }
}
