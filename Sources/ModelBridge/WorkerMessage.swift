import BedsideCore
import Foundation

// The bridge protocol (docs/protocol.md, "Bridge protocol"): one type per message, the Swift side of
// bridge/bridge/core.py's dataclasses. Tests/ProtocolExamples/bridge holds one example of each; the bridge's
// pytest and ModelBridgeTests decode the same files.

/// What a worker sends Bedside. Decoding is lenient where the bridge may leave a field out (an older bridge, a
/// remote one), strict where a missing field makes the message meaningless (a result without its frame).
public enum WorkerMessage: Sendable, Equatable {
    case hello(Hello)
    case ready(Ready)
    case heartbeat
    case network([ModelStatus.NetworkAttempt])
    case fatal(Fatal)
    case result(Answer)
    case error(Answer)
    case log(stream: String, line: String)
    /// A type this Bedside does not know (a newer bridge): not an answer, never a reason to restart.
    case other(String)

    public struct Hello: Codable, Sendable, Equatable {
        /// -1 when the worker did not say (a bridge from before the protocol had a version).
        public var `protocol`: Int
        public var pid: Int32?
        public var name: String?
        public var python: String?
        public var bridge: String?
    }

    public struct Ready: Sendable, Equatable {
        public var setupMs: Double?
        public var model: ModelStatus.Info?
    }

    public struct Fatal: Codable, Sendable, Equatable {
        /// `import`, `setup`, `protocol`: where the worker gave up.
        public var stage: String
        public var error: String
        public var traceback: String
        public var fault: String
    }

    /// A `result` or an `error` for one frame.
    public struct Answer: Sendable, Equatable {
        /// nil: the worker did not say which frame (a protocol error the runner reports).
        public var seq: UInt64?
        /// The worker's own time for the model, clamped to [0, one day] (never NaN).
        public var modelMs: Double
        /// `result`: the result object as sent.
        public var result: RawJSON?
        /// `error`: the message, the traceback and whose fault (researcher, result, bridge).
        public var error: String?
        public var traceback: String?
        public var fault: String?
        /// The worker's monotonic times (received, model start, model end), when all three came in order.
        public var times: Prediction.WorkerTimes?

        public init(seq: UInt64?, modelMs: Double, result: RawJSON? = nil, error: String? = nil, traceback: String? = nil, fault: String? = nil) {
            self.seq = seq
            self.modelMs = modelMs
            self.result = result
            self.error = error
            self.traceback = traceback
            self.fault = fault
        }
    }

    enum Key: String, CodingKey {
        case type, `protocol`, pid, name, python, bridge, model, attempts, stage, error, traceback, fault, seq, result
        case stream, line
        case setupMs = "setup_ms", modelMs = "model_ms", receivedNs = "received_ns", startNs = "start_ns", endNs = "end_ns"
    }

    struct Attempt: Decodable {
        var host: String?
        var port: Int?
        var url: String?
        var event: String?
        var `where`: String?
        var function: String?
        var count: Int?
        var denied: Bool?
    }

    /// Decodes one message; throws when it is not a JSON object with a string `type`.
    public static func decode(_ bytes: [UInt8]) throws -> WorkerMessage {
        try JSONDecoder().decode(Wire.self, from: Data(bytes)).message
    }

    /// Decodable wrapper (an enum with associated values cannot be `Decodable` and stay this readable).
    struct Wire: Decodable {
        var message: WorkerMessage

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            let type = try c.decode(String.self, forKey: .type)
            func string(_ k: Key) -> String? { (try? c.decodeIfPresent(String.self, forKey: k)) ?? nil }
            func number(_ k: Key) -> Double? { (try? c.decodeIfPresent(Double.self, forKey: k)) ?? nil }
            // A whole number as any JSON number writes it: 12, 12.0 (and 12.4, read as 12, the way the runner always
            // read it); nil for negative, NaN or past 2^64.
            func nanos(_ k: Key) -> UInt64? {
                if let n = (try? c.decodeIfPresent(UInt64.self, forKey: k)) ?? nil { return n }
                guard let d = number(k), d.isFinite, d >= 0, d < 18_446_744_073_709_551_616.0 else { return nil }
                return UInt64(d)
            }
            switch type {
            case "hello":
                message = .hello(
                    Hello(
                        protocol: (try? c.decodeIfPresent(Int.self, forKey: .protocol)) ?? -1,
                        pid: (try? c.decodeIfPresent(Int32.self, forKey: .pid)) ?? nil, name: string(.name), python: string(.python),
                        bridge: string(.bridge)))
            case "ready":
                message = .ready(Ready(setupMs: number(.setupMs), model: (try? c.decodeIfPresent(ModelStatus.Info.self, forKey: .model)) ?? nil))
            case "heartbeat":
                message = .heartbeat
            case "network":
                let attempts = (try? c.decodeIfPresent([Attempt].self, forKey: .attempts)) ?? nil
                message = .network(
                    (attempts ?? []).map {
                        ModelStatus.NetworkAttempt(
                            host: $0.host ?? "?", port: $0.port, url: $0.url, event: $0.event, location: $0.where, function: $0.function,
                            count: $0.count ?? 1, denied: $0.denied ?? false)
                    })
            case "fatal":
                message = .fatal(
                    Fatal(stage: string(.stage) ?? "?", error: string(.error) ?? "?", traceback: string(.traceback) ?? "", fault: string(.fault) ?? "?"))
            case "result", "error":
                let raw = number(.modelMs) ?? 0
                var answer = Answer(
                    seq: nanos(.seq), modelMs: raw.isFinite ? min(max(raw, 0), 86_400_000) : 0, error: string(.error),
                    traceback: string(.traceback), fault: string(.fault))
                if type == "result", let value = (try? c.decodeIfPresent(JSONValue.self, forKey: .result)) ?? nil, value.objectValue != nil {
                    answer.result = RawJSON(value.text)
                }
                if let a = nanos(.receivedNs), let b = nanos(.startNs), let e = nanos(.endNs), a <= b, b <= e {
                    answer.times = .init(receivedNanos: a, startNanos: b, endNanos: e, sameClock: true)
                }
                message = type == "result" ? .result(answer) : .error(answer)
            case "log":
                message = .log(stream: string(.stream) ?? "stdout", line: string(.line) ?? "")
            default:
                message = .other(type)
            }
        }
    }
}

/// What Bedside sends a worker: a frame to answer, or the request to exit.
public enum BedsideMessage: Sendable, Equatable, Encodable {
    case frame(FrameMessage)
    case shutdown

    /// One frame: where its pixels are (a shared-memory file and offset, or the message's next part for a remote
    /// worker), their layout, and in a pipeline the upstream model's answer for it.
    public struct FrameMessage: Codable, Sendable, Equatable {
        public struct Upstream: Codable, Sendable, Equatable {
            public var model: String
            public var seq: UInt64
            public var result: RawJSON
            public init(model: String, seq: UInt64, result: RawJSON) {
                self.model = model
                self.seq = seq
                self.result = result
            }
        }
        public var `protocol`: Int
        public var seq: UInt64
        public var ptsNs: UInt64
        public var width: Int
        public var height: Int
        public var format: String
        public var stride: Int
        public var size: Int
        /// The shared-memory file (local workers); nil: the pixels are the message's second part.
        public var shm: String?
        public var offset: Int
        public var upstream: Upstream?

        public init(
            protocol: Int, seq: UInt64, ptsNs: UInt64, width: Int, height: Int, format: String, stride: Int, size: Int,
            shm: String?, offset: Int, upstream: Upstream?
        ) {
            self.protocol = `protocol`
            self.seq = seq
            self.ptsNs = ptsNs
            self.width = width
            self.height = height
            self.format = format
            self.stride = stride
            self.size = size
            self.shm = shm
            self.offset = offset
            self.upstream = upstream
        }

        enum CodingKeys: String, CodingKey {
            case type, `protocol`, seq, width, height, format, stride, size, shm, offset, upstream
            case ptsNs = "pts_ns"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            guard try c.decode(String.self, forKey: .type) == "frame" else {
                throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "not a frame message")
            }
            `protocol` = try c.decode(Int.self, forKey: .protocol)
            seq = try c.decode(UInt64.self, forKey: .seq)
            ptsNs = try c.decode(UInt64.self, forKey: .ptsNs)
            width = try c.decode(Int.self, forKey: .width)
            height = try c.decode(Int.self, forKey: .height)
            format = try c.decode(String.self, forKey: .format)
            stride = try c.decode(Int.self, forKey: .stride)
            size = try c.decode(Int.self, forKey: .size)
            shm = try c.decodeIfPresent(String.self, forKey: .shm)
            offset = try c.decode(Int.self, forKey: .offset)
            upstream = try c.decodeIfPresent(Upstream.self, forKey: .upstream)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode("frame", forKey: .type)
            try c.encode(`protocol`, forKey: .protocol)
            try c.encode(seq, forKey: .seq)
            try c.encode(ptsNs, forKey: .ptsNs)
            try c.encode(width, forKey: .width)
            try c.encode(height, forKey: .height)
            try c.encode(format, forKey: .format)
            try c.encode(stride, forKey: .stride)
            try c.encode(size, forKey: .size)
            try c.encodeIfPresent(shm, forKey: .shm)
            try c.encode(offset, forKey: .offset)
            try c.encodeIfPresent(upstream, forKey: .upstream)
        }
    }

    enum ShutdownKeys: String, CodingKey { case type }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .frame(let f): try f.encode(to: encoder)
        case .shutdown:
            var c = encoder.container(keyedBy: ShutdownKeys.self)
            try c.encode("shutdown", forKey: .type)
        }
    }

    /// The message's bytes as they go on the socket.
    public var bytes: [UInt8] { Array(JSONWire.string(self).utf8) }
}
