import BedsideCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

// Access control as middleware, in the order a request meets it: same origin (POST), pairing token, admin PIN.
// Each refusal is an `APIError` with the fix; each is logged, at most one line per kind per 10 s (`RefusalLog`).

/// A POST from another site's page (its Origin) is refused, so no page elsewhere can act with a tablet's cookie.
/// No Origin (curl, a scraper) passes: those need the token anyway.
public struct SameOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .post || Access.originAllowed(request) else {
            logger.warning(
                "\(request.method) \(request.uri.path) from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")"])
            throw APIError.foreignOrigin
        }
        return try await next(request, context)
    }
}

/// Needs a valid pairing token (`?token=`, `Authorization: Bearer`, or the tablet's cookie); puts who it is into
/// the context for the routes and the admin PIN check.
public struct PairingTokenMiddleware: RouterMiddleware {
    public typealias Context = BedsideRequestContext
    let pairing: Pairing
    let refusals: RefusalLog
    let logger: Logger

    init(pairing: Pairing, refusals: RefusalLog, logger: Logger) {
        self.pairing = pairing
        self.refusals = refusals
        self.logger = logger
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let who = pairing.identify(Access.token(of: request)) else {
            if let line = refusals.note("token", "refused \(request.method) \(request.uri.path): no valid pairing token") {
                logger.notice("\(line)")
            }
            throw APIError.noToken
        }
        var context = context
        context.viewer = who
        return try await next(request, context)
    }
}

/// Admin actions need the admin PIN (`X-Admin-PIN` or `?pin=`), with a lockout per caller after wrong guesses.
/// Runs after `PairingTokenMiddleware` (the caller is the paired identity).
public struct AdminPINMiddleware: RouterMiddleware {
    public typealias Context = BedsideRequestContext
    let pin: String
    let guardian: AdminPINGuard
    let refusals: RefusalLog
    let logger: Logger
    /// What the refusal tells the user to do (the review page asks to be opened with the PIN).
    let fix: String

    /// Where a review ticket (cookie) stands in for the PIN: the review page's images and video.
    let tickets: ReviewTickets?

    init(pin: String, guardian: AdminPINGuard, refusals: RefusalLog, logger: Logger, fix: String, tickets: ReviewTickets? = nil) {
        self.pin = pin
        self.guardian = guardian
        self.refusals = refusals
        self.logger = logger
        self.fix = fix
        self.tickets = tickets
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let tickets, tickets.isValid(Access.cookie(ReviewTickets.cookieName, of: request)) {
            return try await next(request, context)
        }
        let given: String? =
            request.headers[values: Access.adminPINHeader].first ?? request.uri.queryParameters.get("pin").map { String($0) }
        let correct = !pin.isEmpty && Access.tokenMatches(given, pin)
        // No PIN at all is not a guess: refused, but it does not count toward the lockout.
        if !correct, (given ?? "").isEmpty { throw APIError.wrongPIN(fix: fix) }
        let caller = context.viewer.map(Access.describe) ?? "unknown"
        switch guardian.check(caller: caller, correct: correct) {
        case .ok:
            return try await next(request, context)
        case .wrong(let left):
            logger.warning("wrong admin PIN for \(request.uri.path) from \(caller): \(left) more tries before a lockout")
            throw APIError.wrongPIN(fix: fix)
        case .locked(let seconds):
            if let line = refusals.note(
                "pin-locked-\(caller)", "admin PIN checks locked for \(caller) (\(seconds) s left) after repeated wrong PINs")
            {
                logger.warning("\(line)")
            }
            throw APIError(
                .tooManyRequests, "too many wrong admin PINs from this device: locked for \(seconds) s",
                fix: "wait, then enter the PIN Bedside printed at start-up")
        }
    }
}

/// The checks the middleware and the WebSocket upgrade share.
public enum Access {
    /// The cookie a paired tablet holds.
    public static let cookieName = "bedside_token"
    static let adminPINHeader = HTTPField.Name("X-Admin-PIN")!

    /// Constant-time comparison, so a token or PIN cannot be guessed by timing.
    public static func tokenMatches(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8), b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// The token a request carries: `?token=` (the console link), `Authorization: Bearer`, or the pairing cookie.
    /// The value of cookie `name`, if the request carries it.
    public static func cookie(_ name: String, of request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces)
                if kv.hasPrefix(name + "=") { return String(kv.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }

    public static func token(of request: Request) -> String? {
        if let t = request.uri.queryParameters.get("token") { return String(t) }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        return cookie(cookieName, of: request)
    }

    /// A browser request from another site's page carries that site's Origin: refused, so a page elsewhere cannot
    /// ride on a tablet's cookie. No Origin (non-browser clients) passes; they need the token anyway.
    public static func originAllowed(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let authority = request.head.authority?.lowercased(), let url = URL(string: origin.lowercased()),
            let host = url.host
        else { return false }
        if let port = url.port { return authority == "\(host):\(port)" }
        let defaultPort = url.scheme == "https" ? 443 : 80
        return authority == host || authority == "\(host):\(defaultPort)"
    }

    public static func describe(_ who: PairingState.Identity) -> String {
        switch who {
        case .console: "console"
        case .device(let id): "tablet-\(id)"
        }
    }
}
