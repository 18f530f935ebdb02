import BedsideCore
import Foundation

// The viewer protocol (docs/protocol.md, "Viewer protocol"): one Codable type per text message on the live
// WebSocket. Tests/ProtocolExamples/viewer holds one example of each; the Swift tests and the page's node tests
// decode the same files, so the server and the page cannot drift apart.

/// Decoding a message checks its `type` first: a `status` text is never read as a `hello`.
struct MessageType: Error, CustomStringConvertible {
    var expected: String
    var found: String
    var description: String { "a \(expected) message has type \"\(expected)\", not \"\(found)\"" }

    static func check(_ decoder: any Decoder, _ expected: String) throws {
        enum Key: String, CodingKey { case type }
        let found = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .type)
        guard found == expected else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: MessageType(expected: expected, found: found).description))
        }
    }
}

/// `hello`: the first text message a viewer gets after the upgrade.
public struct HelloMessage: Codable, Sendable, Equatable {
    public static let type = "hello"
    public var version: String
    /// The model the page follows (the first one), and every model of the config.
    public var model: String
    public var models: [String]
    public var fps: Double
    /// `web.stale_ms`.
    public var staleMs: Int
    /// Capture size in source pixels (0 before the first frame).
    public var width: Int
    public var height: Int

    public init(version: String, model: String, models: [String], fps: Double, staleMs: Int, width: Int, height: Int) {
        self.version = version
        self.model = model
        self.models = models
        self.fps = fps
        self.staleMs = staleMs
        self.width = width
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case type, version, model, models, fps, width, height
        case staleMs = "stale_ms"
    }

    public init(from decoder: any Decoder) throws {
        try MessageType.check(decoder, Self.type)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        model = try c.decode(String.self, forKey: .model)
        models = try c.decode([String].self, forKey: .models)
        fps = try c.decode(Double.self, forKey: .fps)
        staleMs = try c.decode(Int.self, forKey: .staleMs)
        width = try c.decode(Int.self, forKey: .width)
        height = try c.decode(Int.self, forKey: .height)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.type, forKey: .type)
        try c.encode(version, forKey: .version)
        try c.encode(model, forKey: .model)
        try c.encode(models, forKey: .models)
        try c.encode(fps, forKey: .fps)
        try c.encode(staleMs, forKey: .staleMs)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
    }
}

/// `prediction`: one model's answer for one frame, after the study arm chose what of it the tablets see.
public struct PredictionMessage: Codable, Sendable, Equatable {
    public static let type = "prediction"
    public var model: String
    public var seq: UInt64
    /// The answered frame's capture time (monotonic ns, the same clock as the binary frames' header).
    public var ptsNs: UInt64
    /// How old the frame was when this message was made, and when it was handed to the model (ms).
    public var ageMs: Double
    public var dispatchAgeMs: Double
    public var modelMs: Double
    /// Bedside -> model -> Bedside (ms).
    public var latencyMs: Double
    /// The region the model saw, in source pixels, when one is configured.
    public var crop: CropRect?
    /// Only for sources that know it (the phantom).
    public var truth: GroundTruth?
    /// The result object as the bridge validated it (docs/protocol.md, "Result object").
    public var result: RawJSON

    public init(
        model: String, seq: UInt64, ptsNs: UInt64, ageMs: Double, dispatchAgeMs: Double, modelMs: Double,
        latencyMs: Double, crop: CropRect?, truth: GroundTruth?, result: RawJSON
    ) {
        self.model = model
        self.seq = seq
        self.ptsNs = ptsNs
        self.ageMs = ageMs
        self.dispatchAgeMs = dispatchAgeMs
        self.modelMs = modelMs
        self.latencyMs = latencyMs
        self.crop = crop
        self.truth = truth
        self.result = result
    }

    /// The message for `p` at monotonic time `now`; times rounded to 0.01 ms.
    public init(_ p: Prediction, now: UInt64) {
        func ms(_ nanos: UInt64) -> Double { (Double(nanos) / 1e4).rounded() / 100 }
        self.init(
            model: p.model, seq: p.seq, ptsNs: p.ptsNanos, ageMs: ms(now &- p.ptsNanos),
            dispatchAgeMs: ms(p.dispatchedNanos &- p.ptsNanos), modelMs: (p.modelMs * 100).rounded() / 100,
            latencyMs: (p.roundTripMs * 100).rounded() / 100, crop: p.crop, truth: p.truth, result: RawJSON(p.resultJSON))
    }

    enum CodingKeys: String, CodingKey {
        case type, model, seq, crop, truth, result
        case ptsNs = "pts_ns", ageMs = "age_ms", dispatchAgeMs = "dispatch_age_ms", modelMs = "model_ms"
        case latencyMs = "latency_ms"
    }

    public init(from decoder: any Decoder) throws {
        try MessageType.check(decoder, Self.type)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        seq = try c.decode(UInt64.self, forKey: .seq)
        ptsNs = try c.decode(UInt64.self, forKey: .ptsNs)
        ageMs = try c.decode(Double.self, forKey: .ageMs)
        dispatchAgeMs = try c.decode(Double.self, forKey: .dispatchAgeMs)
        modelMs = try c.decode(Double.self, forKey: .modelMs)
        latencyMs = try c.decode(Double.self, forKey: .latencyMs)
        crop = try c.decodeIfPresent(CropRect.self, forKey: .crop)
        truth = try c.decodeIfPresent(GroundTruth.self, forKey: .truth)
        result = try c.decode(RawJSON.self, forKey: .result)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.type, forKey: .type)
        try c.encode(model, forKey: .model)
        try c.encode(seq, forKey: .seq)
        try c.encode(ptsNs, forKey: .ptsNs)
        try c.encode(ageMs, forKey: .ageMs)
        try c.encode(dispatchAgeMs, forKey: .dispatchAgeMs)
        try c.encode(modelMs, forKey: .modelMs)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encodeIfPresent(crop, forKey: .crop)
        try c.encodeIfPresent(truth, forKey: .truth)
        try c.encode(result, forKey: .result)
    }
}

/// `drawn` (page -> server): the frames the page painted since its last report, each with how long ago by the
/// page's clock (capture -> drawn latency, `ViewerLatency`), and where the page knows them, how long ago its
/// bytes arrived and its picture was decoded.
public struct DrawnReport: Codable, Sendable, Equatable {
    public static let type = "drawn"
    public struct Frame: Codable, Sendable, Equatable {
        public var seq: UInt64
        public var agoMs: Double
        public var receivedAgoMs: Double?
        public var decodedAgoMs: Double?
        public init(seq: UInt64, agoMs: Double, receivedAgoMs: Double? = nil, decodedAgoMs: Double? = nil) {
            self.seq = seq
            self.agoMs = agoMs
            self.receivedAgoMs = receivedAgoMs
            self.decodedAgoMs = decodedAgoMs
        }
        enum CodingKeys: String, CodingKey {
            case seq
            case agoMs = "ago_ms"
            case receivedAgoMs = "received_ago_ms", decodedAgoMs = "decoded_ago_ms"
        }
    }
    public var type: String
    public var frames: [Frame]

    public init(frames: [Frame]) {
        type = Self.type
        self.frames = frames
    }
}

/// p50 / p99 in ms (null while there are no samples) over `n` samples.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var p50: Double?
    public var p99: Double?
    public var n: Int

    public init(p50: Double?, p99: Double?, n: Int) {
        self.p50 = p50
        self.p99 = p99
        self.n = n
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(p50, forKey: .p50)  // null, not absent: the page reads "no samples yet"
        try c.encode(p99, forKey: .p99)
        try c.encode(n, forKey: .n)
    }
}

/// capture -> drawn split into its stages, each the per-frame time of that stage (p50 / p99 over the same frames):
/// `bedside` capture until handed to the sockets, `network` until the page had the bytes (TLS, the link, the
/// browser's WebSocket), `decode` until the picture came out of the decoder, `paint` until it was on screen.
public struct LatencyStages: Codable, Sendable, Equatable {
    public static let none = LatencySummary(p50: nil, p99: nil, n: 0)
    public var bedside: LatencySummary
    public var network: LatencySummary
    public var decode: LatencySummary
    public var paint: LatencySummary

    public init(bedside: LatencySummary = none, network: LatencySummary = none, decode: LatencySummary = none, paint: LatencySummary = none) {
        self.bedside = bedside
        self.network = network
        self.decode = decode
        self.paint = paint
    }
}

/// The status's `viewers_latency`: capture -> drawn as the pages report it, overall and per viewer.
public struct ViewerLatencyStatus: Codable, Sendable, Equatable {
    public struct Viewer: Codable, Sendable, Equatable {
        public var viewer: Int
        public var who: String
        public var summary: LatencySummary
        /// Frames this viewer has reported since it connected.
        public var total: Int

        public init(viewer: Int, who: String, summary: LatencySummary, total: Int) {
            self.viewer = viewer
            self.who = who
            self.summary = summary
            self.total = total
        }

        enum CodingKeys: String, CodingKey { case viewer, who, total, p50, p99, n }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            viewer = try c.decode(Int.self, forKey: .viewer)
            who = try c.decode(String.self, forKey: .who)
            total = try c.decode(Int.self, forKey: .total)
            summary = try LatencySummary(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(viewer, forKey: .viewer)
            try c.encode(who, forKey: .who)
            try c.encode(total, forKey: .total)
            try c.encode(summary.p50, forKey: .p50)
            try c.encode(summary.p99, forKey: .p99)
            try c.encode(summary.n, forKey: .n)
        }
    }
    public var captureToDrawnMs: LatencySummary
    public var captureToSentMs: LatencySummary
    /// Where capture -> drawn goes, frame by frame, over the frames whose page reported their stages.
    public var stagesMs: LatencyStages
    public var perViewer: [Viewer]
    public var window: Int
    public var windowS: Double
    public var ignoredReports: Int

    public init(
        captureToDrawnMs: LatencySummary, captureToSentMs: LatencySummary,
        stagesMs: LatencyStages = LatencyStages(), perViewer: [Viewer], window: Int,
        windowS: Double, ignoredReports: Int
    ) {
        self.captureToDrawnMs = captureToDrawnMs
        self.captureToSentMs = captureToSentMs
        self.stagesMs = stagesMs
        self.perViewer = perViewer
        self.window = window
        self.windowS = windowS
        self.ignoredReports = ignoredReports
    }

    enum CodingKeys: String, CodingKey {
        case window
        case captureToDrawnMs = "capture_to_drawn_ms", captureToSentMs = "capture_to_sent_ms"
        case stagesMs = "stages_ms"
        case perViewer = "per_viewer", windowS = "window_s", ignoredReports = "ignored_reports"
    }
}

/// `video`: how this tablet's binary frames are encoded, sent when it connects and whenever that changes.
/// `codec` is `jpeg` (a JPEG after a 16-byte header) or a WebCodecs H.264 codec string such as `avc1.42c01f`
/// (the Annex B access unit after a 17-byte header whose last byte is 1 for a keyframe); `width` and `height`
/// are the H.264 picture's size (0 for JPEG: each JPEG says its own).
public struct VideoConfigMessage: Codable, Sendable, Equatable {
    public static let type = "video"
    public var codec: String
    public var width: Int
    public var height: Int

    public init(codec: String, width: Int, height: Int) {
        self.codec = codec
        self.width = width
        self.height = height
    }

    public static let jpeg = VideoConfigMessage(codec: "jpeg", width: 0, height: 0)

    enum CodingKeys: String, CodingKey { case type, codec, width, height }

    public init(from decoder: any Decoder) throws {
        try MessageType.check(decoder, Self.type)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        codec = try c.decode(String.self, forKey: .codec)
        width = try c.decode(Int.self, forKey: .width)
        height = try c.decode(Int.self, forKey: .height)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.type, forKey: .type)
        try c.encode(codec, forKey: .codec)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
    }
}
