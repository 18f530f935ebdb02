import BedsideCore
import Foundation
import Recording
import Testing

@testable import Study

@Suite("Review timeline: plane spans, marks on the video's clock, answers for a span")
struct ReviewTimelineTests {
    @Test("equal answers merge into one span; a silent stretch is a hole, not an old answer held")
    func spans() {
        let pts: [(t: Double, status: String, plane: String?)] = [
            (0.0, "unknown", nil), (0.5, "unknown", nil), (1.0, "standard", "head"), (1.5, "standard", "head"),
            (2.0, "close", "head"), (10.0, "close", "head"),
        ]
        let s = PlaneSpan.build(pts, maxGapS: 3, holdS: 0.1)
        #expect(s.map(\.status) == ["unknown", "standard", "close", "close"])
        #expect(s[0].fromS == 0 && s[0].toS == 1.0)
        #expect(s[1].fromS == 1.0 && s[1].toS == 2.0 && s[1].plane == "head")
        #expect(s[2].fromS == 2.0 && abs(s[2].toS - 2.1) < 1e-9)  // 8 s of silence after it: held one frame only
        #expect(s[3].fromS == 10.0 && abs(s[3].toS - 10.1) < 1e-9)
        #expect(PlaneSpan.build([], maxGapS: 3, holdS: 0.1).isEmpty)
    }

    func session() throws -> (Review, String) {
        let dir = NSTemporaryDirectory() + "review-tl-\(UUID().uuidString)"
        let folder = dir + "/20261203-100000"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let first: UInt64 = 5_000_000_000
        var info = SessionInfo(
            bedsideVersion: "t", source: "phantom", startWall: "2026-12-03T10:00:00Z", startEpoch: 1_796_000_000, fps: 10, models: ["m"])
        info.segments = [.init(file: "video-000.mp4", startS: 0, firstPtsNs: first)]
        info.segments[0].frames = 100
        info.segments[0].durationS = 10
        info.firstFramePtsNs = first
        try info.write(to: folder + "/session.json")
        var lines: [String] = []
        for i in 0..<100 {
            let status = i < 30 ? "unknown" : i < 60 ? "standard" : "close"
            let result = #"{"plane":{"status":"\#(status)","name":"\#(status == "unknown" ? "none" : "head")"},"concepts":[]}"#
            var line = PredictionLine(
                model: "m", seq: UInt64(i), ptsNs: first + UInt64(i) * 100_000_000, ptsS: Double(i) / 10, dispatchedNs: 0,
                receivedNs: 0, modelMs: 5, roundTripMs: 6, result: JSONValue(parsing: result))
            if i == 42 { line.crop = CropRect(x: 1, y: 2, width: 30, height: 40) }
            lines.append(line.text)
        }
        lines.append("{not json")  // a line cut by a crash is skipped
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/predictions.jsonl", atomically: true, encoding: .utf8)
        // The study log: started at t_s 0; the tablets showed frame 10 (1.0 s) at t_s 1.25: the log runs 0.25 s behind.
        let log = [
            SessionLogLine(
                t: "2026-12-03T10:00:00Z", tS: 0,
                event: .start(participant: "P1", arm: "full", shows: [], targets: ["head"], notes: "", recording: true)),
            SessionLogLine(
                t: "2026-12-03T10:00:01Z", tS: 1.25,
                event: .shown(seq: 10, ptsNanos: first + 1_000_000_000, model: "m", shown: ShownState(nothing: true))),
            SessionLogLine(t: "2026-12-03T10:00:03Z", tS: 3.25, event: .note(text: "gel")),
            SessionLogLine(t: "2026-12-03T10:00:05Z", tS: 5.25, event: .arm(arm: "control", shows: [])),
            SessionLogLine(
                t: "2026-12-03T10:00:06Z", tS: 6.4,
                event: .snapshot(png: "snapshot-1-42-1.png", json: "snapshot-1-42-1.json", plane: "head", status: "standard")),
        ]
        try (log.map { JSONWire.string($0) }.joined(separator: "\n") + "\n").write(
            toFile: folder + "/study.jsonl", atomically: true, encoding: .utf8)
        try #"{"seq":42,"pts_s":4.2,"predictions":{}}"#.write(toFile: folder + "/snapshot-1-42-1.json", atomically: true, encoding: .utf8)
        return (Review(directory: dir), "20261203-100000")
    }

    @Test("the timeline: files, each model's spans, marks at the video's time (snapshots at their frame)")
    func timeline() throws {
        let (review, name) = try session()
        let t = try #require(review.timeline(name))
        #expect(t.segments.map(\.file) == ["video-000.mp4"])
        #expect(abs(t.durationS - 10) < 1e-9)
        #expect(t.models.map(\.name) == ["m"] && t.models[0].answers == 100)
        #expect(t.models[0].spans.map(\.status) == ["unknown", "standard", "close"])
        #expect(abs(t.models[0].spans[1].fromS - 3.0) < 1e-9 && abs(t.models[0].spans[1].toS - 6.0) < 1e-9)
        #expect(t.models[0].spans[0].plane == nil && t.models[0].spans[1].plane == "head")
        let note = try #require(t.marks.first { $0.kind == "note" })
        #expect(abs(note.tS - 3.0) < 1e-9)  // 3.25 on the log's clock, 0.25 s behind the frames
        #expect(abs((t.marks.first { $0.text == "arm control" }?.tS ?? -1) - 5.0) < 1e-9)
        let snap = try #require(t.marks.first { $0.kind == "snapshot" })
        #expect(snap.tS == 4.2 && snap.png == "snapshot-1-42-1.png")  // its frame's time, not when it was logged
        #expect(review.timeline("nope") == nil && review.timeline("../x") == nil)
    }

    @Test("answers for a span: in time order, with their crop, limited; a bad name is nil")
    func answers() throws {
        let (review, name) = try session()
        let a = try #require(review.answers(name, from: 4.0, to: 4.5))
        #expect(a.answers.map(\.seq) == [40, 41, 42, 43, 44, 45])
        #expect(a.answers.first { $0.seq == 42 }?.crop == CropRect(x: 1, y: 2, width: 30, height: 40))
        #expect(!a.truncated)
        #expect(review.answers(name, from: 20, to: 30)?.answers.isEmpty == true)
        #expect(review.answers("../etc", from: 0, to: 1) == nil)
        // Appended to since (a session still running): the index is built again.
        let folder = review.directory + "/" + name
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/predictions.jsonl"))
        try h.seekToEnd()
        let late = PredictionLine(
            model: "m", seq: 100, ptsNs: 0, ptsS: 10.0, dispatchedNs: 0, receivedNs: 0, modelMs: nil, roundTripMs: nil, result: nil)
        try h.write(contentsOf: Data((late.text + "\n").utf8))
        try h.close()
        #expect(review.answers(name, from: 9.95, to: 10.05)?.answers.map(\.seq) == [100])
    }

    @Test("only video-*.mp4 in the session folder is served")
    func videoFiles() throws {
        let (review, name) = try session()
        #expect(review.videoFile(session: name, file: "video-000.mp4") == nil)  // not written in this test
        try Data([0, 1, 2]).write(to: URL(fileURLWithPath: review.directory + "/" + name + "/video-000.mp4"))
        #expect(review.videoFile(session: name, file: "video-000.mp4") != nil)
        #expect(review.videoFile(session: name, file: "../video-000.mp4") == nil)
        #expect(review.videoFile(session: name, file: "session.json") == nil)
        #expect(review.videoFile(session: "../\(name)", file: "video-000.mp4") == nil)
    }
}
