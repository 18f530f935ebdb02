import BedsideCore
import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore

/// What to do with the bytes a connection has sent before its first request head is complete: a pure decision,
/// so that it can be tested without a socket.
///
/// Why it exists: Hummingbird's HTTP/WebSocket upgrade pipeline has no error handler before the first request head
/// is parsed (its idle timer starts after). A connection that sends garbage, an unknown method, endless headers or
/// nothing at all was held open forever, one file descriptor each. The gate answers those with a status and closes.
public struct RequestHeadCheck: Sendable {
    /// The longest request head accepted (request line and headers). Bedside's own requests are under 2 KiB.
    public var maxHeadBytes = 32 * 1024
    /// The most header lines (Hummingbird's parser stops at 1000; Bedside's clients send about 15).
    public var maxHeaderLines = 100
    /// Methods Bedside answers; anything else is refused before the HTTP parser sees it.
    public static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]

    public init() {}

    /// A complete, well-formed request head.
    public struct Head: Sendable, Equatable {
        public struct Field: Sendable, Equatable {
            public var name: String
            public var value: String
        }

        public var method: String
        public var target: String
        public var version: String
        public var fields: [Field]

        public func field(_ name: String) -> String? {
            fields.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// A WebSocket upgrade request (`Upgrade: websocket`).
        public var isWebSocketUpgrade: Bool {
            field("upgrade")?.lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "websocket" } ?? false
        }

        /// As swift-http-types' request, for the checks the routes use (token, Origin).
        public var request: HTTPRequest? {
            guard let m = HTTPRequest.Method(method) else { return nil }
            var headers = HTTPFields()
            for f in fields {
                guard let name = HTTPField.Name(f.name) else { return nil }
                headers.append(HTTPField(name: name, value: f.value))
            }
            return HTTPRequest(method: m, scheme: nil, authority: field("host"), path: target, headerFields: headers)
        }
    }

    /// One header of an answer the gate writes itself. Names are Bedside's own; a value may carry a checked part
    /// of the request (the Location of a redirect), so a header with a line break in it is never written.
    public struct HeaderLine: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public struct Refusal: Sendable, Equatable {
        public var status: Int
        public var reason: String
        /// JSON: `{"error": ..., "fix": ...}`.
        public var body: String

        public init(status: Int, reason: String, error: String, fix: String) {
            self.status = status
            self.reason = reason
            // The one error shape (APIError's), encoded as every other answer: any text stays valid JSON.
            let data = try? JSONWire.encoder().encode(APIError(.badRequest, error, fix: fix))
            body = data.map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"bad request"}"#
        }

        /// Any other answer the gate gives itself (the plain-HTTP pages beyond loopback): its type, headers and bytes.
        public init(
            status: Int, reason: String, contentType: String, headers: [HeaderLine] = [], bytes: [UInt8], head: Bool = false
        ) {
            self.status = status
            self.reason = reason
            self.contentType = contentType
            self.headers = headers
            self.bytes = bytes
            self.headOnly = head
            body = contentType.hasPrefix("application/json") ? String(decoding: bytes, as: UTF8.self) : "\(contentType), \(bytes.count) bytes"
        }

        public var contentType = "application/json"
        /// Extra header lines.
        public var headers: [HeaderLine] = []
        /// The body when it is not `body` (binary, HTML).
        public var bytes: [UInt8]? = nil
        /// A HEAD request: the headers only.
        public var headOnly = false

        /// The whole HTTP/1.1 response, closing the connection.
        public var response: String { String(decoding: responseBytes, as: UTF8.self) }

        public var responseBytes: [UInt8] {
            let payload = bytes ?? Array(body.utf8)
            var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(payload.count)\r\n"
            // By bytes: "\r\n" is one Character in Swift, neither "\r" nor "\n".
            for h in headers where !(h.name + h.value).utf8.contains(where: { $0 == 13 || $0 == 10 }) {
                head += "\(h.name): \(h.value)\r\n"
            }
            head += "Connection: close\r\nCache-Control: no-store\r\n\r\n"
            return Array(head.utf8) + (headOnly ? [] : payload)
        }

        public static let timeout = Refusal(
            status: 408, reason: "Request Timeout", error: "no complete request within the time allowed",
            fix: "send the whole request head at once")
    }

    public enum Decision: Sendable, Equatable {
        case needMore
        case pass(Head)
        case refuse(Refusal)
    }

    /// Decides on the bytes received so far (all of them, from the connection's start). `searchFrom`: where the
    /// previous call stopped looking for the head's end (the caller's bytes before it hold none), so that a head
    /// arriving a byte at a time costs linear time, not quadratic.
    public func decide(_ all: [UInt8], searchFrom: Int = 0) -> Decision {
        let tooLarge = Refusal(
            status: 431, reason: "Request Header Fields Too Large",
            error: "request head over \(maxHeadBytes / 1024) KiB or \(maxHeaderLines) lines", fix: "send fewer or shorter headers")
        var start = 0
        while start + 1 < all.count, all[start] == 13, all[start + 1] == 10 { start += 2 }  // leading CRLFs are allowed
        let bytes = all[start...]
        // The request line, as soon as it is there: garbage and unknown methods are refused without waiting.
        let opening = bytes.prefix(64)
        let lineEnd = opening.firstIndex(of: 10)
        let firstLine = opening[opening.startIndex..<(lineEnd ?? opening.endIndex)]
        if let space = firstLine.firstIndex(of: 32) ?? (firstLine.count > 16 ? firstLine.endIndex : nil) {
            let method = String(decoding: firstLine[firstLine.startIndex..<space], as: UTF8.self)
            if !Self.methods.contains(method) {
                let shown =
                    method.unicodeScalars.allSatisfy({ $0.value >= 33 && $0.value < 127 }) && method.count <= 16
                    ? "method \(method)" : "bytes that are not an HTTP request"
                return .refuse(
                    Refusal(
                        status: shown.hasPrefix("method") ? 501 : 400, reason: shown.hasPrefix("method") ? "Not Implemented" : "Bad Request",
                        error: "\(shown)", fix: "speak HTTP/1.1 with GET or POST (Bedside's page and /api)"))
            }
        }
        // The head ends at an empty line: CRLF CRLF, or bare LFs (which HTTP/1.1 lets a server accept).
        let from = max(bytes.startIndex, searchFrom - 3)
        let tail = all[from..<all.endIndex]
        let ends = [Self.find([13, 10, 13, 10], in: tail), Self.find([10, 10], in: tail), Self.find([10, 13, 10], in: tail)]
        guard let headEnd = ends.compactMap({ $0 }).min() else {
            // Leading empty lines count too: a stream of CR LF is not a way to hold memory.
            return all.count > maxHeadBytes ? .refuse(tooLarge) : .needMore
        }
        if headEnd > maxHeadBytes { return .refuse(tooLarge) }
        // What HTTP/1.1 allows and the HTTP parser behind the gate insists on, checked on the raw bytes; anything
        // the parser would reject is refused here, with an answer, instead of a connection held open in silence.
        func bad(_ what: String) -> Decision {
            .refuse(Refusal(status: 400, reason: "Bad Request", error: "malformed request: \(what)", fix: "send a well-formed HTTP/1.1 request"))
        }
        var raw = bytes[bytes.startIndex..<headEnd].split(separator: 10, omittingEmptySubsequences: false)
        while raw.last?.isEmpty == true || raw.last == [13] { raw.removeLast() }
        guard raw.allSatisfy({ $0.last == 13 }) else { return bad("lines must end with CR LF") }
        let lines = raw.map { $0.dropLast() }
        guard !lines.isEmpty else { return bad("an empty request") }
        if lines.count > maxHeaderLines + 1 { return .refuse(tooLarge) }
        let parts = lines[0].split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return bad("the request line is not METHOD TARGET HTTP/1.1") }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return bad("HTTP version \(version.prefix(16))") }
        // The target: visible ASCII only (non-ASCII is percent-encoded), starting with / (or * for OPTIONS).
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else { return bad("characters in the URL that must be percent-encoded") }
        let method = String(decoding: parts[0], as: UTF8.self), target = String(decoding: parts[1], as: UTF8.self)
        guard target.hasPrefix("/") || (method == "OPTIONS" && target == "*") else { return bad("the URL must start with /") }
        let tokenBytes = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var fields: [Head.Field] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58), colon != line.startIndex else {
                return bad(line.first == 32 || line.first == 9 ? "folded header lines" : "a header line without a colon")
            }
            guard line[line.startIndex..<colon].allSatisfy({ tokenBytes.contains($0) }) else { return bad("a header name with invalid characters") }
            let value = line[(colon + 1)...]
            guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else { return bad("control characters in a header value") }
            fields.append(
                Head.Field(
                    name: String(decoding: line[line.startIndex..<colon], as: UTF8.self),
                    value: String(decoding: value, as: UTF8.self).trimmingCharacters(in: .whitespaces)))
        }
        // The body's length must be unambiguous (two different lengths, or a length beside chunking, is how
        // requests are smuggled past proxies).
        let lengths = fields.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let chunked = fields.contains { $0.name.lowercased() == "transfer-encoding" }
        if let length = lengths.first {
            guard lengths.count == 1, !length.isEmpty, length.count <= 15, length.allSatisfy(\.isASCII), length.allSatisfy(\.isNumber) else {
                return bad("Content-Length \(length.prefix(24)) (one length, in digits)")
            }
            if chunked { return bad("both Content-Length and Transfer-Encoding") }
        }
        return .pass(Head(method: method, target: target, version: version, fields: fields))
    }

    static func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.startIndex
        while i <= hay.endIndex - needle.count {
            if hay[i] == needle[0], hay[i..<(i + needle.count)].elementsEqual(needle) { return i + needle.count }
            i += 1
        }
        return nil
    }
}

/// The channel handler in front of the HTTP parser: holds the connection's first bytes until its first request
/// head is complete, refuses what `RequestHeadCheck` refuses (and what `judge` refuses: a WebSocket upgrade without
/// a token gets 401 with a reason, which Hummingbird's upgrade path answers with a bare 400), answers 408 when the
/// head does not arrive within `headTimeout`, then steps aside. Later requests on the connection are Hummingbird's,
/// with its idle timeout.
final class RequestHeadGateHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let check: RequestHeadCheck
    let headTimeout: TimeAmount
    let judge: @Sendable (RequestHeadCheck.Head, _ peer: String) -> RequestHeadCheck.Refusal?
    let onRefuse: @Sendable (RequestHeadCheck.Refusal, _ peer: String) -> Void
    /// What this connection came over (set by `TLSSniffer` before the first byte reaches the gate), and what the
    /// transport policy says of a request on it: nil serves it.
    let connection: ConnectionFacts?
    let transport: (@Sendable (RequestHeadCheck.Head, ConnectionFacts) -> RequestHeadCheck.Refusal?)?
    private var received: [UInt8] = []
    /// How far `received` has been searched for the head's end.
    private var searched = 0
    private var pending: [ByteBuffer] = []
    private var timer: Scheduled<Void>?
    private var finished = false

    init(
        check: RequestHeadCheck, headTimeout: TimeAmount,
        judge: @escaping @Sendable (RequestHeadCheck.Head, String) -> RequestHeadCheck.Refusal?,
        onRefuse: @escaping @Sendable (RequestHeadCheck.Refusal, String) -> Void,
        connection: ConnectionFacts? = nil,
        transport: (@Sendable (RequestHeadCheck.Head, ConnectionFacts) -> RequestHeadCheck.Refusal?)? = nil
    ) {
        self.check = check
        self.headTimeout = headTimeout
        self.judge = judge
        self.onRefuse = onRefuse
        self.connection = connection
        self.transport = transport
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: headTimeout) {
            let (handler, context) = loopBound.value
            if handler.received.isEmpty {
                // Nothing sent (or, behind TLS, no handshake finished: an answer could not even be written).
                handler.finished = true
                context.close(promise: nil)
            } else {
                handler.refuse(.timeout, context: context)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        finished = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let buffer = unwrapInboundIn(data)
        received += buffer.readableBytesView
        pending.append(buffer)
        let decision = check.decide(received, searchFrom: searched)
        searched = received.count
        switch decision {
        case .needMore:
            return
        case .refuse(let refusal):
            refuse(refusal, context: context)
        case .pass(let head):
            if let connection, let transport, let answer = transport(head, connection) {
                refuse(answer, context: context)
                return
            }
            if let refusal = judge(head, Self.peer(context)) {
                refuse(refusal, context: context)
                return
            }
            finished = true
            timer?.cancel()
            for b in pending { context.fireChannelRead(wrapInboundOut(b)) }
            pending = []
            received = []
            context.fireChannelReadComplete()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func refuse(_ refusal: RequestHeadCheck.Refusal, context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        connection?.answeredByGate.store(true, ordering: .relaxed)
        timer?.cancel()
        pending = []
        received = []
        onRefuse(refusal, Self.peer(context))
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: refusal.responseBytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
        // A peer that does not read (or a TLS handshake that never finished, so the answer cannot be flushed):
        // closed anyway.
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    static func peer(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress?.ipAddress ?? "?"
    }
}

/// A Hummingbird child channel with the request-head gate in front of it (after TLS, when TLS wraps it).
struct GatedChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let base: Base.Value
        let facts: ConnectionFacts
        var channel: any Channel { base.channel }
    }
    let base: Base
    let check: RequestHeadCheck
    let headTimeout: TimeAmount
    let judge: @Sendable (RequestHeadCheck.Head, String) -> RequestHeadCheck.Refusal?
    let onRefuse: @Sendable (RequestHeadCheck.Refusal, String) -> Void
    /// The TLS sniffer in front of the gate, and the policy for what arrives in plain text (nil: no sniffing,
    /// plain HTTP only).
    var secure: SecureTransport? = nil
    /// A TLS handshake that failed: the peer and the error (logged once per device by the caller).
    var handshakeFailed: @Sendable (String, String) -> Void = { _, _ in }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let facts = ConnectionFacts(peer: channel.remoteAddress)
            var policy: (@Sendable (RequestHeadCheck.Head, ConnectionFacts) -> RequestHeadCheck.Refusal?)? = nil
            if let secure {
                try channel.pipeline.syncOperations.addHandler(TLSSniffer(transport: secure, facts: facts, handshakeFailed: handshakeFailed))
                policy = { head, facts in secure.answerPlain(head, facts) }
            }
            try channel.pipeline.syncOperations.addHandler(
                RequestHeadGateHandler(
                    check: check, headTimeout: headTimeout, judge: judge, onRefuse: onRefuse, connection: facts, transport: policy))
            return facts
        }.flatMap { facts in
            base.setup(channel: channel, logger: logger).map { Value(base: $0, facts: facts) }
        }
    }

    func handle(value: Value, logger: Logger) async {
        var quiet = logger
        quiet.handler = ConnectionLogHandler(inner: logger.handler, facts: value.facts)
        await base.handle(value: value.base, logger: quiet)
    }
}
