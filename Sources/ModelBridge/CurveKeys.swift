import BedsideCore
import CZeroMQ
import Foundation
import Logging

/// CURVE key pairs (Z85 text, 40 characters) for remote workers. The corresponding C call is `zmq_curve_keypair`.
public enum CurveKeys {
    public static func generate() throws -> (public: String, secret: String) {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        _ = try ZMQError.check(zmq_curve_keypair(&pub, &sec), "zmq_curve_keypair")
        return (z85(pub), z85(sec))
    }

    static func z85(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The lines of a key file that are keys (not blank, not comments).
    public static func lines(ofFile path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ZMQError(call: "reading key file \(path) (make one with `bedside keys`)", errno: ENOENT)
        }
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

/// Answers libzmq's authentication requests (ZAP) for CURVE server sockets: only listed worker keys get in.
///
/// Runs one thread with a REP socket on `inproc://zeromq.zap.01`, as the ZAP protocol (RFC 27) asks.
public final class CurveAuthenticator: @unchecked Sendable {
    public static let shared = CurveAuthenticator()
    private let lock = NSLock()
    private var allowed: Set<String> = []
    private var started = false
    private(set) var refused = 0
    private let logger = Logger(label: "bedside.zap")

    /// Allows these worker public keys (Z85); starts the handler on first use.
    public func allow(_ keys: [String]) throws {
        lock.lock()
        allowed.formUnion(keys)
        let start = !started
        started = true
        lock.unlock()
        guard start else { return }
        let socket = try ZMQSocket(.rep)
        try socket.bind("inproc://zeromq.zap.01")
        let t = Thread { [self] in
            ThreadName.set("zap")
            serve(socket)
        }
        t.name = "zap"
        t.start()
    }

    public var refusedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return refused
    }

    private func serve(_ socket: ZMQSocket) {
        while true {
            guard let req = try? socket.receive(timeoutMs: 1000) else { continue }
            // version, request id, domain, address, identity, mechanism, credentials...
            // A REP socket must answer every request, or it never receives the next one: malformed ones get a 400.
            var ok = false
            var key = "?"
            let address = req.count > 3 ? String(decoding: req[3], as: UTF8.self) : "?"
            if req.count >= 7, String(decoding: req[5], as: UTF8.self) == "CURVE", req[6].count == 32 {
                var z85 = [CChar](repeating: 0, count: 41)
                _ = req[6].withUnsafeBufferPointer { zmq_z85_encode(&z85, $0.baseAddress, 32) }
                key = CurveKeys.z85(z85)
                lock.lock()
                ok = allowed.contains(key)
                if !ok { refused += 1 }
                lock.unlock()
            }
            if ok {
                logger.info("remote worker key \(key.prefix(8))... from \(address) accepted")
            } else {
                logger.warning("remote worker key \(key.prefix(8))... from \(address) refused: not in authorized_workers")
            }
            let reply: [[UInt8]] = [
                Array("1.0".utf8), req.count > 1 ? req[1] : [], Array((ok ? "200" : "400").utf8),
                Array((ok ? "OK" : "worker key not authorized").utf8), [], [],
            ]
            do {
                try socket.sendBlocking(reply)
            } catch {
                logger.error("cannot answer libzmq's authentication request: \(error)")
            }
        }
    }
}
