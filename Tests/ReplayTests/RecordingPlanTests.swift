import BedsideCore
import Foundation
import Recording
import Testing

@testable import Replay

/// What `bedside replay` reads from a session folder: the segments in order on the session's timeline, from the
/// typed session.json (no dictionary lookups), with notes for what is missing.
@Suite("Replay: the plan from session.json")
struct RecordingPlanTests {
    func folder(session: SessionInfo?, files: [String]) throws -> String {
        let f = NSTemporaryDirectory() + "replay-plan-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        for name in files { _ = FileManager.default.createFile(atPath: "\(f)/\(name)", contents: Data([0])) }
        if let session { try session.encoded().write(to: URL(fileURLWithPath: "\(f)/\(SessionInfo.fileName)")) }
        return f
    }

    func session() -> SessionInfo {
        var s = SessionInfo(bedsideVersion: "t", source: "phantom", startWall: "", startEpoch: 0, fps: 30, models: ["m"])
        s.firstFramePtsNs = 1_000_000_000
        s.segments = [
            .init(file: "video-000.mp4", startS: 0, firstPtsNs: 1_000_000_000),
            .init(file: "video-001.mp4", startS: 60, firstPtsNs: 61_500_000_000),
        ]
        return s
    }

    @Test("segments start where session.json says: first_pts_ns against the session's first frame")
    func offsets() throws {
        let dir = try folder(session: session(), files: ["video-000.mp4", "video-001.mp4"])
        let plan = try RecordingPlan.resolve(dir)
        #expect(plan.segments.map { ($0.path as NSString).lastPathComponent } == ["video-000.mp4", "video-001.mp4"])
        #expect(plan.segments.map(\.offsetNanos) == [0, 60_500_000_000])
        #expect(plan.originNanos == 1_000_000_000)
        #expect(plan.fps == 30)
        #expect(plan.livePredictions == "\(dir)/predictions.jsonl")
        #expect(plan.notes.isEmpty)
    }

    @Test("a segment listed but missing is skipped with a note; none left is an error naming the folder")
    func missing() throws {
        let dir = try folder(session: session(), files: ["video-000.mp4"])
        let plan = try RecordingPlan.resolve(dir)
        #expect(plan.segments.count == 1)
        #expect(plan.notes.contains { $0.contains("video-001.mp4") && $0.contains("missing") })
        let empty = try folder(session: session(), files: [])
        #expect(throws: ReplayError.self) { try RecordingPlan.resolve(empty) }
    }

    @Test("without session.json the video files play in name order, each after the previous one (noted)")
    func noSession() throws {
        let dir = try folder(session: nil, files: ["video-001.mp4", "video-000.mp4", "notes.txt"])
        let plan = try RecordingPlan.resolve(dir)
        #expect(plan.segments.map { ($0.path as NSString).lastPathComponent } == ["video-000.mp4", "video-001.mp4"])
        #expect(plan.segments.map(\.offsetNanos) == [0, nil])
        #expect(plan.notes.contains { $0.contains("no start times") })
    }

    @Test("one file of a session keeps the session's timeline; a lone file starts at 0")
    func oneFile() throws {
        let dir = try folder(session: session(), files: ["video-000.mp4", "video-001.mp4"])
        let plan = try RecordingPlan.resolve("\(dir)/video-001.mp4")
        #expect(plan.segments.map(\.offsetNanos) == [60_500_000_000])
        #expect(plan.folder == nil)
        #expect(throws: ReplayError.self) { try RecordingPlan.resolve("\(dir)/nope.mp4") }
    }
}
