#if canImport(Glibc)
import Glibc
#endif

/// Whether a process still exists, for telling what a killed Bedside left behind from what a live one uses.
public enum ProcessLiveness {
    /// True only when no process has this PID (ESRCH); one of another user (EPERM) still exists.
    public static func isGone(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
