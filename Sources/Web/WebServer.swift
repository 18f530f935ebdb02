import BedsideCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// Something a viewer (or the admin) asks Bedside to do: `POST /api/<path>`.
public struct WebAction: Sendable {
    /// Needs the admin PIN (`X-Admin-PIN` header or `?pin=`) besides the pairing token.
    public var admin: Bool
    /// Gets the query parameters; returns the HTTP status and a JSON body.
    public var perform: @Sendable ([String: String]) async -> (status: Int, json: String)

    public init(admin: Bool, perform: @escaping @Sendable ([String: String]) async -> (status: Int, json: String)) {
        self.admin = admin
        self.perform = perform
    }
}

/// The tablet page, `/api/status` and the live WebSocket, behind the pairing token.
public struct WebServer: Sendable {
    public let hub: Hub
    public let config: WebConfig
    public let token: String
    /// Current status as a JSON object (text), the same for `/api/status` and the WebSocket.
    public let status: @Sendable () -> String
    /// The `hello` message viewers get on connect.
    public let hello: @Sendable () -> String
    /// Called with the real port once listening (port 0 picks a free one).
    public let onListening: @Sendable (Int) -> Void
    /// `POST /api/<key>` actions.
    public let actions: [String: WebAction]
    /// The PIN admin actions need.
    public let adminPIN: String
    /// Paired tablets, the pairing code and the console link token.
    public let pairing: Pairing
    /// Prometheus text for `GET /metrics` (token required: `Authorization: Bearer` suits a scraper).
    public let metrics: (@Sendable () -> String)?
    /// PNG bytes of a study snapshot for the review page (`GET /api/review/image`, token and admin PIN).
    public let reviewImage: (@Sendable ([String: String]) -> [UInt8]?)?
    let logger: Logger

    public init(
        hub: Hub, config: WebConfig, token: String, adminPIN: String = "", logger: Logger,
        status: @escaping @Sendable () -> String, hello: @escaping @Sendable () -> String,
        actions: [String: WebAction] = [:], pairing: Pairing? = nil, metrics: (@Sendable () -> String)? = nil,
        reviewImage: (@Sendable ([String: String]) -> [UInt8]?)? = nil,
        onListening: @escaping @Sendable (Int) -> Void
    ) {
        self.reviewImage = reviewImage
        self.metrics = metrics
        self.pairing = pairing ?? Pairing(consoleToken: token, file: nil)
        self.actions = actions
        self.adminPIN = adminPIN
        self.hub = hub
        self.config = config
        self.token = token
        self.logger = logger
        self.status = status
        self.hello = hello
        self.onListening = onListening
    }

    /// Constant-time comparison, so the token cannot be guessed by timing.
    static func tokenMatches(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        let a = Array(given.utf8), b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// The cookie a paired tablet holds.
    public static let cookieName = "bedside_token"

    /// The token a request carries: `?token=` (the console link), `Authorization: Bearer`, or the pairing cookie.
    static func token(of request: Request) -> String? {
        if let t = request.uri.queryParameters.get("token") { return String(t) }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces)
                if kv.hasPrefix(cookieName + "=") { return String(kv.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    /// A browser's WebSocket from another site's page carries that site's Origin: refused, so a page elsewhere
    /// cannot ride on a tablet's cookie. No Origin (non-browser clients) passes; they need the token anyway.
    static func originAllowed(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let authority = request.head.authority?.lowercased(), let url = URL(string: origin.lowercased()),
            let host = url.host
        else { return false }
        if let port = url.port { return authority == "\(host):\(port)" }
        let defaultPort = url.scheme == "https" ? 443 : 80
        return authority == host || authority == "\(host):\(defaultPort)"
    }


    /// Whether the page is served over HTTPS (`web.tls`).
    public var usesTLS: Bool { config.tlsCertificate != nil && config.tlsKey != nil }

    /// Reads `web.tls`; the error names the file and what is wrong with it.
    /// Throws the message `run` would give for `web.tls` (certificate and key readable and PEM), without serving.
    public static func checkTLS(certificate: String, key: String) throws {
        _ = try tlsConfiguration(certificate: certificate, key: key)
    }

    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw WebError("web.tls.cert: \(certificate) is not a PEM certificate (\(error)). Fix: give the certificate (chain) file in PEM format.")
        }
        guard !chain.isEmpty else {
            throw WebError("web.tls.cert: \(certificate) holds no certificate. Fix: give the certificate (chain) file in PEM format.")
        }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw WebError("web.tls.key: \(key) is not a PEM private key (\(error)). Fix: give the unencrypted PEM key of that certificate.")
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    public func makeApplication() throws -> some ApplicationProtocol {
        let router = Router(context: BedsideRequestContext.self)
        let pairing = self.pairing
        let secure = usesTLS
        let status = self.status
        let logger = self.logger
        PageRoutes.add(to: router, folder: Self.pageFolder, logger: logger)
        router.get("/healthz") { _, _ in "ok\n" }
        let adminPIN = self.adminPIN
        let pinGuard = AdminPINGuard()
        let refusals = RefusalLog()
        let log = logger
        /// The admin PIN of a request, checked with the per-caller lockout; nil when it may go on, else the answer.
        @Sendable func pinRefusal(_ request: Request, caller: String, fix: String) -> Response? {
            let pin: String? = request.headers[values: HTTPField.Name("X-Admin-PIN")!].first
                ?? request.uri.queryParameters.get("pin").map { String($0) }
            let correct = !adminPIN.isEmpty && Self.tokenMatches(pin, adminPIN)
            // No PIN at all is not a guess: refused, but it does not count toward the lockout.
            if !correct, (pin ?? "").isEmpty {
                return Self.json(403, #"{"error":"admin PIN missing or wrong","fix":"\#(fix)"}"#)
            }
            switch pinGuard.check(caller: caller, correct: correct) {
            case .ok: return nil
            case .wrong(let left):
                log.warning("wrong admin PIN for \(request.uri.path) from \(caller): \(left) more tries before a lockout")
                return Self.json(403, #"{"error":"admin PIN missing or wrong","fix":"\#(fix)"}"#)
            case .locked(let seconds):
                if let line = refusals.note("pin-locked-\(caller)", "admin PIN checks locked for \(caller) (\(seconds) s left) after repeated wrong PINs") {
                    log.warning("\(line)")
                }
                return Self.json(429, #"{"error":"too many wrong admin PINs from this device: locked for \#(seconds) s","fix":"wait, then enter the PIN Bedside printed at start-up"}"#)
            }
        }
        /// A request without a valid token: refused, and logged (at most one line per 10 s).
        @Sendable func refuse(_ request: Request) -> Response {
            if let line = refusals.note("token", "refused \(request.method) \(request.uri.path): no valid pairing token") { log.notice("\(line)") }
            return Self.unauthorized()
        }
        /// A POST from another site's page (its Origin): refused like the WebSocket, so no page elsewhere can act.
        @Sendable func foreign(_ request: Request) -> Response? {
            guard !Self.originAllowed(request) else { return nil }
            log.warning("\(request.method) \(request.uri.path) from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")"])
            return Self.json(403, #"{"error":"request from another site's page","fix":"use Bedside's own pages"}"#)
        }
        router.get("/api/status") { request, _ -> Response in
            guard pairing.identify(Self.token(of: request)) != nil else { return refuse(request) }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: status())))
        }
        for (path, action) in actions {
            router.post(RouterPath("/api/\(path)")) { request, _ -> Response in
                if let r = foreign(request) { return r }
                guard let who = pairing.identify(Self.token(of: request)) else { return refuse(request) }
                if action.admin, let r = pinRefusal(request, caller: "\(who)",
                    fix: "send the admin PIN Bedside printed at start-up (web.admin_pin) in the X-Admin-PIN header") { return r }
                var query: [String: String] = [:]
                for (k, v) in request.uri.queryParameters where k != "token" && k != "pin" { query[String(k)] = String(v) }
                let (status, body) = await action.perform(query)
                return Self.json(status, body)
            }
        }
        if let reviewImage {
            router.get("/api/review/image") { request, _ -> Response in
                guard let who = pairing.identify(Self.token(of: request)) else { return refuse(request) }
                if let r = pinRefusal(request, caller: "\(who)", fix: "open the review page with the admin PIN") { return r }
                var q: [String: String] = [:]
                for (k, v) in request.uri.queryParameters { q[String(k)] = String(v) }
                guard let bytes = reviewImage(q) else {
                    return Self.json(404, #"{"error":"no such snapshot","fix":"pick one from the review page"}"#)
                }
                return Response(
                    status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        if let metrics {
            router.get("/metrics") { request, _ -> Response in
                guard pairing.identify(Self.token(of: request)) != nil else { return refuse(request) }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(string: metrics())))
            }
        }
        // Pairing: the code shown on the console / admin page, once per tablet; the answer sets the cookie.
        router.post("/api/pair") { request, context -> Response in
            if let r = foreign(request) { return r }
            struct Body: Decodable {
                var code: String
                var name: String?
            }
            guard let body = try? await request.decode(as: Body.self, context: context) else {
                return Self.json(400, #"{"error":"send JSON {\"code\": \"123456\", \"name\": \"tablet 1\"}","fix":"the code is on the Bedside console and the admin page"}"#)
            }
            let client = context.remoteAddress?.ipAddress ?? "unknown"
            switch pairing.pair(code: body.code, name: body.name ?? "", client: client) {
            case .paired(let device):
                logger.notice(
                    "tablet paired", metadata: ["id": "\(device.id)", "name": "\(device.name)", "from": "\(client)"])
                print("Tablet \"\(device.name)\" paired. Next pairing code: \(pairing.code)")
                fflush(nil)
                var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
                headers[.setCookie] =
                    "\(Self.cookieName)=\(device.token); Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
                let reply = (try? JSONSerialization.data(withJSONObject: ["id": device.id, "name": device.name]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply)))
            case .wrongCode(let left):
                logger.warning("wrong pairing code", metadata: ["from": "\(client)", "attempts_left": "\(left)"])
                return Self.json(
                    403,
                    #"{"error":"wrong or used pairing code","fix":"enter the code shown now on the Bedside console or admin page","attempts_left":\#(left)}"#)
            case .lockedOut(let seconds):
                logger.warning("pairing locked out", metadata: ["from": "\(client)"])
                return Self.json(
                    429,
                    #"{"error":"too many wrong codes","fix":"wait \#(Int(seconds.rounded(.up))) s, then enter the code shown on the Bedside console"}"#)
            }
        }
        // A WebSocket request that was not upgraded (no or wrong token) ends here.
        router.get("/ws") { _, _ in Self.unauthorized() }

        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        let hub = self.hub
        let hello = self.hello
        wsRouter.ws("/ws") { request, _ in
            guard Self.originAllowed(request) else {
                logger.warning("WebSocket from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")"])
                return .dontUpgrade
            }
            guard let who = pairing.identify(Self.token(of: request)) else { return .dontUpgrade }
            var headers = HTTPFields()
            headers[.init("X-Bedside-Viewer")!] = Self.describe(who)
            return .upgrade(headers)
        } onUpgrade: { inbound, outbound, context in
            let who = pairing.identify(Self.token(of: context.request))
            let (id, outbox) = hub.addViewer(label: who.map(Self.describe) ?? "")
            logger.info("viewer \(id) connected", metadata: ["viewers": "\(hub.viewerCount)"])
            outbox.sendText(hello())
            outbox.sendText(status())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // What the page sends: `drawn` reports (capture -> drawn latency). Ends when the viewer goes away.
                    // Anything else, malformed, fragmented, binary or over 4 KiB is ignored, never a reason to
                    // disconnect; past 50 messages a second the rest of that second is ignored unread.
                    var second: UInt64 = 0, inSecond = 0
                    for try await frame in inbound {
                        let now = BedsideCore.Clock.monotonicNanos()
                        guard frame.opcode == .text, frame.fin, frame.data.readableBytes <= ViewerLatency.maxMessageBytes
                        else { continue }
                        if now / 1_000_000_000 != second {
                            second = now / 1_000_000_000
                            inSecond = 0
                        }
                        inSecond += 1
                        guard inSecond <= 50 else { continue }
                        let bytes = frame.data.getBytes(at: frame.data.readerIndex, length: frame.data.readableBytes) ?? []
                        hub.latency.report(viewer: id, bytes: bytes, receivedNanos: now)
                    }
                }
                group.addTask {
                    // A revoked tablet is cut off at once (within a second), with a close code the page understands.
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        if let who, !pairing.isValid(who) {
                            logger.notice("revoked viewer disconnected", metadata: ["viewer": "\(Self.describe(who))"])
                            try await outbound.close(.init(codeNumber: 4403), reason: "token revoked")
                            return
                        }
                    }
                }
                group.addTask {
                    while let item = await outbox.next() {
                        switch item {
                        case .frame(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                        case .text(let t): try await outbound.write(.text(t))
                        }
                    }
                }
                defer {
                    hub.removeViewer(id)
                    logger.info("viewer \(id) left", metadata: ["viewers": "\(hub.viewerCount)"])
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
        let onListening = self.onListening
        let bind = config.bind, port = config.port
        // A WebSocket upgrade is judged at the gate, before Hummingbird (which answers a refused upgrade with a bare
        // 400): no token -> 401 and the fix, another site's page -> 403; both logged.
        @Sendable func judgeUpgrade(_ head: RequestHeadCheck.Head, peer: String) -> RequestHeadCheck.Refusal? {
            guard head.isWebSocketUpgrade, let http = head.request else { return nil }
            let request = Request(head: http, body: .init(buffer: ByteBuffer()))
            guard request.uri.path == "/ws" else { return nil }
            guard Self.originAllowed(request) else {
                log.warning("WebSocket from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")", "from": "\(peer)"])
                return .init(status: 403, reason: "Forbidden", error: "WebSocket from another site's page", fix: "use Bedside's own page")
            }
            guard pairing.identify(Self.token(of: request)) != nil else {
                if let line = refusals.note("token", "refused the live WebSocket from \(peer): no valid pairing token") { log.notice("\(line)") }
                return .init(
                    status: 401, reason: "Unauthorized", error: "pairing token missing or wrong",
                    fix: "open the link with ?token=... that Bedside printed at start-up, or pair this tablet with the code")
            }
            return nil
        }
        let wsResponder = wsRouter.buildResponder()
        let tls = try config.tlsCertificate.flatMap { cert in
            try config.tlsKey.map { try Self.tlsConfiguration(certificate: cert, key: $0) }
        }
        let server = HTTPServerBuilder { responder in
            // Idle keep-alive connections are closed after 60 s; the first request head must come within 10 s.
            let base = HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: wsResponder,
                configuration: .init(http1: .init(idleTimeout: .seconds(60)), ws: .init(maxFrameSize: 1 << 20)))
            let gated = GatedChannel(
                base: base, check: RequestHeadCheck(), headTimeout: .seconds(10), judge: judgeUpgrade,
                onRefuse: { refusal, peer in
                    guard refusal.status != 401, refusal.status != 403 else { return }  // logged by the judge
                    if let line = refusals.note("http-\(refusal.status)", "refused a connection from \(peer): HTTP \(refusal.status), \(refusal.body)") {
                        log.notice("\(line)")
                    }
                })
            if let tls { return try TLSChannel(gated, tlsConfiguration: tls) }
            return gated
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(bind, port: port), serverName: "bedside"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    static func describe(_ who: PairingState.Identity) -> String {
        switch who {
        case .console: "console"
        case .device(let id): "tablet-\(id)"
        }
    }

    static func json(_ status: Int, _ body: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func unauthorized() -> Response {
        Response(
            status: .unauthorized, headers: [.contentType: "application/json"],
            body: .init(
                byteBuffer: ByteBuffer(
                    string:
                        #"{"error":"pairing token missing or wrong","fix":"open the link with ?token=... that Bedside printed at start-up"}"#
                )))
    }

    /// The page files (`bedside_Web.resources/Page`), found beside the running binary or at
    /// `$BEDSIDE_WEB_RESOURCES`. Not `Bundle.module`: SwiftPM's accessor ends the process (fatalError) when the
    /// folder is missing, which would take capture and recording down with the first page request.
    public static let pageFolder: String? = {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["BEDSIDE_WEB_RESOURCES"] { candidates.append(env) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("bedside_Web.resources").path)
        if let main = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(main.appendingPathComponent("bedside_Web.resources").path)
        }
        return candidates.map { "\($0)/Page" }.first { FileManager.default.fileExists(atPath: "\($0)/index.html") }
    }()

    /// What to say when `pageFolder` is nil.
    public static var missingPageFiles: String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        return "Bedside's page files are missing: no bedside_Web.resources/Page/index.html beside the binary in \(exe). "
            + "Copy the bedside_Web.resources folder from the build (.build/release) next to the binary "
            + "(`bedside install` does), or set BEDSIDE_WEB_RESOURCES to it."
    }

}


/// Hummingbird's basic context plus the client's address (pairing attempts are rate-limited per address).
public struct BedsideRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// A web server setup problem, worded for the operator (what is wrong and the fix).
public struct WebError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
