import BedsideCore
import Foundation

/// One line of `predictions.jsonl`: a model's answer for one frame, its times, and the answer itself.
///
/// `pts_s` counts from the session's first frame (null before there is one); `result` is the model's JSON as
/// it answered (null, with the text in `result_invalid`, when that was not JSON). `pts_s`, `model_ms`,
/// `round_trip_ms` and `result` are always present (null when unknown); the worker's fields only with a worker.
public struct PredictionLine: Codable, Sendable, Equatable {
    public var model: String
    public var seq: UInt64
    public var ptsNs: UInt64
    public var ptsS: Double?
    public var dispatchedNs: UInt64
    public var receivedNs: UInt64
    public var modelMs: Double?
    public var roundTripMs: Double?
    /// The worker's clock readings, present only when the worker shares Bedside's clock.
    public var workerReceivedNs: UInt64?
    public var predictStartNs: UInt64?
    public var predictEndNs: UInt64?
    public var workerQueueMs: Double?
    public var upstream: String?
    /// What the source knows the answer to be (the phantom), for evaluating a model.
    public var truth: GroundTruth?
    /// The crop (source pixels) the model's input was cut from, nil for the whole frame: where the answer's
    /// label map goes over the recorded video (the review page draws it there).
    public var crop: CropRect?
    public var result: JSONValue?
    public var resultInvalid: String?
    /// A silent model's answer (`show: false`): recorded, never shown. Present only when true.
    public var silent: Bool?

    enum CodingKeys: String, CodingKey {
        case model, seq, upstream, truth, result, crop, silent
        case ptsNs = "pts_ns", ptsS = "pts_s", dispatchedNs = "dispatched_ns", receivedNs = "received_ns"
        case modelMs = "model_ms", roundTripMs = "round_trip_ms", workerReceivedNs = "worker_received_ns"
        case predictStartNs = "predict_start_ns", predictEndNs = "predict_end_ns", workerQueueMs = "worker_queue_ms"
        case resultInvalid = "result_invalid"
    }

    public init(
        model: String, seq: UInt64, ptsNs: UInt64, ptsS: Double?, dispatchedNs: UInt64, receivedNs: UInt64,
        modelMs: Double?, roundTripMs: Double?, result: JSONValue?
    ) {
        self.model = model
        self.seq = seq
        self.ptsNs = ptsNs
        self.ptsS = ptsS
        self.dispatchedNs = dispatchedNs
        self.receivedNs = receivedNs
        self.modelMs = modelMs
        self.roundTripMs = roundTripMs
        self.result = result
    }

    /// The line for `p`; `originNanos` is the session's first frame (nil before there is one).
    public init(_ p: Prediction, originNanos: UInt64?) {
        let result = p.resultJSON.isEmpty ? nil : JSONValue(parsing: p.resultJSON)
        self.init(
            model: p.model, seq: p.seq, ptsNs: p.ptsNanos,
            ptsS: originNanos.map { Self.rounded((Double(p.ptsNanos) - Double($0)) / 1e9, places: 6) },
            dispatchedNs: p.dispatchedNanos, receivedNs: p.receivedNanos, modelMs: Self.milliseconds(p.modelMs),
            roundTripMs: Self.milliseconds(p.roundTripMs), result: result)
        if result == nil { resultInvalid = p.resultJSON }
        if let w = p.worker {
            if w.sameClock {  // absolute times only on Bedside's clock
                workerReceivedNs = w.receivedNanos
                predictStartNs = w.startNanos
                predictEndNs = w.endNanos
            }
            workerQueueMs = Self.milliseconds(Double(Int64(bitPattern: w.startNanos &- w.receivedNanos)) / 1e6)
        }
        upstream = p.upstreamModel
        truth = p.truth
        crop = p.crop
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        seq = try c.decode(UInt64.self, forKey: .seq)
        ptsNs = try c.decode(UInt64.self, forKey: .ptsNs)
        ptsS = try c.decodeIfPresent(Double.self, forKey: .ptsS)
        dispatchedNs = try c.decode(UInt64.self, forKey: .dispatchedNs)
        receivedNs = try c.decode(UInt64.self, forKey: .receivedNs)
        modelMs = try c.decodeIfPresent(Double.self, forKey: .modelMs)
        roundTripMs = try c.decodeIfPresent(Double.self, forKey: .roundTripMs)
        workerReceivedNs = try c.decodeIfPresent(UInt64.self, forKey: .workerReceivedNs)
        predictStartNs = try c.decodeIfPresent(UInt64.self, forKey: .predictStartNs)
        predictEndNs = try c.decodeIfPresent(UInt64.self, forKey: .predictEndNs)
        workerQueueMs = try c.decodeIfPresent(Double.self, forKey: .workerQueueMs)
        upstream = try c.decodeIfPresent(String.self, forKey: .upstream)
        truth = try c.decodeIfPresent(GroundTruth.self, forKey: .truth)
        crop = try c.decodeIfPresent(CropRect.self, forKey: .crop)
        result = try c.decodeIfPresent(JSONValue.self, forKey: .result)
        resultInvalid = try c.decodeIfPresent(String.self, forKey: .resultInvalid)
        silent = try c.decodeIfPresent(Bool.self, forKey: .silent)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(seq, forKey: .seq)
        try c.encode(ptsNs, forKey: .ptsNs)
        try c.encode(ptsS, forKey: .ptsS)  // null before the session's first frame
        try c.encode(dispatchedNs, forKey: .dispatchedNs)
        try c.encode(receivedNs, forKey: .receivedNs)
        try c.encode(modelMs, forKey: .modelMs)
        try c.encode(roundTripMs, forKey: .roundTripMs)
        try c.encodeIfPresent(workerReceivedNs, forKey: .workerReceivedNs)
        try c.encodeIfPresent(predictStartNs, forKey: .predictStartNs)
        try c.encodeIfPresent(predictEndNs, forKey: .predictEndNs)
        if silent == true { try c.encode(true, forKey: .silent) }
        try c.encodeIfPresent(workerQueueMs, forKey: .workerQueueMs)
        try c.encodeIfPresent(upstream, forKey: .upstream)
        try c.encodeIfPresent(truth, forKey: .truth)
        try c.encodeIfPresent(crop, forKey: .crop)
        try c.encode(result, forKey: .result)
        try c.encodeIfPresent(resultInvalid, forKey: .resultInvalid)
    }

    /// The line as compact JSON text (no newline; JSON text never holds a raw one).
    public var text: String { JSONWire.string(self) }

    /// Milliseconds to 3 decimals; nil (null on the wire) when not finite.
    static func milliseconds(_ v: Double) -> Double? { v.isFinite ? rounded(v, places: 3) : nil }

    static func rounded(_ v: Double, places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (v * scale).rounded() / scale
    }
}
