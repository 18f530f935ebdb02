import BedsideCore
import Foundation
import Logging
import Testing

@testable import Study

@Suite("Study controller: sessions, arms, notes")
struct StudyControllerTests {
    func folder() -> String {
        let f = NSTemporaryDirectory() + "study-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        return f
    }

    func controller(_ dir: String) -> StudyController {
        StudyController(config: StudyConfig(), recorder: nil, recordingDirectory: dir, logger: Logger(label: "test"))
    }

    @Test("a silent model's answer reaches no tablet in any arm; the shown model's gets each arm's part (issue 20)")
    func silentModelsAreNeverShown() {
        let result = #"{"plane":{"name":"head","status":"standard"},"concepts":[{"name":"skull","score":9}],"segmentation":null}"#
        func answer(_ model: String) -> Prediction {
            Prediction(
                model: model, seq: 7, ptsNanos: 1, dispatchedNanos: 1, receivedNanos: 2, modelMs: 1, resultJSON: result, plane: "head",
                status: "standard")
        }
        for arm in StudyConfig().arms {
            #expect(StudyController.shown(answer("next"), arm: arm, silent: ["next"]) == nil, "arm \(arm.name)")
            let shown = StudyController.shown(answer("pcbm"), arm: arm, silent: ["next"])
            if arm.name == "control" { #expect(shown == nil) } else { #expect(shown != nil, "arm \(arm.name)") }
        }
        let s = StudyController(
            config: StudyConfig(), recorder: nil, recordingDirectory: folder(), logger: Logger(label: "test"), silentModels: ["next"])
        #expect(s.shown(answer("next")) == nil && s.shown(answer("pcbm")) != nil)
    }

    @Test("a note needs a running session, and reaches study.jsonl as a typed event with its spaces")
    func noteNeedsSession() async throws {
        let s = controller(folder())
        #expect(s.note("too early") == false)
        _ = try await s.start(participant: "P01", arm: nil, targets: nil, notes: nil)
        #expect(s.note("probe slipped at 00:40") == true)
        let summary = try await s.end()
        #expect(summary.participant == "P01")
        let log = try String(contentsOfFile: summary.folder + "/study.jsonl", encoding: .utf8)
        let lines = try log.split(separator: "\n").map { try JSONWire.decode(SessionLogLine.self, from: String($0)) }
        #expect(lines.contains { if case .note(let text) = $0.event { text == "probe slipped at 00:40" } else { false } })
        #expect(lines.first.map { if case .start = $0.event { true } else { false } } == true)
        #expect(lines.last.map { if case .end = $0.event { true } else { false } } == true)
    }

    @Test("a participant id that could escape the folder, or none, is refused")
    func badParticipant() async throws {
        let s = controller(folder())
        await #expect(throws: (any Error).self) { try await s.start(participant: "../x", arm: nil, targets: nil, notes: nil) }
        await #expect(throws: (any Error).self) { try await s.start(participant: "", arm: nil, targets: nil, notes: nil) }
        #expect(s.currentFolder == nil)
    }

    @Test("ending without a session is an error, not a crash")
    func endWithoutSession() async throws {
        await #expect(throws: (any Error).self) { try await controller(folder()).end() }
    }

    @Test("the arm chosen before Start session is the session's arm, in its status and study.jsonl (issue 18 #1)")
    func armChosenBeforeStartIsKept() async throws {
        let s = controller(folder())
        try s.setArm("status")
        _ = try await s.start(participant: "P07", arm: nil, targets: nil, notes: nil)
        #expect(s.status.arm == "status")
        let summary = try await s.end()
        let log = try String(contentsOfFile: summary.folder + "/study.jsonl", encoding: .utf8)
        let first = try JSONWire.decode(SessionLogLine.self, from: String(log.split(separator: "\n")[0]))
        guard case .start(_, let arm, _, _, _, _) = first.event else {
            Issue.record("the first line is not the start: \(first)")
            return
        }
        #expect(arm == "status")
        // Named explicitly, the start's own arm wins.
        _ = try await s.start(participant: "P08", arm: "control", targets: nil, notes: nil)
        #expect(s.status.arm == "control")
    }

    @Test("an unknown arm is refused; each known one is what the status then says")
    func arms() throws {
        let s = controller(folder())
        #expect(throws: (any Error).self) { try s.setArm("nonsense") }
        for name in s.status.arms {
            try s.setArm(name)
            #expect(s.status.arm == name)
        }
    }
}
