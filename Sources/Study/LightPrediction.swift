import Foundation

/// The part of a `predictions.jsonl` line that the review timeline and `bedside compare` read: who, when, the
/// plane and the concepts. Decoding it skips the rest of the answer (segmentation maps, guidance, raw arrays),
/// which is most of each line's bytes and nearly all of a full decode's time. Every field is decoded leniently:
/// a field of an unexpected type reads as absent, it never discards the line.
struct LightPrediction: Decodable {
    struct Concept: Decodable {
        var name: String?
        var present: Bool?
        var score: Double?
        var scale: String?

        enum CodingKeys: String, CodingKey { case name, present, score, scale }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try? c.decodeIfPresent(String.self, forKey: .name)
            present = try? c.decodeIfPresent(Bool.self, forKey: .present)
            score = try? c.decodeIfPresent(Double.self, forKey: .score)
            scale = try? c.decodeIfPresent(String.self, forKey: .scale)
        }

        /// Present: said so, or a score over the middle of its scale (0.5 for probabilities, 5 for 0-10 scores).
        var isPresent: Bool? { present ?? score.map { $0 >= (scale == "probability" ? 0.5 : 5) } }
    }

    struct Plane: Decodable {
        var name: String?
        var status: String?
        enum CodingKeys: String, CodingKey { case name, status }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try? c.decodeIfPresent(String.self, forKey: .name)
            status = try? c.decodeIfPresent(String.self, forKey: .status)
        }
    }

    struct Result: Decodable {
        var plane: Plane?
        var concepts: [Concept]?
        enum CodingKeys: String, CodingKey { case plane, concepts }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            plane = try? c.decodeIfPresent(Plane.self, forKey: .plane)
            concepts = try? c.decodeIfPresent([Concept].self, forKey: .concepts)
        }
    }

    var model: String
    var seq: UInt64
    var ptsS: Double?
    var modelMs: Double?
    /// Nil for a failed answer (and for one whose result is not an object).
    var result: Result?
    var resultInvalid: String?
    var silent: Bool?

    enum CodingKeys: String, CodingKey {
        case model, seq, result, silent
        case ptsS = "pts_s", modelMs = "model_ms", resultInvalid = "result_invalid"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Who and which frame: required, as `PredictionLine` requires them (a line without them is not an answer).
        model = try c.decode(String.self, forKey: .model)
        seq = try c.decode(UInt64.self, forKey: .seq)
        ptsS = try? c.decodeIfPresent(Double.self, forKey: .ptsS)
        modelMs = try? c.decodeIfPresent(Double.self, forKey: .modelMs)
        result = try? c.decodeIfPresent(Result.self, forKey: .result)
        resultInvalid = try? c.decodeIfPresent(String.self, forKey: .resultInvalid)
        silent = try? c.decodeIfPresent(Bool.self, forKey: .silent)
    }

    /// Each well-formed line of a `predictions.jsonl` (or a replay's output), with where it sits in `data`.
    static func lines(in data: Data) -> [(line: LightPrediction, offset: Int, length: Int)] {
        var out: [(LightPrediction, Int, Int)] = []
        var start = data.startIndex
        let decoder = JSONDecoder()
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
            defer { start = end + 1 }
            guard end > start, let line = try? decoder.decode(LightPrediction.self, from: data[start..<end]) else { continue }
            out.append((line, start - data.startIndex, end - start))
        }
        return out
    }
}
