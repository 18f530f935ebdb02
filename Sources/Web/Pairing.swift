import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which tablets may see the page: pure decisions, no I/O, no clock (time is passed in).
///
/// - A six-digit pairing code, shown on Bedside's console and the admin page, is entered once on a tablet;
///   the tablet gets its own long random token (a cookie) and the code is replaced, so each code pairs one
///   tablet. The admin can make a new code at any time.
/// - Wrong codes are rate-limited per client: 5 wrong in a minute locks that client out for a minute
///   (10^6 codes at 5 a minute cannot be guessed while the code is valid).
/// - Each paired tablet can be revoked; its token stops working at once (open connections close).
/// - The console link token (`?token=`, `web.token`) stays valid for the operator's own devices and tests.
public struct PairingState: Sendable, Equatable, Codable {
    public struct Device: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var token: String
        public var pairedAt: Double
        public var lastSeen: Double?
        public var revoked: Bool = false
    }

    public enum PairResult: Sendable, Equatable {
        case paired(Device)
        case wrongCode(attemptsLeft: Int)
        case lockedOut(untilSeconds: Double)
    }

    public enum Identity: Sendable, Equatable {
        /// The link token Bedside printed at start-up.
        case console
        case device(id: String)
    }

    public private(set) var code: String
    public private(set) var devices: [Device] = []
    /// Wrong attempts per client (address), and lock-outs; not persisted.
    var failures: [String: [Double]] = [:]
    var lockedUntil: [String: Double] = [:]

    public static let maxFailures = 5
    public static let failureWindow = 60.0
    public static let lockout = 60.0

    enum CodingKeys: String, CodingKey { case code, devices }

    public init(code: String) {
        self.code = code
    }

    /// A tablet entered `code`. `newCode` and `newToken` are the random values to use if it pairs.
    public mutating func pair(
        code given: String, name: String, client: String, now: Double, newCode: String, newToken: String,
        newID: String
    ) -> PairResult {
        if let until = lockedUntil[client], now < until { return .lockedOut(untilSeconds: until - now) }
        let digits = given.filter(\.isNumber)
        guard !code.isEmpty, Self.constantTimeEqual(digits, code) else {
            var recent = (failures[client] ?? []).filter { now - $0 < Self.failureWindow }
            recent.append(now)
            failures[client] = recent
            if recent.count >= Self.maxFailures {
                lockedUntil[client] = now + Self.lockout
                failures[client] = []
                return .lockedOut(untilSeconds: Self.lockout)
            }
            return .wrongCode(attemptsLeft: Self.maxFailures - recent.count)
        }
        failures[client] = nil
        let clean = String(name.trimmingCharacters(in: .whitespacesAndNewlines).prefix(40))
        let device = Device(
            id: newID, name: clean.isEmpty ? "tablet \(devices.count + 1)" : clean, token: newToken, pairedAt: now)
        devices.append(device)
        code = newCode  // one code, one tablet
        return .paired(device)
    }

    /// Who holds `token`, or nil: unknown or revoked.
    public func identify(_ token: String?, console: String) -> Identity? {
        guard let token, !token.isEmpty else { return nil }
        if Self.constantTimeEqual(token, console) { return .console }
        for d in devices where !d.revoked && Self.constantTimeEqual(token, d.token) { return .device(id: d.id) }
        return nil
    }

    public func isValid(_ identity: Identity) -> Bool {
        switch identity {
        case .console: true
        case .device(let id): devices.contains { $0.id == id && !$0.revoked }
        }
    }

    public mutating func seen(_ id: String, now: Double) {
        if let i = devices.firstIndex(where: { $0.id == id }) { devices[i].lastSeen = now }
    }

    /// Revokes a paired tablet; false when there is no such tablet.
    public mutating func revoke(id: String) -> Bool {
        guard let i = devices.firstIndex(where: { $0.id == id && !$0.revoked }) else { return false }
        devices[i].revoked = true
        return true
    }

    public mutating func replaceCode(_ newCode: String) {
        code = newCode
    }

    /// Compares without returning early, so the time taken says nothing about how much matched.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

/// The pairing state with its randomness, its clock and its file (`<state dir>/viewers.json`, mode 0600, so paired
/// tablets stay paired across restarts).
public final class Pairing: Sendable {
    private let state: Mutex<PairingState>
    public let consoleToken: String
    public let file: String?

    public init(consoleToken: String, file: String?) {
        self.consoleToken = consoleToken
        self.file = file
        var s = PairingState(code: Self.randomCode())
        if let file, let data = FileManager.default.contents(atPath: file),
            let saved = try? JSONDecoder().decode(PairingState.self, from: data)
        {
            s = saved
            s.replaceCode(Self.randomCode())  // a code is never reused across restarts
        }
        state = Mutex(s)
        save()
    }

    public var code: String { state.withLock { $0.code } }
    public var devices: [PairingState.Device] { state.withLock { $0.devices } }

    public func pair(code: String, name: String, client: String) -> PairingState.PairResult {
        let r = state.withLock {
            $0.pair(
                code: code, name: name, client: client, now: Self.now(), newCode: Self.randomCode(),
                newToken: Self.randomToken(), newID: String(Self.randomToken().prefix(8)))
        }
        if case .paired = r { save() }
        return r
    }

    public func identify(_ token: String?) -> PairingState.Identity? {
        let now = Self.now()
        return state.withLock { s in
            let id = s.identify(token, console: consoleToken)
            if case .device(let d) = id { s.seen(d, now: now) }
            return id
        }
    }

    public func isValid(_ identity: PairingState.Identity) -> Bool { state.withLock { $0.isValid(identity) } }

    public func revoke(id: String) -> Bool {
        let ok = state.withLock { $0.revoke(id: id) }
        if ok { save() }
        return ok
    }

    @discardableResult
    public func newCode() -> String {
        let c = Self.randomCode()
        state.withLock { $0.replaceCode(c) }
        return c
    }

    private func save() {
        guard let file else { return }
        guard let data = try? JSONEncoder().encode(state.withLock { $0 }) else { return }
        let dir = (file as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let tmp = file + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            return
        }
        rename(tmp, file)
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Six digits from the system's random source.
    public static func randomCode() -> String { String(format: "%06d", Int.random(in: 0..<1_000_000)) }

    /// 32 characters, [a-z0-9], from the system's random source (~165 bits).
    public static func randomToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<32).map { _ in alphabet.randomElement()! })
    }
}
