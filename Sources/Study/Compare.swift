import BedsideCore
import Foundation
import Recording

/// Comparing answer sources on the same scans (`bedside compare`): live models, silent ones and `bedside replay`
/// outputs of a session, aligned by the frame's time. The comparison itself is pure (`Comparison.make`); reading
/// a folder is `CompareSession.load`.
public enum Compare {
    /// One answer, as the comparison needs it.
    public struct Answer: Sendable, Equatable, Codable {
        /// Seconds from the session's first frame.
        public var t: Double
        public var seq: UInt64
        /// The plane named (nil: none) and its status (`standard`, `close`, `non-standard`, ...).
        public var plane: String?
        public var status: String?
        /// Concept name -> present.
        public var concepts: [String: Bool]
        public var modelMs: Double?

        public init(t: Double, seq: UInt64, plane: String?, status: String?, concepts: [String: Bool] = [:], modelMs: Double? = nil) {
            self.t = t
            self.seq = seq
            self.plane = plane
            self.status = status
            self.concepts = concepts
            self.modelMs = modelMs
        }

        /// What is compared: `head:standard`, or `none`.
        public var label: String {
            if status == "no answer" { return "no answer" }  // failed or not JSON: never "agrees" with a none
            guard let plane, !plane.isEmpty, plane != "none" else { return "none" }
            return "\(plane):\(status ?? "unknown")"
        }

        /// The answer's status for one plane: its status when it names that plane, else `none`.
        public func status(for p: String) -> String { plane == p ? (status ?? "unknown") : "none" }
    }

    /// A named series of answers in time order.
    public struct Source: Sendable, Equatable {
        public var name: String
        /// `live`, `silent` or the replay file's name.
        public var kind: String
        public var answers: [Answer]

        public init(name: String, kind: String, answers: [Answer]) {
            self.name = name
            self.kind = kind
            self.answers = answers.sorted { $0.t < $1.t }
        }

        /// The latest answer at or before `t` (within `maxAge` seconds), by binary search.
        public func answer(at t: Double, maxAge: Double) -> Answer? {
            var lo = 0, hi = answers.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if answers[mid].t <= t + 1e-6 { lo = mid + 1 } else { hi = mid }
            }
            guard lo > 0 else { return nil }
            let a = answers[lo - 1]
            return t - a.t <= maxAge ? a : nil
        }
    }
}

/// The comparison of one session's sources against the first (the reference).
public struct Comparison: Sendable, Equatable, Codable {
    public struct Span: Sendable, Equatable, Codable {
        public var startS: Double
        public var endS: Double
        public var startSeq: UInt64
        public var endSeq: UInt64
        /// What each side said most of the span.
        public var reference: String
        public var other: String
        enum CodingKeys: String, CodingKey {
            case reference, other
            case startS = "start_s", endS = "end_s", startSeq = "start_seq", endSeq = "end_seq"
        }
    }

    public struct Pair: Sendable, Equatable, Codable {
        public var other: String
        /// Frames compared (the reference's answer times).
        public var frames: Int
        /// Share of frames where the two said the same plane and status.
        public var agreement: Double
        /// Per plane: share of frames (where either named it) with the same status for it.
        public var planeAgreement: [String: Double]
        /// Per concept both report: share of frames with the same presence.
        public var conceptAgreement: [String: Double]
        /// Reference label -> other's label -> frames.
        public var confusion: [String: [String: Int]]
        public var disagreements: [Span]
        /// Each expert-chosen best image: its plane, time, and what each side answered there.
        public var expertChoices: [Choice]
        enum CodingKeys: String, CodingKey {
            case other, frames, agreement, confusion, disagreements
            case planeAgreement = "plane_agreement", conceptAgreement = "concept_agreement", expertChoices = "expert_choices"
        }
    }

    public struct Choice: Sendable, Equatable, Codable {
        public var plane: String
        public var t: Double
        public var answers: [String: String]
    }

    public struct SourceSummary: Sendable, Equatable, Codable {
        public var name: String
        public var kind: String
        public var answers: Int
        /// Plane -> seconds from the session's start to the first `standard` answer for it.
        public var timeToPlane: [String: Double]
        /// Model time per answer, ms: median and the histogram's counts (10 ms bins up to 500 ms, the rest last).
        public var modelMsMedian: Double?
        public var modelMsHistogram: [Int]
        enum CodingKeys: String, CodingKey {
            case name, kind, answers
            case timeToPlane = "time_to_plane", modelMsMedian = "model_ms_median", modelMsHistogram = "model_ms_histogram"
        }
    }

    public var session: String
    public var durationS: Double
    public var sources: [SourceSummary]
    public var pairs: [Pair]
    /// The timeline strips: per source, runs of the same label (start, end, label).
    public var strips: [String: [Run]]

    public struct Run: Sendable, Equatable, Codable {
        public var startS: Double
        public var endS: Double
        public var label: String
        enum CodingKeys: String, CodingKey {
            case label
            case startS = "start_s", endS = "end_s"
        }
    }

    enum CodingKeys: String, CodingKey {
        case session, sources, pairs, strips
        case durationS = "duration_s"
    }

    /// An answer older than this no longer stands for a frame (a stopped model is not "agreeing").
    public static let maxAge = 3.0
    /// Disagreements shorter than this many frames are noise, not spans.
    public static let minSpanFrames = 2

    /// Compares `sources[1...]` with `sources[0]` at each of the reference's answer times.
    public static func make(session: String, sources: [Compare.Source], choices: [(plane: String, t: Double)] = []) -> Comparison {
        let duration = sources.flatMap(\.answers).map(\.t).max() ?? 0
        let summaries = sources.map(summary)
        var strips: [String: [Run]] = [:]
        for s in sources { strips[s.name] = runs(s) }
        guard let ref = sources.first else {
            return Comparison(session: session, durationS: duration, sources: summaries, pairs: [], strips: strips)
        }
        let pairs = sources.dropFirst().map { other in pair(ref, other, choices: choices) }
        return Comparison(session: session, durationS: duration, sources: summaries, pairs: Array(pairs), strips: strips)
    }

    static func pair(_ ref: Compare.Source, _ other: Compare.Source, choices: [(plane: String, t: Double)]) -> Pair {
        var same = 0, frames = 0
        var confusion: [String: [String: Int]] = [:]
        var planeHits: [String: (same: Int, total: Int)] = [:]
        var conceptHits: [String: (same: Int, total: Int)] = [:]
        var spans: [Span] = []
        var open: (start: Compare.Answer, end: Compare.Answer, refs: [String: Int], others: [String: Int], count: Int)?
        func close() {
            if let o = open, o.count >= minSpanFrames {
                spans.append(
                    Span(
                        startS: o.start.t, endS: o.end.t, startSeq: o.start.seq, endSeq: o.end.seq,
                        reference: o.refs.max { $0.value < $1.value }?.key ?? "", other: o.others.max { $0.value < $1.value }?.key ?? ""))
            }
            open = nil
        }
        let planes = Set((ref.answers + other.answers).compactMap(\.plane)).subtracting(["none", ""])
        var previous: Double? = nil
        for r in ref.answers {
            // A gap in the reference's answers longer than an answer stands for ends a span.
            if let p = previous, r.t - p > maxAge { close() }
            previous = r.t
            frames += 1
            let o = other.answer(at: r.t, maxAge: maxAge)
            let ol = o?.label ?? "no answer"
            confusion[r.label, default: [:]][ol, default: 0] += 1
            for p in planes {
                let a = r.status(for: p), b = o?.status(for: p) ?? "none"
                guard a != "none" || b != "none" else { continue }
                planeHits[p, default: (0, 0)].total += 1
                if a == b { planeHits[p, default: (0, 0)].same += 1 }
            }
            if let o {
                for (c, v) in r.concepts {
                    guard let w = o.concepts[c] else { continue }
                    conceptHits[c, default: (0, 0)].total += 1
                    if v == w { conceptHits[c, default: (0, 0)].same += 1 }
                }
            }
            if r.label == ol {
                same += 1
                close()
            } else if var s = open {
                s.end = r
                s.count += 1
                s.refs[r.label, default: 0] += 1
                s.others[ol, default: 0] += 1
                open = s
            } else {
                open = (r, r, [r.label: 1], [ol: 1], 1)
            }
        }
        close()
        let chosen = choices.map { c in
            Choice(
                plane: c.plane, t: c.t,
                answers: [
                    ref.name: ref.answer(at: c.t, maxAge: maxAge)?.label ?? "no answer",
                    other.name: other.answer(at: c.t, maxAge: maxAge)?.label ?? "no answer",
                ])
        }
        return Pair(
            other: other.name, frames: frames, agreement: frames > 0 ? Double(same) / Double(frames) : 0,
            planeAgreement: planeHits.mapValues { $0.total > 0 ? Double($0.same) / Double($0.total) : 0 },
            conceptAgreement: conceptHits.mapValues { $0.total > 0 ? Double($0.same) / Double($0.total) : 0 },
            confusion: confusion, disagreements: spans, expertChoices: chosen)
    }

    static func summary(_ s: Compare.Source) -> SourceSummary {
        var ttp: [String: Double] = [:]
        for a in s.answers where a.status == "standard" {
            if let p = a.plane, ttp[p] == nil { ttp[p] = a.t }
        }
        let ms = s.answers.compactMap(\.modelMs).sorted()
        var hist = [Int](repeating: 0, count: 51)
        for m in ms { hist[min(50, max(0, Int(m / 10)))] += 1 }
        return SourceSummary(
            name: s.name, kind: s.kind, answers: s.answers.count, timeToPlane: ttp, modelMsMedian: ms.isEmpty ? nil : ms[ms.count / 2],
            modelMsHistogram: hist)
    }

    /// Runs of the same label, each ending where the next begins (or at the last answer).
    static func runs(_ s: Compare.Source) -> [Run] {
        var out: [Run] = []
        for a in s.answers {
            if var last = out.last, last.label == a.label {
                last.endS = a.t
                out[out.count - 1] = last
            } else {
                if var last = out.last {
                    last.endS = a.t
                    out[out.count - 1] = last
                }
                out.append(Run(startS: a.t, endS: a.t, label: a.label))
            }
        }
        return out
    }
}

/// A session folder's sources: every model in `predictions.jsonl` (silent ones marked), and each
/// `replay-*.jsonl` beside it (its models named `model@file`); the expert's best images from `review.json`.
public enum CompareSession {
    public static func isSession(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: folder + "/predictions.jsonl")
    }

    /// The files a session's comparison reads (for the incremental cache: their sizes and times).
    public static func inputs(_ folder: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return
            (["predictions.jsonl", "review.json", "session.json"] + files.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") }.sorted()
            + files.filter { $0.hasPrefix("replay-") && $0.hasSuffix(".jsonl") }.sorted())
            .map { "\(folder)/\($0)" }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    public static func load(_ folder: String) throws -> (sources: [Compare.Source], choices: [(plane: String, t: Double)]) {
        var sources: [Compare.Source] = []
        let live = try lines(folder + "/predictions.jsonl")
        var order: [String] = []
        var byModel: [String: [Compare.Answer]] = [:]
        var silent: Set<String> = []
        for l in live {
            guard let a = answer(l) else { continue }
            if byModel[l.model] == nil { order.append(l.model) }
            byModel[l.model, default: []].append(a)
            if l.silent == true { silent.insert(l.model) }
        }
        // In the config's order (session.json), shown models before silent ones: the reference is the one in use.
        let configured = (try? SessionInfo.load(folder: folder))?.models ?? []
        let appearance = order
        func rank(_ m: String) -> (Int, Int) {
            (silent.contains(m) ? 1 : 0, configured.firstIndex(of: m) ?? configured.count + (appearance.firstIndex(of: m) ?? 0))
        }
        order = appearance.sorted { rank($0) < rank($1) }
        for m in order { sources.append(.init(name: m, kind: silent.contains(m) ? "silent" : "live", answers: byModel[m] ?? [])) }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for f in files.filter({ $0.hasPrefix("replay-") && $0.hasSuffix(".jsonl") }).sorted() {
            var rm: [String: [Compare.Answer]] = [:]
            var ro: [String] = []
            for l in try lines("\(folder)/\(f)") {
                guard let a = answer(l) else { continue }
                if rm[l.model] == nil { ro.append(l.model) }
                rm[l.model, default: []].append(a)
            }
            let stem = String(f.dropLast(6))
            for m in ro { sources.append(.init(name: "\(m)@\(stem)", kind: stem, answers: rm[m] ?? [])) }
        }
        var choices: [(plane: String, t: Double)] = []
        for (plane, png) in Review.selection(folder).sorted(by: { $0.key < $1.key }) {
            let json = folder + "/" + String(png.dropLast(4)) + ".json"
            if let d = FileManager.default.contents(atPath: json), let v = JSONValue(parsing: String(decoding: d, as: UTF8.self)),
                let t = v["pts_s"]?.doubleValue
            {
                choices.append((plane, t))
            }
        }
        return (sources, choices)
    }

    static func lines(_ path: String) throws -> [LightPrediction] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CompareError("cannot read \(path)")
        }
        return LightPrediction.lines(in: data).map(\.line)
    }

    static func answer(_ l: LightPrediction) -> Compare.Answer? {
        // Before the session's first frame (pts_s null) an answer has no place on the session's clock.
        guard let t = l.ptsS else { return nil }
        guard let r = l.result, l.resultInvalid == nil else {
            return Compare.Answer(t: t, seq: l.seq, plane: nil, status: "no answer", modelMs: l.modelMs)
        }
        var concepts: [String: Bool] = [:]
        for c in r.concepts ?? [] {
            if let name = c.name, let present = c.isPresent { concepts[name] = present }
        }
        return Compare.Answer(t: t, seq: l.seq, plane: r.plane?.name, status: r.plane?.status, concepts: concepts, modelMs: l.modelMs)
    }
}

public struct CompareError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
