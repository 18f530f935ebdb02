import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Testing

/// The harness `check`, `bench` and `replay` share: its rules (pure) and a real worker through it.
@Suite("Model harness", .serialized)
struct ModelHarnessTests {
    static func status(_ state: ModelState, errors: UInt64 = 0, restarts: Int = 0, lastError: String? = nil) -> ModelStatus {
        var s = ModelStatus(name: "m")
        s.state = state
        s.errors = errors
        s.restarts = restarts
        s.lastError = lastError
        return s
    }

    static func prediction(seq: UInt64) -> Prediction {
        Prediction(
            model: "m", seq: seq, ptsNanos: 0, dispatchedNanos: 0, receivedNanos: 0, modelMs: 1, resultJSON: "{}", plane: nil,
            status: nil)
    }

    @Test("started: running is running; a restart or a failing supervisor fails only a fail-fast wait")
    func startRules() {
        #expect(ModelHarness.startOutcome(Self.status(.running), failFast: true) == .running)
        #expect(ModelHarness.startOutcome(Self.status(.loading), failFast: true) == nil)
        #expect(ModelHarness.startOutcome(Self.status(.starting), failFast: false) == nil)
        let failed = Self.status(.restarting, restarts: 1, lastError: "import failed: No module named 'torch'")
        #expect(ModelHarness.startOutcome(failed, failFast: true) == .failed("import failed: No module named 'torch'"))
        #expect(ModelHarness.startOutcome(failed, failFast: false) == nil)
        #expect(ModelHarness.startOutcome(Self.status(.failing), failFast: true) == .failed("the worker stopped while starting"))
    }

    @Test("one frame: answered by it or a later frame, failed by a new error, lost by a restart or the time limit")
    func frameRules() {
        let mark = ModelHarness.Mark(errors: 2, restarts: 1)
        let limit = Duration.seconds(15)
        func outcome(last: UInt64?, _ s: ModelStatus, after: Duration = .seconds(1)) -> String {
            switch ModelHarness.outcome(
                of: 10, last: last.map(Self.prediction), status: s, since: mark, elapsed: after, limit: limit)
            {
            case nil: "waiting"
            case .answered(let p): "answered \(p.seq)"
            case .failed(let e): "failed: \(e)"
            case .lost(let e): "lost: \(e)"
            case .interrupted: "interrupted"
            }
        }
        let calm = Self.status(.running, errors: 2, restarts: 1)
        #expect(outcome(last: 9, calm) == "waiting")
        #expect(outcome(last: nil, calm) == "waiting")
        #expect(outcome(last: 10, calm) == "answered 10")
        #expect(outcome(last: 12, calm) == "answered 12")
        #expect(outcome(last: 9, Self.status(.running, errors: 3, restarts: 1, lastError: "frame 10: ValueError")) == "failed: frame 10: ValueError")
        #expect(
            outcome(last: 9, Self.status(.restarting, errors: 2, restarts: 2, lastError: "worker exited")) == "lost: the worker was restarted: worker exited")
        #expect(outcome(last: 9, calm, after: .seconds(16)) == "lost: no answer within 15.0 seconds")
        // An answer that came wins over an error counted meanwhile (for another frame).
        #expect(outcome(last: 10, Self.status(.running, errors: 3, restarts: 1)) == "answered 10")
    }

    func harness(mode: String) throws -> (ModelHarness, String) {
        let dir = NSTemporaryDirectory() + "bedside-harness-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var m = ModelConfig(name: "flaky", entry: ModelRunnerTests.repo + "/Tests/e2e/models/flaky_model.py:predict")
        m.python = ModelRunnerTests.python
        m.env["BEDSIDE_TEST_MODE"] = mode
        m.input = ModelInput(width: 64, height: 48, format: .gray8)
        m.timeoutSeconds = 10
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let runner = ModelRunner(config: m, runtimeDirectory: dir, bridgePath: ModelRunnerTests.repo + "/bridge", logger: logger) { _ in }
        return (ModelHarness(runner), dir)
    }

    static func frame(_ seq: UInt64) -> Frame {
        let renderer = PhantomRenderer(width: 160, height: 120)
        let (pixels, truth) = renderer.render(time: 5, index: 0)
        return Frame(
            seq: seq, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: 160, height: 120, format: .gray8, pixels: pixels,
            truth: truth)
    }

    @Test("a real worker through the harness: an answer, an error answer, an answer; a crash loses the frame")
    func realWorker() async throws {
        let (h, dir) = try harness(mode: "raise")  // even calls raise
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(await h.waitUntilRunning(timeout: .seconds(60), failFast: true) == .running)
        var seen: [String] = []
        for seq: UInt64 in 0..<3 {
            switch await h.answer(Self.frame(seq)) {
            case .answered(let p): seen.append("answered \(p.seq)")
            case .failed(let e):
                seen.append(e.contains("researcher bug on even frames") ? "failed" : "failed: \(e)")
                // The status says the answers fail, and what to do (the admin page shows both).
                #expect(h.runner.status.failingAnswers == 1)
                #expect(h.runner.status.lastErrorFix?.contains("traceback") == true)
            case .lost(let e): seen.append("lost: \(e)")
            case .interrupted: seen.append("interrupted")
            }
        }
        #expect(seen == ["answered 0", "failed", "answered 2"])
        #expect(h.runner.status.failingAnswers == 0 && h.runner.status.lastErrorFix == nil, "a good answer ends it")
        #expect(h.runner.status.intervalMs > 0)
        await h.stop()
        #expect(h.runner.status.state == .stopped)

        let (crashing, dir2) = try harness(mode: "crash")  // the third call exits the interpreter
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        #expect(await crashing.waitUntilRunning(timeout: .seconds(60), failFast: true) == .running)
        for seq: UInt64 in 0..<2 {
            guard case .answered = await crashing.answer(Self.frame(seq)) else { Issue.record("frame \(seq) not answered"); break }
        }
        guard case .lost(let why) = await crashing.answer(Self.frame(2)) else {
            Issue.record("the crash should lose the frame")
            return
        }
        #expect(why.contains("restarted"))
        await crashing.stop()
    }

    @Test("a model that cannot start fails a fail-fast wait with the worker's reason")
    func cannotStart() async throws {
        let dir = NSTemporaryDirectory() + "bedside-harness-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var m = ModelConfig(name: "missing", entry: dir + "/no_such_model.py:predict")
        m.python = ModelRunnerTests.python
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let h = ModelHarness(ModelRunner(config: m, runtimeDirectory: dir, bridgePath: ModelRunnerTests.repo + "/bridge", logger: logger) { _ in })
        let started = await h.waitUntilRunning(timeout: .seconds(60), failFast: true)
        await h.stop()
        guard case .failed(let why) = started else {
            Issue.record("expected a failed start, got \(started)")
            return
        }
        #expect(why.contains("no_such_model"), "\(why)")
    }
}
