import BedsideCore
import Foundation
import Hummingbird
import Logging

/// Pairing a tablet (`POST /api/pair`, no token: the code shown on the console and the admin page, once per
/// tablet; the answer sets the tablet's cookie) and the admin's tablet list: overview, revoke, a new code.
struct PairingRoutes {
    let pairing: Pairing
    /// The status object, for the admin overview (the same text the tablets get).
    let status: @Sendable () -> String
    /// Whether the page is served over HTTPS: the cookie is then `Secure`.
    let secure: Bool
    let logger: Logger
    /// Open tablet pages per identity (`Hub.onlinePages`): which tablets are online now.
    let online: @Sendable () -> [String: Int]
    /// How the page reaches the tablets (the admin page says it, with the CA's fingerprint to compare).
    var transport = TransportSummary(encryption: .loopback, caFingerprint: nil)

    struct PairRequest: Codable, Sendable {
        var code: String
        var name: String?
    }

    struct Paired: Codable, Sendable {
        var id: String
        var name: String
    }

    struct Tablet: Codable, Sendable {
        var id: String
        var name: String
        var pairedAt: Double
        var lastSeen: Double?
        var revoked: Bool
        /// Pages this tablet has open now (0: offline).
        var online: Int

        init(_ d: PairingState.Device, online: [String: Int]) {
            id = d.id
            name = d.name
            pairedAt = d.pairedAt
            lastSeen = d.lastSeen
            revoked = d.revoked
            self.online = online[Access.describe(.device(id: d.id))] ?? 0
        }

        enum CodingKeys: String, CodingKey {
            case id, name, revoked, online
            case pairedAt = "paired_at", lastSeen = "last_seen"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(pairedAt, forKey: .pairedAt)
            try c.encode(lastSeen, forKey: .lastSeen)  // null until the tablet is seen
            try c.encode(revoked, forKey: .revoked)
            try c.encode(online, forKey: .online)
        }
    }

    struct Overview: Encodable, Sendable {
        var pairingCode: String
        var tablets: [Tablet]
        /// Tablet pages opened with the console link (the token Bedside printed), not a paired tablet.
        var consolePages: Int
        var transport: TransportSummary
        var status: RawJSON
        enum CodingKeys: String, CodingKey {
            case tablets, status, transport
            case pairingCode = "pairing_code", consolePages = "console_pages"
        }
    }

    struct Code: Codable, Sendable {
        var pairingCode: String
        enum CodingKeys: String, CodingKey { case pairingCode = "pairing_code" }
    }

    struct Revoked: Codable, Sendable { var revoked: String }

    func add(public router: Router<BedsideRequestContext>, admin api: RouterGroup<BedsideRequestContext>) {
        let pairing = self.pairing, logger = self.logger, secure = self.secure, status = self.status, online = self.online
        let transport = self.transport
        router.post("/api/pair") { request, context -> Response in
            guard let body = try? await request.decode(as: PairRequest.self, context: context) else {
                throw APIError(
                    .badRequest, #"send JSON {"code": "123456", "name": "tablet 1"}"#,
                    fix: "the code is on the Bedside console and the admin page")
            }
            let client = context.remoteAddress?.ipAddress ?? "unknown"
            switch pairing.pair(code: body.code, name: body.name ?? "", client: client) {
            case .paired(let device):
                logger.notice("tablet paired", metadata: ["id": "\(device.id)", "name": "\(device.name)", "from": "\(client)"])
                print("Tablet \"\(device.name)\" paired. Next pairing code: \(pairing.code)")
                fflush(nil)
                let cookie =
                    "\(Access.cookieName)=\(device.token); Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
                return JSONReply.response(Paired(id: device.id, name: device.name), headers: [.setCookie: cookie])
            case .wrongCode(let left):
                logger.warning("wrong pairing code", metadata: ["from": "\(client)", "attempts_left": "\(left)"])
                throw APIError(
                    .forbidden, "wrong or used pairing code", fix: "enter the code shown now on the Bedside console or admin page",
                    attemptsLeft: left)
            case .lockedOut(let seconds):
                logger.warning("pairing locked out", metadata: ["from": "\(client)"])
                throw APIError(
                    .tooManyRequests, "too many wrong codes",
                    fix: "wait \(Int(seconds.rounded(.up))) s, then enter the code shown on the Bedside console")
            }
        }
        api.post("admin/overview") { _, _ in
            let pages = online()
            return JSONReply.response(
                Overview(
                    pairingCode: pairing.code, tablets: pairing.devices.map { Tablet($0, online: pages) },
                    consolePages: pages[Access.describe(.console)] ?? 0, transport: transport, status: RawJSON(status())))
        }
        api.post("admin/revoke") { request, _ -> Response in
            let id = Query(request)["id"]
            guard let id, pairing.revoke(id: id) else {
                throw APIError(.notFound, "no paired tablet with id \(id ?? "(none)")", fix: "take the id from the admin page's list")
            }
            logger.notice("tablet revoked", metadata: ["id": "\(id)"])
            return JSONReply.response(Revoked(revoked: id))
        }
        api.post("admin/pairing-code") { _, _ in
            let code = pairing.newCode()
            print("New pairing code for a tablet: \(code)")
            fflush(nil)
            return JSONReply.response(Code(pairingCode: code))
        }
    }
}
