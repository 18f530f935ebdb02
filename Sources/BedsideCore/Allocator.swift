import CSpawn
import Foundation

/// How Bedside asks glibc's malloc to treat video frames.
///
/// A 1080p frame is 2-4 MB, allocated on the capture thread and freed wherever its last reader lets go
/// (the recorder's encoder, the hub, the model feed), 30 times a second. glibc serves blocks above its mmap
/// threshold (128 KiB at start) with their own mapping, but the first time such a block is freed it raises the
/// threshold to that size ("dynamic threshold"): from then on every frame comes from the heap of whichever
/// arena the allocating thread uses, and is freed into it from other threads. Those arenas fragment around
/// long-lived small blocks and give little back, so resident memory creeps for hours (the 1 h soak of issue
/// 19: +10 % after minute 10). A fixed threshold keeps every frame-sized block in its own mapping, returned
/// to the kernel on free; small blocks are untouched.
public enum Allocator {
    /// The fixed threshold: blocks from this size up get their own mapping. Below the smallest frame that
    /// matters (a 720p grey frame is 0.9 MB) and well above JPEG or H.264 packets and the model's input.
    public static let frameThresholdBytes = 512 * 1024
    /// Free memory at a heap's top beyond this goes back to the kernel at once (glibc's default is 128 KiB; its
    /// dynamic threshold would have raised it to twice the largest frame).
    public static let trimThresholdBytes = 1024 * 1024

    public enum Tuning: Equatable, Sendable {
        /// The fixed threshold is in force.
        case fixed(bytes: Int)
        /// `MALLOC_MMAP_THRESHOLD_` (or the `glibc.malloc.mmap_threshold` tunable) is set in the environment:
        /// glibc already uses the operator's value (the setting, `name=value`, for the log).
        case fromEnvironment(String)
        /// glibc refused the setting.
        case refused
    }

    /// The decision, pure: the operator's environment wins over Bedside's default.
    public static func plan(environment: [String: String]) -> Tuning {
        if let v = environment["MALLOC_MMAP_THRESHOLD_"], !v.isEmpty { return .fromEnvironment("MALLOC_MMAP_THRESHOLD_=\(v)") }
        if let t = environment["GLIBC_TUNABLES"],
            let setting = t.split(separator: ":").first(where: { $0.hasPrefix("glibc.malloc.mmap_threshold=") })
        {
            return .fromEnvironment(String(setting))
        }
        return .fixed(bytes: frameThresholdBytes)
    }

    /// Applies the plan once, early, before frames flow. Returns what is in force, for the log.
    @discardableResult
    public static func tuneForVideoFrames(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Tuning
    {
        let plan = plan(environment: environment)
        guard case .fixed(let bytes) = plan else { return plan }
        let mapped = bedside_malloc_set_mmap_threshold(Int32(bytes)) == 1
        let trimmed = bedside_malloc_set_trim_threshold(Int32(trimThresholdBytes)) == 1
        return mapped && trimmed ? plan : .refused
    }

    /// Whether a live block from glibc's `malloc` has its own mapping. Tests only: undefined for any other
    /// pointer (one into a block, a freed one, one from mmap or another allocator).
    static func hasOwnMapping(_ block: UnsafeRawPointer) -> Bool { bedside_malloc_block_is_mapped(block) != 0 }
}
