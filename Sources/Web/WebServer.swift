import BedsideCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// Something a viewer (or the admin) asks Bedside to do: `POST /api/<path>`.
public struct WebAction: Sendable {
    /// Needs the admin PIN (`X-Admin-PIN` header or `?pin=`) besides the pairing token.
    public var admin: Bool
    /// Returns the HTTP status and a JSON body.
    public var perform: @Sendable () async -> (status: Int, json: String)

    public init(admin: Bool, perform: @escaping @Sendable () async -> (status: Int, json: String)) {
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
    let logger: Logger

    public init(
        hub: Hub, config: WebConfig, token: String, adminPIN: String = "", logger: Logger,
        status: @escaping @Sendable () -> String, hello: @escaping @Sendable () -> String,
        actions: [String: WebAction] = [:], onListening: @escaping @Sendable (Int) -> Void
    ) {
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

    static func token(of request: Request) -> String? {
        if let t = request.uri.queryParameters.get("token") { return String(t) }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        return nil
    }

    public func makeApplication() -> some ApplicationProtocol {
        let router = Router()
        let token = self.token
        let status = self.status
        router.get("/") { _, _ in try Self.page("index.html", type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in try Self.page("app.js", type: "text/javascript; charset=utf-8") }
        router.get("/style.css") { _, _ in try Self.page("style.css", type: "text/css; charset=utf-8") }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/api/status") { request, _ -> Response in
            guard Self.tokenMatches(Self.token(of: request), token) else { return Self.unauthorized() }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: status())))
        }
        let adminPIN = self.adminPIN
        for (path, action) in actions {
            router.post(RouterPath("/api/\(path)")) { request, _ -> Response in
                guard Self.tokenMatches(Self.token(of: request), token) else { return Self.unauthorized() }
                if action.admin {
                    let pin: String? = request.headers[values: HTTPField.Name("X-Admin-PIN")!].first ?? request.uri.queryParameters.get("pin").map { String($0) }
                    guard !adminPIN.isEmpty, Self.tokenMatches(pin, adminPIN) else {
                        return Self.json(
                            403,
                            #"{"error":"admin PIN missing or wrong","fix":"send the admin PIN Bedside printed at start-up (web.admin_pin) in the X-Admin-PIN header"}"#)
                    }
                }
                let (status, body) = await action.perform()
                return Self.json(status, body)
            }
        }
        // A WebSocket request that was not upgraded (no or wrong token) ends here.
        router.get("/ws") { _, _ in Self.unauthorized() }

        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        let hub = self.hub
        let hello = self.hello
        let logger = self.logger
        wsRouter.ws("/ws") { request, _ in
            Self.tokenMatches(Self.token(of: request), token) ? .upgrade([:]) : .dontUpgrade
        } onUpgrade: { inbound, outbound, _ in
            let (id, outbox) = hub.addViewer()
            logger.info("viewer \(id) connected", metadata: ["viewers": "\(hub.viewerCount)"])
            outbox.sendText(hello())
            outbox.sendText(status())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Drain what the page sends (nothing yet); ends when the viewer goes away.
                    for try await _ in inbound {}
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
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: wsRouter, configuration: .init(ws: .init(maxFrameSize: 1 << 20))),
            configuration: .init(address: .hostname(config.bind, port: config.port), serverName: "bedside"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
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

    static func page(_ name: String, type: String) throws -> Response {
        guard let url = Bundle.module.url(forResource: "Page/\(name)", withExtension: nil),
            let data = FileManager.default.contents(atPath: url.path)
        else { throw HTTPError(.notFound) }
        return Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
