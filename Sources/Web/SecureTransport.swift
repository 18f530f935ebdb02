import BedsideCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// How the page is served, from `web.bind` and `web.tls`: a pure decision.
public enum TransportPlan: Sendable, Equatable {
    /// Bound to loopback: plain HTTP (nothing crosses a network).
    case loopback
    /// Beyond loopback in plain HTTP: only with `web.tls: off`, said loudly.
    case plainOnNetwork
    /// Beyond loopback with Bedside's own certificate authority (the default).
    case localCA
    /// Your own certificate (`web.tls: {cert, key}`), wherever bound.
    case files(certificate: String, key: String)

    public static func decide(bind: String, tls: TLSSetting) -> TransportPlan {
        switch tls {
        case .files(let c, let k): return .files(certificate: c, key: k)
        case .off: return isLoopback(bind) ? .loopback : .plainOnNetwork
        case .auto: return isLoopback(bind) ? .loopback : .localCA
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.") || h.hasPrefix("::ffff:127.")
    }

    /// Whether pages are served over HTTPS (cookies get `Secure`).
    public var encrypted: Bool {
        switch self {
        case .localCA, .files: true
        case .loopback, .plainOnNetwork: false
        }
    }
}

/// How the page reaches the tablets, for the admin page: the kind of encryption and the CA's fingerprint.
public struct TransportSummary: Encodable, Sendable, Equatable {
    public enum Encryption: String, Encodable, Sendable {
        case bedsideCA = "bedside-ca", ownCertificate = "own-certificate", off, loopback
    }
    public var encryption: Encryption
    /// SHA-256 of Bedside's CA (what a tablet's installer shows), with `bedside-ca`.
    public var caFingerprint: String?
    /// The names and addresses a tablet on the network opens, best first (`BedsideSetup.tabletHosts`): the admin
    /// page names these, never the address it was itself opened on (the box's own loopback, say).
    public var hosts: [String]
    enum CodingKeys: String, CodingKey { case encryption, caFingerprint = "ca_fingerprint", hosts }

    public init(encryption: Encryption, caFingerprint: String?, hosts: [String] = []) {
        self.encryption = encryption
        self.caFingerprint = caFingerprint
        self.hosts = hosts
    }

    public init(plan: TransportPlan, ca: LocalCA?, hosts: [String]) {
        switch plan {
        case .localCA: self.init(encryption: .bedsideCA, caFingerprint: ca?.fingerprint, hosts: hosts)
        case .files: self.init(encryption: .ownCertificate, caFingerprint: nil, hosts: hosts)
        case .plainOnNetwork: self.init(encryption: .off, caFingerprint: nil, hosts: hosts)
        case .loopback: self.init(encryption: .loopback, caFingerprint: nil)
        }
    }
}

/// What one connection came over, set on its event loop by `TLSSniffer` before its first byte reaches the gate.
final class ConnectionFacts: @unchecked Sendable {
    let peerIsLoopback: Bool
    let peer: String
    /// Only read and written on the connection's event loop.
    var secure = false
    /// The TLS handshake failed (a device that does not trust the CA yet): read by the connection's log filter.
    let handshakeFailed = Atomic<Bool>(false)
    /// The gate answered this connection itself and closed it (a refusal, or a plain-HTTP page): what Hummingbird
    /// then says of a connection that never reached it is noise.
    let answeredByGate = Atomic<Bool>(false)

    init(peer: SocketAddress?) {
        self.peer = peer?.ipAddress ?? "?"
        peerIsLoopback = peer.map { TransportPlan.isLoopback($0.ipAddress ?? "") } ?? false
    }
}

/// Behind the TLS handler until its handshake completes: notes a handshake that failed (once per connection), so that the operator reads one
/// line naming the device and the fix, not Hummingbird's error for a connection that never carried a request.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let facts: ConnectionFacts
    let failed: @Sendable (_ peer: String, _ error: String) -> Void

    init(facts: ConnectionFacts, failed: @escaping @Sendable (String, String) -> Void) {
        self.facts = facts
        self.failed = failed
    }

    /// The handshake passed (a browser may open a connection ahead of time and close it unused: not a failure).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !facts.handshakeFailed.exchange(true, ordering: .relaxed) { failed(facts.peer, "\(error)") }
        context.fireErrorCaught(error)
    }
}

/// A connection's logger that leaves out what follows a failed TLS handshake (already said once, by
/// `TLSHandshakeWatcher`'s line).
struct ConnectionLogHandler: LogHandler {
    var inner: any LogHandler
    let facts: ConnectionFacts

    func log(event: LogEvent) {
        if event.level >= .warning, facts.handshakeFailed.load(ordering: .relaxed) || facts.answeredByGate.load(ordering: .relaxed) { return }
        inner.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
}

/// What to do with a request according to how it arrived: a pure decision, tested without a socket.
public enum PlainRequestPolicy {
    public enum Answer: Sendable, Equatable {
        /// Bedside's routes (over TLS, or plain from this machine itself).
        case serve
        /// The CA certificate, in the form asked for (`crt` DER, `pem`, `mobileconfig`).
        case certificate(CertificateForm)
        /// The page that says why the live page is not served in plain text, how to install the CA and that
        /// opens the encrypted page by itself once this device trusts it.
        case setupPage
        /// Straight to the same address over HTTPS (your own certificate: trusted already, presumably).
        case redirect(String)
        /// Not a page (the API, the WebSocket): 403 naming the HTTPS address.
        case refuse(String)
    }

    public enum CertificateForm: String, Sendable, Equatable, CaseIterable {
        case crt, pem, mobileconfig
        public var path: String { "/bedside-ca.\(rawValue)" }
        public var contentType: String {
            switch self {
            case .crt: "application/x-x509-ca-cert"
            case .pem: "application/x-pem-file"
            case .mobileconfig: "application/x-apple-aspen-config"
            }
        }
    }

    /// - Parameters: `target` the request's path and query; `host` its Host header (already checked for shape);
    ///   `ownCertificate` true for `web.tls: {cert, key}`, false for Bedside's CA.
    public static func decide(
        method: String, target: String, host: String?, acceptsHTML: Bool, isUpgrade: Bool, secure: Bool, peerIsLoopback: Bool,
        ownCertificate: Bool
    ) -> Answer {
        if secure || peerIsLoopback { return .serve }
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let https = host.map { "https://\($0)\(target)" }
        // What a refusal names: the address without its query (a token in it is not echoed back in plain text).
        let named = host.map { "https://\($0)\(path)" }
        let readOnly = method == "GET" || method == "HEAD"
        if !ownCertificate, readOnly, let form = CertificateForm.allCases.first(where: { $0.path == path }) { return .certificate(form) }
        if !ownCertificate, path == "/secure", readOnly { return .setupPage }
        guard readOnly, !isUpgrade, acceptsHTML else {
            return .refuse(named ?? "https:// at the same address")
        }
        if ownCertificate, let https { return .redirect(https) }
        return .setupPage
    }

    /// A Host header fit to be written back into a page or a Location (a name or address and a port).
    public static func checkedHost(_ h: String?) -> String? {
        guard let h, !h.isEmpty, h.count <= 255 else { return nil }
        let ok = h.unicodeScalars.allSatisfy { c in
            (c.value >= 48 && c.value <= 57) || (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122) || "-.:[]".unicodeScalars.contains(c)
        }
        return ok ? h : nil
    }
}

/// HTTPS beyond loopback on the same port as plain HTTP: the first byte of each connection says which (0x16 opens
/// a TLS handshake). TLS connections get the certificate; plain ones from other machines get only what
/// `PlainRequestPolicy` allows (the CA to install and the page that explains), plain ones from this machine are
/// served as before.
public final class SecureTransport: Sendable {
    public let plan: TransportPlan
    /// Bedside's CA, when it is the one serving (nil with your own certificate).
    public let ca: LocalCA?
    private let state: NIOLockedValueBox<(context: NIOSSLContext, notAfter: Date?, ca: LocalCA?, retryAt: Date)>
    private let renew: (@Sendable () throws -> LocalCA)?
    private let setupTemplate: String
    private let logger: Logger

    /// Bedside's own CA: made or loaded from `folder`, the server certificate for `names`.
    public static func localCA(folder: String, names: ServerNames, logger: Logger) throws -> SecureTransport {
        let ca = try LocalCA.loadOrCreate(folder: folder, names: names)
        if let why = ca.issued { logger.notice("made a server certificate (\(why))", metadata: ["folder": "\(folder)"]) }
        if !ca.outsideConstraints.isEmpty {
            logger.warning(
                "left out of the server certificate: \(ca.outsideConstraints.joined(separator: ", ")): Bedside's CA may only vouch for .local names, localhost, the names it was made with and private addresses. Tablets reaching Bedside by these get a certificate error; use a .local name or a private address, or remove the tls folder in the state folder to make a new CA that includes them (the tablets then install it again)."
            )
        }
        return try SecureTransport(
            plan: .localCA, ca: ca, context: try Self.context(certificatePEM: ca.serverPEM, keyPEM: ca.serverKeyPEM),
            renew: { try LocalCA.loadOrCreate(folder: folder, names: names) }, logger: logger)
    }

    /// Your own certificate and key (PEM files).
    public static func files(certificate: String, key: String, logger: Logger) throws -> SecureTransport {
        try SecureTransport(
            plan: .files(certificate: certificate, key: key), ca: nil,
            context: try NIOSSLContext(configuration: WebServer.tlsConfiguration(certificate: certificate, key: key)), renew: nil,
            logger: logger)
    }

    init(plan: TransportPlan, ca: LocalCA?, context: NIOSSLContext, renew: (@Sendable () throws -> LocalCA)?, logger: Logger) throws {
        self.plan = plan
        self.ca = ca
        self.renew = renew
        self.logger = logger
        state = NIOLockedValueBox((context, ca?.serverNotAfter, ca, .distantPast))
        let file = WebServer.pageFolder.map { "\($0)/secure.html" }
        setupTemplate = file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? Self.fallbackPage
    }

    static func context(certificatePEM: String, keyPEM: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        c.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: c)
    }

    /// The context for a new connection; a server certificate within 30 days of its end is reissued first (a
    /// Bedside left running for a year keeps serving).
    func sslContext(now: Date = Date()) -> NIOSSLContext {
        state.withLockedValue { s in
            if let end = s.notAfter, let renew, end.timeIntervalSince(now) < LocalCA.renewBefore, now >= s.retryAt {
                // At most once an hour, whatever comes of it: the old certificate serves meanwhile.
                s.retryAt = now + 3600
                do {
                    let ca = try renew()
                    s = (try Self.context(certificatePEM: ca.serverPEM, keyPEM: ca.serverKeyPEM), ca.serverNotAfter, ca, s.retryAt)
                    if ca.serverNotAfter.timeIntervalSince(now) < LocalCA.renewBefore {
                        logger.warning(
                            "Bedside's certificate authority ends \(ca.serverNotAfter): the server certificate cannot outlive it. Remove the tls folder in Bedside's state folder to make a new CA, and install it on the tablets."
                        )
                    } else {
                        logger.notice("renewed the server certificate", metadata: ["until": "\(ca.serverNotAfter)"])
                    }
                } catch {
                    logger.error("could not renew the server certificate: \(error)")
                }
            }
            return s.context
        }
    }

    /// The gate's question for each connection's first request.
    func answerPlain(_ head: RequestHeadCheck.Head, _ facts: ConnectionFacts) -> RequestHeadCheck.Refusal? {
        // HTTPS is on the same port: a Host without one (port 80) gets it spelled out, or https:// would mean 443.
        let host = PlainRequestPolicy.checkedHost(head.field("host")).map { h in
            h.hasSuffix("]") || !h.contains(":") ? "\(h):80" : h
        }
        let answer = PlainRequestPolicy.decide(
            method: head.method, target: head.target, host: host,
            acceptsHTML: (head.field("accept") ?? "").contains("text/html") || head.target == "/" || head.target.hasPrefix("/?"),
            isUpgrade: head.isWebSocketUpgrade, secure: facts.secure, peerIsLoopback: facts.peerIsLoopback,
            ownCertificate: ca == nil)
        let isHead = head.method == "HEAD"
        switch answer {
        case .serve:
            return nil
        case .certificate(let form):
            guard let d = certificateDocument(form) else {
                return .init(status: 404, reason: "Not Found", error: "no certificate to install here", fix: "use https://\(host ?? "<this address>")/")
            }
            return .init(status: 200, reason: "OK", contentType: d.contentType, headers: d.headers, bytes: d.bytes, head: isHead)
        case .setupPage:
            let d = setupDocument()
            return .init(status: 200, reason: "OK", contentType: d.contentType, headers: d.headers, bytes: d.bytes, head: isHead)
        case .redirect(let to):
            return .init(
                status: 308, reason: "Permanent Redirect", contentType: "text/plain", headers: [.init("Location", to)],
                bytes: Array("Use \(to)\n".utf8))
        case .refuse(let https):
            return .init(
                status: 403, reason: "Forbidden", error: "Bedside does not answer in plain HTTP on the network: patient images are sent encrypted",
                fix: "use \(https)\(ca != nil ? " after installing Bedside's certificate (open http://\(host ?? "<this address>")/secure on the device)" : "")")
        }
    }

    /// A document Bedside serves before a tablet trusts it: the same bytes and headers whether the gate answers
    /// (plain HTTP from the network) or a route does (HTTPS, this machine).
    public struct Document: Sendable {
        public var contentType: String
        public var headers: [RequestHeadCheck.HeaderLine]
        public var bytes: [UInt8]
    }

    /// The CA as a download in one of its forms (nil with your own certificate).
    public func certificateDocument(_ form: PlainRequestPolicy.CertificateForm) -> Document? {
        certificateBytes(form).map {
            Document(
                contentType: form.contentType,
                headers: [.init("Content-Disposition", "attachment; filename=\"bedside-ca.\(form.rawValue)\"")], bytes: $0)
        }
    }

    /// The install page, with the headers that keep it self-contained.
    public func setupDocument() -> Document {
        Document(contentType: "text/html; charset=utf-8", headers: Self.pageHeaders, bytes: Array(setupPage().utf8))
    }

    /// The CA in each form (nil with your own certificate).
    public func certificateBytes(_ form: PlainRequestPolicy.CertificateForm) -> [UInt8]? {
        guard let ca = state.withLockedValue({ $0.ca }) else { return nil }
        switch form {
        case .crt: return ca.caDER
        case .pem: return Array(ca.caPEM.utf8)
        case .mobileconfig: return Array(ca.mobileConfig(displayName: "Bedside (\(ca.names.hostName ?? "clinic PC"))").utf8)
        }
    }

    /// The setup page, with this CA's fingerprint in it.
    public func setupPage() -> String {
        let fp = state.withLockedValue { $0.ca?.fingerprint } ?? ""
        return setupTemplate.replacingOccurrences(of: "{{FINGERPRINT}}", with: fp)
    }

    /// A page that needs nothing else (no script from elsewhere, no frames).
    static let pageHeaders: [RequestHeadCheck.HeaderLine] = [
        .init(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src https:; img-src data:; frame-ancestors 'none'"
        ),
        .init("X-Content-Type-Options", "nosniff"), .init("Referrer-Policy", "no-referrer"),
    ]

    static let fallbackPage = """
        <!doctype html><meta charset="utf-8"><title>Bedside: encrypted connection needed</title>
        <h1>Encrypted connection needed</h1><p>Bedside sends the live page only encrypted. Install its certificate
        (<a href="/bedside-ca.crt">bedside-ca.crt</a>, <a href="/bedside-ca.mobileconfig">iPad profile</a>;
        SHA-256 {{FINGERPRINT}}), then open this address with https://.</p>
        """
}

/// The first handler of each connection when Bedside serves HTTPS beyond loopback: looks at the first byte and
/// puts the TLS handler behind itself for a handshake, or leaves the bytes plain; then steps aside.
final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let transport: SecureTransport
    let facts: ConnectionFacts
    let handshakeFailed: @Sendable (String, String) -> Void
    private var decided = false

    init(transport: SecureTransport, facts: ConnectionFacts, handshakeFailed: @escaping @Sendable (String, String) -> Void) {
        self.transport = transport
        self.facts = facts
        self.handshakeFailed = handshakeFailed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        decided = true
        if first == 0x16 {  // TLS record: handshake
            facts.secure = true
            do {
                let tls = NIOSSLServerHandler(context: transport.sslContext())
                try context.pipeline.syncOperations.addHandler(tls, position: .after(self))
                try context.pipeline.syncOperations.addHandler(
                    TLSHandshakeWatcher(facts: facts, failed: handshakeFailed), position: .after(tls))
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
