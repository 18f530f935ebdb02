import BedsideCore
import Foundation
import Synchronization

/// The review page's proof of the admin PIN for what the browser fetches by itself (`<img>`, `<video>`): the
/// page unlocks with the PIN once (`POST /api/review/ticket`, PIN in the header) and gets an HttpOnly cookie
/// scoped to `/api/review`, so no PIN is ever written into an image or video address (where it would end in
/// the browser's history, a proxy's log or a screenshot of the address bar). Tickets live in memory only:
/// 12 hours, at most `limit` at once (the oldest goes first), all gone when Bedside restarts.
public final class ReviewTickets: Sendable {
    public static let cookieName = "bedside_review"
    public let lifetimeSeconds: Double
    let limit: Int
    private let tickets = Mutex<[String: Double]>([:])  // ticket -> expiry (epoch s)

    public init(lifetimeSeconds: Double = 12 * 3600, limit: Int = 64) {
        self.lifetimeSeconds = lifetimeSeconds
        self.limit = limit
    }

    /// A new ticket, valid from now for `lifetimeSeconds`.
    public func issue(now: Double = Date().timeIntervalSince1970) -> String {
        let t = BedsideSetup.randomToken()
        tickets.withLock { m in
            m = m.filter { $0.value > now }
            while m.count >= limit, let oldest = m.min(by: { $0.value < $1.value })?.key { m[oldest] = nil }
            m[t] = now + lifetimeSeconds
        }
        return t
    }

    public func isValid(_ ticket: String?, now: Double = Date().timeIntervalSince1970) -> Bool {
        guard let ticket, !ticket.isEmpty else { return false }
        return tickets.withLock { m in
            // Constant-time over the candidates, so a ticket cannot be guessed by timing.
            var ok = false
            for (t, expiry) in m where Access.tokenMatches(ticket, t) && expiry > now { ok = true }
            return ok
        }
    }

    /// The `Set-Cookie` value for `ticket`.
    public func cookie(_ ticket: String, secure: Bool) -> String {
        "\(Self.cookieName)=\(ticket); Path=/api/review; Max-Age=\(Int(lifetimeSeconds)); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
    }
}

/// `Range: bytes=...` of one range against a file of `size` bytes (RFC 9110 14.1.2): the bytes to send, nil
/// for no usable range (send the whole file), or `.unsatisfiable` (416). Several ranges are answered with the
/// first (a browser's video element asks for one at a time).
public enum ByteRange: Sendable, Equatable {
    case bytes(ClosedRange<Int>)
    case unsatisfiable

    public static func parse(_ header: String?, size: Int) -> ByteRange? {
        guard let header, header.hasPrefix("bytes=") else { return nil }
        guard let first = header.dropFirst(6).split(separator: ",").first?.trimmingCharacters(in: .whitespaces) else { return nil }
        let parts = first.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let a = Int(parts[0]), b = Int(parts[1])
        switch (parts[0].isEmpty, parts[1].isEmpty) {
        case (true, false):  // the last b bytes
            guard let b, b > 0 else { return .unsatisfiable }
            guard size > 0 else { return .unsatisfiable }
            return .bytes(max(0, size - b)...(size - 1))
        case (false, _):
            guard let a, a >= 0 else { return nil }
            guard a < size else { return .unsatisfiable }
            if parts[1].isEmpty { return .bytes(a...(size - 1)) }
            guard let b, b >= a else { return nil }
            return .bytes(a...min(b, size - 1))
        default:
            return nil
        }
    }
}
