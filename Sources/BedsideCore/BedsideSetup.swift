import Foundation

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

    /// The first non-loopback IPv4 address, for the URL printed when serving the network.
    public static func hostAddress() -> String { hostAddresses().first ?? "0.0.0.0" }

    /// Where a tablet on the network reaches Bedside, best first: `web.names`, then, bound to every interface,
    /// each of this box's `addresses`, else the bound address itself. Empty when bound to loopback (web.names
    /// or not: no tablet reaches it there).
    public static func tabletHosts(bind: String, names: [String], addresses: [String]) -> [String] {
        let wildcard = bind == "0.0.0.0" || bind == "::"
        let loopback = bind == "localhost" || bind.hasPrefix("127.") || bind == "::1"
        guard !loopback else { return [] }  // no tablet reaches it, whatever web.names says
        var out: [String] = []
        for h in names + (wildcard ? addresses : [bind]) where !out.contains(h) { out.append(h) }
        return out
    }

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
