import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Synchronization
import Testing

/// Runs the real bridge (Python subprocess, zmq, shared memory) under the real runner.
@Suite("Model runner with a real Python worker", .serialized)
struct ModelRunnerTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var python: String {
        let venv = repo + "/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }

    final class Collected: Sendable {
        let predictions = Mutex<[Prediction]>([])
        var count: Int { predictions.withLock { $0.count } }
    }

    func makeRunner(mode: String, timeout: Double = 10) throws -> (ModelRunner, Collected, String) {
        let dir = NSTemporaryDirectory() + "bedside-runner-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var m = ModelConfig(name: "flaky", entry: Self.repo + "/Tests/e2e/models/flaky_model.py:predict")
        m.python = Self.python
        m.env["BEDSIDE_TEST_MODE"] = mode
        m.input = ModelInput(width: 64, height: 48, format: .gray8)
        m.timeoutSeconds = timeout
        let collected = Collected()
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let runner = ModelRunner(
            config: m, runtimeDirectory: dir, bridgePath: Self.repo + "/bridge", logger: logger
        ) { p in collected.predictions.withLock { $0.append(p) } }
        return (runner, collected, dir)
    }

    /// Feeds phantom frames at ~50 fps until `done` or the deadline.
    func feed(_ runner: ModelRunner, seconds: Double, until done: () -> Bool) async {
        let renderer = PhantomRenderer(width: 160, height: 120)
        let (pixels, truth) = renderer.render(time: 5, index: 0)
        let start = Date()
        var seq: UInt64 = 0
        while Date().timeIntervalSince(start) < seconds && !done() {
            runner.offer(
                Frame(
                    seq: seq, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: 160, height: 120, format: .gray8,
                    pixels: pixels, truth: truth))
            seq += 1
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func withRunner(
        mode: String, timeout: Double = 10, _ body: (ModelRunner, Collected) async throws -> Void
    ) async throws {
        let (runner, collected, dir) = try makeRunner(mode: mode, timeout: timeout)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let task = Task { try await runner.run() }
        defer { runner.requestStop() }
        try await body(runner, collected)
        runner.requestStop()
        _ = try? await task.value
        #expect(runner.status.state == .stopped)
    }

    @Test("frames go out and predictions come back with increasing sequence numbers")
    func roundTrip() async throws {
        try await withRunner(mode: "ok") { runner, got in
            await feed(runner, seconds: 30) { got.count >= 10 }
            let p = got.predictions.withLock { $0 }
            #expect(p.count >= 10)
            #expect(zip(p, p.dropFirst()).allSatisfy { $0.seq < $1.seq })
            #expect(p.first?.resultJSON.contains("\"calls\"") == true)
            #expect(runner.status.state == .running)
            #expect(runner.status.framesSent >= 10)
        }
    }

    @Test("a worker that dies is restarted and predictions resume")
    func crashRestarts() async throws {
        try await withRunner(mode: "crash") { runner, got in
            await feed(runner, seconds: 40) { got.count >= 6 && runner.status.restarts >= 1 }
            #expect(runner.status.restarts >= 1)
            #expect(got.count >= 6)
            #expect(runner.status.lastError?.contains("exited") == true)
        }
    }

    @Test("a worker that hangs is killed after the timeout and restarted")
    func hangRestarts() async throws {
        try await withRunner(mode: "hang", timeout: 1) { runner, got in
            await feed(runner, seconds: 40) { got.count >= 4 && runner.status.restarts >= 1 }
            #expect(runner.status.restarts >= 1)
            #expect(runner.status.lastError?.contains("timeout_s") == true)
            #expect(got.count >= 4)
        }
    }

    @Test("exceptions and garbage answers are counted; the worker keeps serving")
    func errorsCounted() async throws {
        for mode in ["raise", "garbage"] {
            try await withRunner(mode: mode) { runner, got in
                await feed(runner, seconds: 30) { got.count >= 4 && runner.status.errors >= 3 }
                #expect(runner.status.errors >= 3)
                #expect(runner.status.restarts == 0)
                #expect(got.count >= 4)
            }
        }
    }
}
