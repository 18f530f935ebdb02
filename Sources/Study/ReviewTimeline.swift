import BedsideCore
import Foundation
import Recording
import Synchronization

/// A study session's recording as the review page plays it: the video files in order on one timeline, what each
/// model said over time (plane status spans for the strip under the video), the study's marks (snapshots, notes,
/// arm changes) on the same timeline, and the models' full answers for a span of it, to draw over the video.
///
/// Times are seconds of the recording (`pts_s`, 0 = the session's first frame; file `video-NNN.mp4` holds
/// `start_s ..< start_s + duration_s`). Snapshots are placed by their frame's `pts_s`; notes and arm changes
/// by their clock time, through the offset between the study log's clock and the frames (`shown` events
/// carry both).
public struct ReviewTimeline: Sendable, Equatable, Codable {
    public struct Segment: Sendable, Equatable, Codable {
        public var file: String
        public var startS: Double
        public var durationS: Double
        public var frames: UInt64
        enum CodingKeys: String, CodingKey {
            case file, frames
            case startS = "start_s", durationS = "duration_s"
        }
    }

    public struct Model: Sendable, Equatable, Codable {
        public var name: String
        public var answers: Int
        public var spans: [PlaneSpan]
        /// A silent model (`show: false`): recorded, never shown to the participant.
        public var silent = false
    }

    public struct Mark: Sendable, Equatable, Codable {
        /// `snapshot`, `note`, `arm`, `model_state`.
        public var kind: String
        public var tS: Double
        public var text: String
        /// The snapshot's image (snapshots only).
        public var png: String?
        enum CodingKeys: String, CodingKey {
            case kind, text, png
            case tS = "t_s"
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(tS, forKey: .tS)
            try c.encode(text, forKey: .text)
            try c.encode(png, forKey: .png)
        }
    }

    public var name: String
    public var durationS: Double
    public var fps: Double
    public var width: Int?
    public var height: Int?
    public var codec: String?
    public var segments: [Segment]
    public var models: [Model]
    public var marks: [Mark]

    enum CodingKeys: String, CodingKey {
        case name, fps, width, height, codec, segments, models, marks
        case durationS = "duration_s"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(durationS, forKey: .durationS)
        try c.encode(fps, forKey: .fps)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(codec, forKey: .codec)
        try c.encode(segments, forKey: .segments)
        try c.encode(models, forKey: .models)
        try c.encode(marks, forKey: .marks)
    }
}

/// One stretch of time over which a model said the same thing: `status` (`standard`, `close`, `unknown`,
/// `none` for an answer without a plane, `invalid` for one that was not usable) and the plane's name.
public struct PlaneSpan: Sendable, Equatable, Codable {
    public var fromS: Double
    public var toS: Double
    public var status: String
    public var plane: String?

    public init(fromS: Double, toS: Double, status: String, plane: String?) {
        self.fromS = fromS
        self.toS = toS
        self.status = status
        self.plane = plane
    }

    enum CodingKeys: String, CodingKey {
        case status, plane
        case fromS = "from_s", toS = "to_s"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fromS, forKey: .fromS)
        try c.encode(toS, forKey: .toS)
        try c.encode(status, forKey: .status)
        try c.encode(plane, forKey: .plane)
    }

    /// Spans from answers in time order. An answer holds until the next one, unless the next is more than
    /// `maxGapS` later (the model was silent: a hole in the strip, not a long span of an old answer); the last
    /// answer, and one before a hole, hold for `holdS`. Equal neighbours merge.
    public static func build(_ points: [(t: Double, status: String, plane: String?)], maxGapS: Double, holdS: Double) -> [PlaneSpan] {
        var out: [PlaneSpan] = []
        for (i, p) in points.enumerated() {
            let next = i + 1 < points.count ? points[i + 1].t : nil
            let end = next.map { $0 - p.t <= maxGapS ? $0 : p.t + holdS } ?? p.t + holdS
            if var last = out.last, last.status == p.status, last.plane == p.plane, p.t - last.toS <= 1e-9 {
                last.toS = max(last.toS, end)
                out[out.count - 1] = last
            } else {
                out.append(PlaneSpan(fromS: p.t, toS: max(end, p.t), status: p.status, plane: p.plane))
            }
        }
        return out
    }
}

/// Where each answer is in `predictions.jsonl` (byte offset and length), with its time and plane: built once
/// per file version (path, size, modification time) and kept, so a span's answers are read without parsing
/// the whole log again.
struct PredictionIndex: Sendable {
    struct Entry: Sendable {
        var model: String
        var ptsS: Double
        var offset: Int
        var length: Int
        var status: String
        var plane: String?
        var silent = false
    }
    var entries: [Entry] = []

    init(data: Data) {
        for (line, offset, length) in LightPrediction.lines(in: data) {
            guard let t = line.ptsS else { continue }
            let status: String
            if line.result == nil || line.resultInvalid != nil {
                status = "invalid"
            } else if let s = line.result?.plane?.status {
                status = s == "non-standard" ? "close" : s
            } else {
                status = "none"
            }
            let name = line.result?.plane?.name.flatMap { ["", "none", "unknown", "null"].contains($0.lowercased()) ? nil : $0 }
            entries.append(
                Entry(
                    model: line.model, ptsS: t, offset: offset, length: length, status: status, plane: name,
                    silent: line.silent == true))
        }
        entries.sort { $0.ptsS < $1.ptsS }
    }

    private static let cache = Mutex<[String: (key: String, index: PredictionIndex)]>([:])

    /// The index of `path`, from the cache while the file is unchanged.
    static func of(_ path: String) -> PredictionIndex? {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let key = "\((attrs[.size] as? NSNumber)?.intValue ?? -1)-\((attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let hit = cache.withLock({ $0[path] }), hit.key == key { return hit.index }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let index = PredictionIndex(data: data)
        cache.withLock { c in
            if c.count > 16 { c.removeAll() }  // a handful of sessions are reviewed at once; no unbounded growth
            c[path] = (key, index)
        }
        return index
    }
}

extension Review {
    /// The most answers one `answers` call returns (about 20 s of a 30 Hz model).
    public static let answersLimit = 600

    /// The session's recording on one timeline, the models' plane status over it and the study's marks.
    public func timeline(_ name: String?) -> ReviewTimeline? {
        guard let name, let folder = sessionFolder(name) else { return nil }
        let info = try? SessionInfo.load(folder: folder)
        let segments = (info?.segments ?? []).map {
            ReviewTimeline.Segment(file: $0.file, startS: $0.startS, durationS: $0.durationS, frames: $0.frames)
        }
        let fps = info?.fps ?? 30
        let index = PredictionIndex.of(folder + "/" + (info?.predictionsFile ?? "predictions.jsonl"))
        let entries = index?.entries ?? []
        var models: [ReviewTimeline.Model] = []
        for model in (info?.models ?? []) + Set(entries.map(\.model)).subtracting(info?.models ?? []).sorted() {
            let mine = entries.filter { $0.model == model }
            models.append(
                .init(
                    name: model, answers: mine.count,
                    spans: PlaneSpan.build(mine.map { ($0.ptsS, $0.status, $0.plane) }, maxGapS: 3, holdS: 1 / max(fps, 1)),
                    silent: mine.contains { $0.silent }))
        }
        let videoEnd = segments.map { $0.startS + $0.durationS }.max() ?? 0
        let duration = max(videoEnd, info?.durationS ?? 0, entries.last?.ptsS ?? 0)
        return ReviewTimeline(
            name: name, durationS: duration, fps: fps, width: info?.width, height: info?.height, codec: info?.codec,
            segments: segments, models: models, marks: marks(folder, firstFramePtsNs: info?.firstFramePtsNs))
    }

    /// Snapshots at their frame's time; notes, arm changes and model states at their clock time on the video's
    /// timeline (offset from the `shown` events, which carry both clocks).
    func marks(_ folder: String, firstFramePtsNs: UInt64?) -> [ReviewTimeline.Mark] {
        let lines = Self.lines(folder)
        var offsets: [Double] = []
        if let first = firstFramePtsNs {
            for l in lines {
                if case .shown(_, let pts, _, _) = l.event, pts >= first { offsets.append(l.tS - Double(pts - first) / 1e9) }
            }
        }
        offsets.sort()
        let offset = offsets.isEmpty ? 0 : offsets[offsets.count / 2]  // median: the tablets' usual delay
        var snapshotTimes: [String: Double] = [:]
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.hasPrefix("snapshot-") && $0.hasSuffix(".json")
        }
        for f in files {
            guard let data = FileManager.default.contents(atPath: folder + "/" + f),
                let obj = (try? JSONWire.decode(JSONValue.self, from: data))?.objectValue, let t = obj["pts_s"]?.doubleValue
            else { continue }
            snapshotTimes[String(f.dropLast(5)) + ".png"] = t
        }
        var out: [ReviewTimeline.Mark] = []
        for l in lines {
            let t = max(0, l.tS - offset)
            switch l.event {
            case .snapshot(let png, _, let plane, let status):
                let what = [status, plane].compactMap { $0 }.joined(separator: " ")
                out.append(.init(kind: "snapshot", tS: snapshotTimes[png] ?? t, text: what.isEmpty ? "snapshot" : "snapshot: \(what)", png: png))
            case .note(let text): out.append(.init(kind: "note", tS: t, text: text, png: nil))
            case .arm(let arm, _): out.append(.init(kind: "arm", tS: t, text: "arm \(arm)", png: nil))
            case .start(_, let arm, _, _, _, _): out.append(.init(kind: "arm", tS: t, text: "start, arm \(arm)", png: nil))
            case .modelState(let model, let state): out.append(.init(kind: "model_state", tS: t, text: "\(model) \(state)", png: nil))
            default: break
            }
        }
        return out.sorted { $0.tS < $1.tS }
    }

    /// The answers whose frames lie in `from ... to` seconds of the recording (all models, or `model`'s), in
    /// time order, at most `answersLimit` (the first ones); `truncated` says there were more.
    public func answers(_ name: String?, from: Double, to: Double, model: String? = nil) -> ReviewAnswers? {
        guard let name, let folder = sessionFolder(name) else { return nil }
        let info = try? SessionInfo.load(folder: folder)
        let path = folder + "/" + (info?.predictionsFile ?? "predictions.jsonl")
        guard let index = PredictionIndex.of(path) else { return ReviewAnswers(answers: [], truncated: false) }
        let hits = index.entries.filter { $0.ptsS >= from && $0.ptsS <= to && (model == nil || $0.model == model) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return ReviewAnswers(answers: [], truncated: false) }
        defer { try? handle.close() }
        var out: [PredictionLine] = []
        for e in hits.prefix(Self.answersLimit) {
            try? handle.seek(toOffset: UInt64(e.offset))
            guard let data = try? handle.read(upToCount: e.length), let line = try? JSONWire.decode(PredictionLine.self, from: data)
            else { continue }
            out.append(line)
        }
        return ReviewAnswers(answers: out, truncated: hits.count > Self.answersLimit)
    }

    /// The path of a session's video file, for the review page's player: only `video-*.mp4` directly in it.
    public func videoFile(session name: String?, file: String?) -> String? {
        guard let folder = sessionFolder(name), let file, file.hasPrefix("video-"), file.hasSuffix(".mp4"), !file.contains("/")
        else { return nil }
        let path = folder + "/" + file
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

/// `POST /api/review/answers`: the models' answers for a span of the recording, as `predictions.jsonl` has them.
public struct ReviewAnswers: Sendable, Equatable, Codable {
    public var answers: [PredictionLine]
    public var truncated: Bool
}
