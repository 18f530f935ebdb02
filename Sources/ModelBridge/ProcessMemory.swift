import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of a process group, read from /proc (a model's worker and any children it forked).
enum ProcessMemory {
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Sum of resident memory (MB) of the processes whose process group is `group`; nil when none is left.
    /// The leader is counted even if it left the group.
    static func residentMB(group: Int32) -> Int? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        var pages = 0
        var found = false
        for e in entries {
            guard let pid = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the command name: state(3) ppid(4) pgrp(5) ... rss(24).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 21, let pgrp = Int32(fields[2]), pid == group || pgrp == group,
                let rss = Int(fields[21])
            else { continue }
            found = true
            pages += rss
        }
        return found ? pages * pageSize / 1_048_576 : nil
    }
}
