#if canImport(Glibc)
import Glibc
#endif

/// Monotonic and wall clocks in nanoseconds, the one place Bedside reads time.
public enum Clock {
    /// `CLOCK_MONOTONIC` in nanoseconds; frame timestamps use this clock.
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Seconds since 1970 (`CLOCK_REALTIME`).
    public static func wallSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
