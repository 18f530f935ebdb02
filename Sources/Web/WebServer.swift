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
import Study

/// What the running Bedside offers through the web: each feature's route collection is added when it is there.
public struct WebFeatures: Sendable {
    /// Current status as JSON text (`StatusMessage`), the same for `/api/status`, the WebSocket and the admin page.
    public var status: @Sendable () -> String
    /// The admin page's status: every model, silent ones too (`status` leaves them out for the tablets).
    public var adminStatus: @Sendable () -> String
    /// The `hello` message viewers get on connect.
    public var hello: @Sendable () -> HelloMessage
    /// Prometheus text for `GET /metrics` (token required: `Authorization: Bearer` suits a scraper).
    public var metrics: (@Sendable () -> String)?
    public var snapshots: (any SnapshotTaking)?
    /// nil: recording is off in the config (its actions answer 409 with the fix).
    public var recording: (any RecordingControl)?
    public var study: StudyController?
    /// After a study change: clear what the tablets were shown and broadcast the status.
    public var studyChanged: @Sendable () -> Void
    public var review: Review?
    public var regions: (any RegionEditing)?

    public init(
        status: @escaping @Sendable () -> String, adminStatus: (@Sendable () -> String)? = nil,
        hello: @escaping @Sendable () -> HelloMessage,
        metrics: (@Sendable () -> String)? = nil, snapshots: (any SnapshotTaking)? = nil,
        recording: (any RecordingControl)? = nil, study: StudyController? = nil,
        studyChanged: @escaping @Sendable () -> Void = {}, review: Review? = nil, regions: (any RegionEditing)? = nil
    ) {
        self.status = status
        self.adminStatus = adminStatus ?? status
        self.hello = hello
        self.metrics = metrics
        self.snapshots = snapshots
        self.recording = recording
        self.study = study
        self.studyChanged = studyChanged
        self.review = review
        self.regions = regions
    }
}

/// The tablet page, the API and the live WebSocket, behind the pairing token (and the admin PIN for admin routes).
public struct WebServer: Sendable {
    public let hub: Hub
    public let config: WebConfig
    public let features: WebFeatures
    /// Called with the real port once listening (port 0 picks a free one).
    public let onListening: @Sendable (Int) -> Void
    /// The PIN admin actions need.
    public let adminPIN: String
    /// Paired tablets, the pairing code and the console link token.
    public let pairing: Pairing
    /// HTTPS beside plain HTTP on the same port (Bedside's CA, or `web.tls` files); nil: plain HTTP only. Given
    /// by the caller for Bedside's CA (made in the state folder); made here from `web.tls` files when not given.
    public let transport: SecureTransport?
    let logger: Logger

    public init(
        hub: Hub, config: WebConfig, pairing: Pairing, adminPIN: String = "", logger: Logger, features: WebFeatures,
        transport: SecureTransport? = nil, onListening: @escaping @Sendable (Int) -> Void
    ) {
        self.transport = transport
        self.hub = hub
        self.config = config
        self.pairing = pairing
        self.adminPIN = adminPIN
        self.logger = logger
        self.features = features
        self.onListening = onListening
    }

    /// Whether the page is served over HTTPS (Bedside's CA or `web.tls` files).
    public var usesTLS: Bool { transport != nil || (config.tlsCertificate != nil && config.tlsKey != nil) }

    /// Reads `web.tls`; the error names the file and what is wrong with it.
    /// Throws the message `run` would give for `web.tls` (certificate and key readable and PEM), without serving.
    public static func checkTLS(certificate: String, key: String) throws {
        _ = try tlsConfiguration(certificate: certificate, key: key)
    }

    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        let pem = "give the certificate (chain) file in PEM format"
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw TLSFileError(key: "web.tls.cert", problem: "\(certificate) is not a PEM certificate (\(error))", fix: pem)
        }
        guard !chain.isEmpty else { throw TLSFileError(key: "web.tls.cert", problem: "\(certificate) holds no certificate", fix: pem) }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw TLSFileError(
                key: "web.tls.key", problem: "\(key) is not a PEM private key (\(error))", fix: "give the unencrypted PEM key of that certificate")
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    /// `web.tls` as config problems (the key, its line, the fix), for `run` and `check`; none without `web.tls`.
    public static func tlsProblems(_ c: BedsideConfig, file: String) -> [ConfigProblem] {
        guard let cert = c.web.tlsCertificate, let key = c.web.tlsKey else { return [] }
        do {
            try checkTLS(certificate: cert, key: key)
            return []
        } catch let e as TLSFileError {
            let line = ConfigLoader.line(of: e.key, in: ConfigLoader.keyLines(path: file))
            return [ConfigProblem(error: ConfigError(file: file, line: line, key: e.key, problem: e.problem, fix: "Fix: \(e.fix)."), model: nil)]
        } catch {
            return [ConfigProblem(error: ConfigError(file: file, line: nil, key: "web.tls", problem: "\(error)", fix: "Give PEM files."), model: nil)]
        }
    }

    public func makeApplication() throws -> some ApplicationProtocol {
        let router = Router(context: BedsideRequestContext.self)
        let pairing = self.pairing
        let logger = self.logger, log = logger
        let refusals = RefusalLog()
        let pinGuard = AdminPINGuard()
        let f = features
        // The order a request meets the checks: same origin (every POST), pairing token, admin PIN.
        router.add(middleware: SameOriginMiddleware(logger: logger))
        PageRoutes.add(to: router, folder: Self.pageFolder, logger: logger)
        let token = PairingTokenMiddleware(pairing: pairing, refusals: refusals, logger: logger)
        let tickets = ReviewTickets()
        func pin(_ fix: String, tickets: ReviewTickets? = nil) -> AdminPINMiddleware {
            AdminPINMiddleware(pin: adminPIN, guardian: pinGuard, refusals: refusals, logger: logger, fix: fix, tickets: tickets)
        }
        let viewer = router.group().add(middleware: token)
        let viewerAPI = router.group("/api").add(middleware: token)
        let adminAPI = router.group("/api").add(middleware: token)
            .add(middleware: pin("send the admin PIN Bedside printed at start-up (web.admin_pin) in the X-Admin-PIN header"))
        let adminGet = router.group().add(middleware: token)
            .add(middleware: pin("open the review page and unlock it with the admin PIN", tickets: tickets))

        StatusRoutes(status: f.status, metrics: f.metrics).add(public: router, viewer: viewer)
        PairingRoutes(
            pairing: pairing, status: f.adminStatus, secure: usesTLS, logger: logger, online: { [hub] in hub.onlinePages },
            transport: TransportSummary(
                plan: transport?.plan ?? TransportPlan.decide(bind: config.bind, tls: config.tls), ca: transport?.ca,
                hosts: BedsideSetup.tabletHosts(bind: config.bind, names: config.names, addresses: BedsideSetup.hostAddresses()))
        ).add(public: router, admin: adminAPI)
        if let s = f.snapshots { SnapshotRoutes(snapshots: s).add(viewer: viewerAPI) }
        RecordingRoutes(recording: f.recording, logger: logger).add(admin: adminAPI)
        if let s = f.study { StudyRoutes(study: s, changed: f.studyChanged).add(admin: adminAPI) }
        if let r = f.review { ReviewRoutes(review: r, tickets: tickets, secure: usesTLS).add(admin: adminAPI, adminGet: adminGet) }
        if let e = f.regions { RegionRoutes(editor: e, logger: logger).add(admin: adminAPI) }
        CertificateRoutes(transport: transport).add(public: router)
        // A WebSocket request that was not upgraded (no or wrong token) ends here.
        router.get("/ws") { _, _ -> Response in throw APIError.noToken }

        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        let hub = self.hub
        let hello = f.hello, status = f.status
        wsRouter.ws("/ws") { request, _ in
            guard Access.originAllowed(request) else {
                logger.warning("WebSocket from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")"])
                return .dontUpgrade
            }
            guard let who = pairing.identify(Access.token(of: request)) else { return .dontUpgrade }
            var headers = HTTPFields()
            headers[.init("X-Bedside-Viewer")!] = Access.describe(who)
            return .upgrade(headers)
        } onUpgrade: { inbound, outbound, context in
            let who = pairing.identify(Access.token(of: context.request))
            // The admin page's region editor shows the same stream (`?purpose=preview`): not a tablet.
            let preview = Query(formEncoded: context.request.uri.query ?? "")["purpose"] == "preview"
            // A page that can decode H.264 (WebCodecs) asks for it (`?video=h264`); it gets it where Bedside sends it.
            let wantsH264 = Query(formEncoded: context.request.uri.query ?? "")["video"] == "h264"
            let (id, outbox) = hub.addViewer(label: who.map(Access.describe) ?? "", preview: preview, h264: wantsH264)
            logger.info(
                "viewer \(id) connected\(preview ? " (admin preview)" : "")", metadata: ["viewers": "\(hub.tabletPageCount)"])
            outbox.sendText(JSONWire.string(hello()))
            outbox.sendText(status())
            hub.startVideo(outbox)
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
                            logger.notice("revoked viewer disconnected", metadata: ["viewer": "\(Access.describe(who))"])
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
                    logger.info("viewer \(id) left", metadata: ["viewers": "\(hub.tabletPageCount)"])
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
            guard Access.originAllowed(request) else {
                log.warning("WebSocket from another site refused", metadata: ["origin": "\(request.headers[.origin] ?? "")", "from": "\(peer)"])
                return .init(status: 403, reason: "Forbidden", error: "WebSocket from another site's page", fix: "use Bedside's own page")
            }
            guard pairing.identify(Access.token(of: request)) != nil else {
                if let line = refusals.note("token", "refused the live WebSocket from \(peer): no valid pairing token") { log.notice("\(line)") }
                return .init(
                    status: 401, reason: "Unauthorized", error: "pairing token missing or wrong",
                    fix: "open the link with ?token=... that Bedside printed at start-up, or pair this tablet with the code")
            }
            return nil
        }
        let wsResponder = wsRouter.buildResponder()
        let secure =
            try transport
            ?? config.tlsCertificate.flatMap { cert in
                try config.tlsKey.map { try SecureTransport.files(certificate: cert, key: $0, logger: logger) }
            }
        let server = HTTPServerBuilder { responder in
            // Idle keep-alive connections are closed after 60 s; the first request head must come within 10 s.
            let base = HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: wsResponder,
                configuration: .init(http1: .init(idleTimeout: .seconds(60)), ws: .init(maxFrameSize: 1 << 20)))
            var gated = GatedChannel(
                base: base, check: RequestHeadCheck(), headTimeout: .seconds(10), judge: judgeUpgrade,
                onRefuse: { refusal, peer in
                    // 401 and 403 are logged by the judge; below 400 is the gate's own plain-HTTP page (not a refusal).
                    guard refusal.status >= 400, refusal.status != 401, refusal.status != 403 else { return }
                    if let line = refusals.note("http-\(refusal.status)", "refused a connection from \(peer): HTTP \(refusal.status), \(refusal.body)") {
                        log.notice("\(line)")
                    }
                })
            gated.secure = secure
            gated.handshakeFailed = { peer, error in
                if let line = refusals.note(
                    "tls-\(peer)",
                    secure?.ca != nil
                        ? "TLS handshake from \(peer) failed (\(error)): that device does not trust Bedside's certificate yet; open the same address with http:// on it and install the certificate as that page says"
                        : "TLS handshake from \(peer) failed (\(error)): that device does not accept the certificate of web.tls (expired, another name, or a CA it does not have)"
                ) {
                    log.notice("\(line)")
                }
            }
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
    /// Who the pairing token says the caller is (set by `PairingTokenMiddleware`).
    public var viewer: PairingState.Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// `web.tls` names a file that cannot be used: which key, what is wrong, the fix.
public struct TLSFileError: Error, CustomStringConvertible, Equatable {
    public var key: String
    public var problem: String
    public var fix: String
    public var description: String { "\(key): \(problem). Fix: \(fix)." }
}

/// A web server setup problem, worded for the operator (what is wrong and the fix).
public struct WebError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
