import BedsideCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The private folder a run keeps its workers' sockets in, and the clean-up of what killed runs left behind.
public enum ModelRuntime {
    /// A private folder for worker sockets: `$XDG_RUNTIME_DIR` or /tmp, mode 0700.
    public static func makeDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/tmp"
        // mkdtemp: a fresh, unpredictable folder with mode 0700 that nobody else can have made first.
        var template = Array("\(base)/bedside-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SystemError.last("mkdtemp \(base)/bedside-XXXXXX", fix: "make \(base) writable, or set XDG_RUNTIME_DIR to a folder that is")
        }
        let folder = String(cString: made)
        _ = FileManager.default.createFile(atPath: "\(folder)/\(WorkerProcess.runtimeMarker)", contents: Data("\(getpid())\n".utf8))
        removeLeftovers(runtimeBase: base)
        return folder
    }

    /// What a Bedside that was killed (SIGKILL, power loss) left behind: its runtime folder (sockets) and its
    /// frame rings in /dev/shm. Only those of processes that no longer exist.
    public static func removeLeftovers(runtimeBase: String) {
        let fm = FileManager.default
        func dead(_ pid: Int32?) -> Bool { pid.map(ProcessLiveness.isGone) ?? false }
        // Only what this user made: in /tmp and /dev/shm anyone can plant a `bedside-*` (a symlink, another user's
        // folder), and a recursive delete must not follow it.
        func ours(_ path: String, folder: Bool) -> Bool {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_uid == getuid() else { return false }
            let type = st.st_mode & S_IFMT
            return folder ? type == S_IFDIR : (type == S_IFDIR || type == S_IFREG)
        }
        for name in (try? fm.contentsOfDirectory(atPath: runtimeBase)) ?? [] where name.hasPrefix("bedside-") {
            let folder = "\(runtimeBase)/\(name)"
            guard ours(folder, folder: true),
                let text = try? String(contentsOfFile: "\(folder)/\(WorkerProcess.runtimeMarker)", encoding: .utf8),
                dead(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            else { continue }
            try? fm.removeItem(atPath: folder)
        }
        for name in (try? fm.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where name.hasPrefix("bedside-") {
            let pid = name.dropFirst("bedside-".count).prefix { $0.isNumber }
            if dead(Int32(pid)), ours("/dev/shm/\(name)", folder: false) { try? fm.removeItem(atPath: "/dev/shm/\(name)") }
        }
    }
}
