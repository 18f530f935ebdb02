import BedsideCore
import Foundation
import ModelBridge

#if canImport(Glibc)
import Glibc
#endif

/// What a run needs from the machine: its folders (state, runtime), its addresses, fresh secrets.
public enum BedsideSetup {
    /// Fills in what depends on the machine and the file: each model's download cache
    /// (`<state dir>/model-cache/<name>` unless `cache:` is set) and the config file's path.
    public static func withDefaults(_ config: BedsideConfig, configFile: String?) -> BedsideConfig {
        var c = config
        let state = stateDirectory()
        let file = configFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        for i in c.models.indices {
            if c.models[i].cacheDirectory == nil, let state { c.models[i].cacheDirectory = "\(state)/model-cache/\(c.models[i].name)" }
            c.models[i].configFile = file
        }
        return c
    }

    /// Where Bedside keeps its small state (paired tablets): `$BEDSIDE_STATE_DIR`, else
    /// `$XDG_STATE_HOME/bedside`, else `~/.local/state/bedside`. nil (nothing kept) when none can be made.
    public static func stateDirectory() -> String? {
        let env = ProcessInfo.processInfo.environment
        let dir =
            env["BEDSIDE_STATE_DIR"] ?? env["XDG_STATE_HOME"].map { $0 + "/bedside" }
            ?? (env["HOME"].map { $0 + "/.local/state/bedside" })
        guard let dir else { return nil }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return nil
        }
        return dir
    }

    /// Six digits, from the system's random source.
    public static func randomPIN() -> String {
        String(format: "%06d", Int.random(in: 0..<1_000_000))
    }

    public static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return String((0..<16).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
    }

    /// A private folder for worker sockets: `$XDG_RUNTIME_DIR` or /tmp, mode 0700.
    public static func runtimeDirectory() throws -> String {
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

    /// The first non-loopback IPv4 address, for the URL printed when serving the network.
    public static func hostAddress() -> String { hostAddresses().first ?? "0.0.0.0" }

    /// Every non-loopback IPv4 address of this machine, in interface order, without duplicates.
    public static func hostAddresses() -> [String] {
        var out: [String] = []
        var addrs: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&addrs) == 0, let first = addrs else { return [] }
        defer { freeifaddrs(addrs) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let a = p {
            if let sa = a.pointee.ifa_addr, sa.pointee.sa_family == UInt16(AF_INET) {
                var host = [CChar](repeating: 0, count: 64)
                getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, 64, nil, 0, NI_NUMERICHOST)
                let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !s.hasPrefix("127."), !out.contains(s) { out.append(s) }
            }
            p = a.pointee.ifa_next
        }
        return out
    }
}
