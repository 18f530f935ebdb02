import Foundation
import Testing

@testable import Recording

/// A Bedside that was killed leaves its session in state `recording`; the next one marks it `interrupted`,
/// and leaves alone what a live Bedside is still writing.
@Suite struct InterruptedSessionTests {
    func session(_ base: URL, _ name: String, _ json: [String: Any], modified: Date? = nil) throws -> URL {
        let folder = base.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("session.json")
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file.path) }
        return file
    }

    func state(_ file: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
    }

    @Test func marksOnlySessionsWhoseWriterIsGone() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("interrupted-\(UUID())")
        defer { try? FileManager.default.removeItem(at: base) }
        let now = Date().timeIntervalSince1970
        let killed = try session(base, "a-killed", ["state": "recording", "pid": 111, "frames_written": 300])
        let live = try session(base, "b-live", ["state": "recording", "pid": 222])
        let finished = try session(base, "c-finished", ["state": "finished", "pid": 111])
        let oldStale = try session(base, "d-old-version-stale", ["state": "recording"], modified: Date(timeIntervalSince1970: now - 120))
        let oldFresh = try session(base, "e-old-version-fresh", ["state": "recording"], modified: Date(timeIntervalSince1970: now - 5))
        try FileManager.default.createDirectory(at: base.appendingPathComponent("not-a-session"), withIntermediateDirectories: true)

        let marked = SessionInfo.markInterrupted(in: base.path, now: now) { $0 == 222 }
        #expect(marked.map { ($0 as NSString).lastPathComponent } == ["a-killed", "d-old-version-stale"])
        let k = try state(killed)
        #expect(k["state"] as? String == "interrupted")
        #expect(k["frames_written"] as? Int == 300, "the rest of the file is kept")
        #expect((k["error"] as? String)?.contains("stopped without finishing") == true)
        #expect(k["interrupted_found_wall"] is String)
        #expect(try state(live)["state"] as? String == "recording")
        #expect(try state(finished)["state"] as? String == "finished")
        #expect(try state(oldStale)["state"] as? String == "interrupted")
        #expect(try state(oldFresh)["state"] as? String == "recording")
        // Idempotent: a second start finds nothing more to mark.
        #expect(SessionInfo.markInterrupted(in: base.path, now: now) { $0 == 222 }.isEmpty)
    }
}
