import Foundation
import Synchronization

/// Wrong admin PINs, per caller (its pairing identity): after `allowed` wrong PINs in a row the caller's PIN checks
/// are refused for a while, doubling each time (60 s up to 15 min), so the six-digit PIN cannot be tried through in
/// minutes from a paired tablet. A right PIN resets the count. Pure decisions; the caller logs them.
public struct AdminPINState: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case ok
        /// Wrong; `left` more tries before the lockout.
        case wrong(left: Int)
        /// Refused without checking; try again after `seconds`.
        case locked(seconds: Int)
    }

    public var allowed = 5
    public var baseLockSeconds = 60.0
    public var maxLockSeconds = 900.0
    private var failures: [String: Int] = [:]
    private var lockouts: [String: Int] = [:]
    private var lockedUntil: [String: Double] = [:]

    public init() {}

    public mutating func check(caller: String, correct: Bool, now: Double) -> Verdict {
        if let until = lockedUntil[caller], now < until { return .locked(seconds: Int((until - now).rounded(.up))) }
        if correct {
            failures[caller] = nil
            lockouts[caller] = nil
            lockedUntil[caller] = nil
            return .ok
        }
        let n = (failures[caller] ?? 0) + 1
        failures[caller] = n
        if n >= allowed {
            let k = lockouts[caller] ?? 0
            lockouts[caller] = k + 1
            failures[caller] = 0
            let seconds = min(maxLockSeconds, baseLockSeconds * Double(1 << min(k, 10)))
            lockedUntil[caller] = now + seconds
            return .locked(seconds: Int(seconds))
        }
        return .wrong(left: allowed - n)
    }
}

/// The shared guard the web server uses.
final class AdminPINGuard: Sendable {
    private let state = Mutex(AdminPINState())

    func check(caller: String, correct: Bool) -> AdminPINState.Verdict {
        let now = Date().timeIntervalSince1970
        return state.withLock { $0.check(caller: caller, correct: correct, now: now) }
    }
}

/// Refused requests are logged, at most one line per `interval` per kind, with how many were refused since.
final class RefusalLog: Sendable {
    private let state = Mutex<[String: (last: Double, count: Int)]>([:])
    let interval: Double

    init(interval: Double = 10) { self.interval = interval }

    /// The line to log now, or nil while inside the interval (the refusal is counted).
    func note(_ kind: String, _ detail: String) -> String? {
        let now = Date().timeIntervalSince1970
        return state.withLock { s -> String? in
            var e = s[kind] ?? (last: 0, count: 0)
            e.count += 1
            defer { s[kind] = e }
            guard now - e.last >= interval else { return nil }
            let line = e.count > 1 ? "\(detail) (\(e.count) such refusals since the last line)" : detail
            e.last = now
            e.count = 0
            return line
        }
    }
}
