import CZeroMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A failed libzmq call, with `zmq_strerror`'s message.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var errno: Int32
    public var description: String { "\(call) failed: \(String(cString: zmq_strerror(errno)))" }

    /// `zmq_errno()` after a failed call: the one place libzmq codes become errors.
    static func check(_ rc: Int32, _ call: @autoclosure () -> String) throws -> Int32 {
        if rc < 0 { throw ZMQError(call: call(), errno: zmq_errno()) }
        return rc
    }
}

/// A libzmq context. One per process is plenty; sockets keep it alive.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public static let shared = ZMQContext()

    public init() {
        handle = zmq_ctx_new()!
    }

    deinit { zmq_ctx_term(handle) }
}

/// One ZeroMQ socket, owned here and closed in `deinit`. Used from one thread at a time.
///
/// The corresponding C calls are `zmq_socket`, `zmq_bind`, `zmq_msg_send`, `zmq_msg_recv`, `zmq_poll`.
public final class ZMQSocket: @unchecked Sendable {
    public enum Kind { case dealer, router, pair, req, rep }

    let handle: UnsafeMutableRawPointer
    let context: ZMQContext

    public init(_ kind: Kind, context: ZMQContext = .shared) throws {
        let type: Int32 =
            switch kind {
            case .dealer: ZMQ_DEALER
            case .router: ZMQ_ROUTER
            case .pair: ZMQ_PAIR
            case .req: ZMQ_REQ
            case .rep: ZMQ_REP
            }
        guard let h = zmq_socket(context.handle, type) else { throw ZMQError(call: "zmq_socket", errno: zmq_errno()) }
        handle = h
        self.context = context
        try setInt(ZMQ_LINGER, 0)
        // A hard cap: a peer sending a bigger message is disconnected rather than filling memory.
        var max: Int64 = 64 << 20
        _ = try ZMQError.check(
            zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &max, MemoryLayout<Int64>.size), "zmq_setsockopt(ZMQ_MAXMSGSIZE)")
    }

    deinit { zmq_close(handle) }

    public func setInt(_ option: Int32, _ value: Int32) throws {
        var v = value
        _ = try ZMQError.check(zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(\(option))")
    }

    public func bind(_ endpoint: String) throws {
        _ = try ZMQError.check(zmq_bind(handle, endpoint), "zmq_bind(\(endpoint))")
    }

    public func connect(_ endpoint: String) throws {
        _ = try ZMQError.check(zmq_connect(handle, endpoint), "zmq_connect(\(endpoint))")
    }

    public func unbind(_ endpoint: String) {
        _ = zmq_unbind(handle, endpoint)
    }

    /// Sends a multipart message without blocking; returns false when it cannot be queued now (no peer, HWM).
    @discardableResult
    public func send(_ parts: [[UInt8]]) throws -> Bool {
        for (i, part) in parts.enumerated() {
            let flags = (i < parts.count - 1 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT
            let rc = part.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                let e = zmq_errno()
                if e == EAGAIN && i == 0 { return false }
                throw ZMQError(call: "zmq_send", errno: e)
            }
        }
        return true
    }

    /// Sends a multipart message, waiting if needed (REP replies).
    public func sendBlocking(_ parts: [[UInt8]]) throws {
        for (i, part) in parts.enumerated() {
            let flags = i < parts.count - 1 ? ZMQ_SNDMORE : 0
            let rc = part.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            _ = try ZMQError.check(rc, "zmq_send")
        }
    }

    /// Makes this a CURVE server with the given secret key (Z85); clients are checked by `CurveAuthenticator`.
    /// The corresponding C calls are `zmq_setsockopt(ZMQ_CURVE_SERVER, ZMQ_CURVE_SECRETKEY, ZMQ_ZAP_DOMAIN)`.
    public func makeCurveServer(secretKey: String) throws {
        try setInt(ZMQ_CURVE_SERVER, 1)
        let key = Array(secretKey.utf8)
        guard key.count == 40 else { throw ZMQError(call: "CURVE secret key (must be 40 Z85 characters)", errno: EINVAL) }
        _ = try key.withUnsafeBytes {
            try ZMQError.check(zmq_setsockopt(handle, ZMQ_CURVE_SECRETKEY, $0.baseAddress, 40), "zmq_setsockopt(ZMQ_CURVE_SECRETKEY)")
        }
        let domain = Array("bedside".utf8)
        _ = try domain.withUnsafeBytes {
            try ZMQError.check(zmq_setsockopt(handle, ZMQ_ZAP_DOMAIN, $0.baseAddress, $0.count), "zmq_setsockopt(ZMQ_ZAP_DOMAIN)")
        }
    }

    /// Waits up to `timeoutMs` for a message; returns its parts, or nil on timeout.
    public func receive(timeoutMs: Int) throws -> [[UInt8]]? {
        guard try poll(timeoutMs: timeoutMs) else { return nil }
        var parts: [[UInt8]] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let n = try ZMQError.check(zmq_msg_recv(&msg, handle, ZMQ_DONTWAIT), "zmq_msg_recv")
            let data = zmq_msg_data(&msg)
            parts.append(n > 0 ? Array(UnsafeRawBufferPointer(start: data, count: Int(n))) : [])
            if zmq_msg_more(&msg) == 0 { break }
        }
        return parts
    }

    /// Whether a message is ready within `timeoutMs`.
    public func poll(timeoutMs: Int) throws -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        while true {
            let rc = zmq_poll(&item, 1, timeoutMs)
            if rc < 0 && zmq_errno() == EINTR { continue }
            _ = try ZMQError.check(rc, "zmq_poll")
            return rc > 0
        }
    }

    /// Waits up to `timeoutMs` until any of `sockets` has a message; says which. The corresponding C call is `zmq_poll`.
    /// `alsoFD` (an eventfd, say) is polled too; its readiness is the last element.
    public static func poll(_ sockets: [ZMQSocket], alsoFD: Int32? = nil, timeoutMs: Int) throws -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        if let fd = alsoFD { items.append(zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)) }
        while true {
            let rc = zmq_poll(&items, Int32(items.count), timeoutMs)
            if rc < 0 && zmq_errno() == EINTR { continue }
            _ = try ZMQError.check(rc, "zmq_poll")
            return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
        }
    }

    /// Starts libzmq's socket monitor for `events` (ZMQ_EVENT_* bits) and returns the PAIR socket its events arrive
    /// on; read them with `MonitorEvent(parts)`. Call `stopMonitor()` before dropping this socket.
    /// The corresponding C call is `zmq_socket_monitor`.
    public func monitor(events: Int32) throws -> ZMQSocket {
        let endpoint = "inproc://bedside-monitor-\(Self.monitorCount.add(1))"
        _ = try ZMQError.check(zmq_socket_monitor(handle, endpoint, events), "zmq_socket_monitor")
        let pair = try ZMQSocket(.pair, context: context)
        try pair.connect(endpoint)
        return pair
    }

    public func stopMonitor() {
        _ = zmq_socket_monitor(handle, nil, 0)
    }

    private static let monitorCount = Counter()
    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add(_ n: Int) -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += n
            return value
        }
    }

    /// One event from a socket monitor: what happened (ZMQ_EVENT_*), its value (a descriptor, an errno or a ZAP
    /// status code) and the endpoint.
    public struct MonitorEvent: Sendable {
        public var event: Int32
        public var value: UInt32
        public var endpoint: String

        public static let accepted = ZMQ_EVENT_ACCEPTED
        public static let handshakeSucceeded = ZMQ_EVENT_HANDSHAKE_SUCCEEDED
        public static let handshakeFailedAuth = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        public static let handshakeFailedProtocol = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        public static let handshakeFailedNoDetail = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        public static let disconnected = ZMQ_EVENT_DISCONNECTED
        /// What a listening socket's owner wants to know about its peers.
        public static let peerEvents =
            accepted | handshakeSucceeded | handshakeFailedAuth | handshakeFailedProtocol | handshakeFailedNoDetail | disconnected

        public init?(_ parts: [[UInt8]]) {
            guard parts.count >= 2, parts[0].count >= 6 else { return nil }
            event = Int32(UInt16(parts[0][0]) | UInt16(parts[0][1]) << 8)
            value = UInt32(parts[0][2]) | UInt32(parts[0][3]) << 8 | UInt32(parts[0][4]) << 16 | UInt32(parts[0][5]) << 24
            endpoint = String(decoding: parts[1], as: UTF8.self)
        }
    }

    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
