import BedsideCore
import Foundation
import Synchronization

/// A model run by a command rather than by the live server (`bedside check`, `bedside bench`, `bedside replay`):
/// starts its runner, waits until it runs, asks it one frame and waits for what became of it, stops it.
///
/// The one place outside the runner that reads a runner's status in a loop, so the three commands agree on
/// what "started", "answered", "failed" and "lost" mean.
public final class ModelHarness: Sendable {
    public let runner: ModelRunner
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(_ runner: ModelRunner) {
        self.runner = runner
    }

    public var name: String { runner.config.name }
    public var config: ModelConfig { runner.config }

    /// Starts the runner's service in a task; a second call does nothing.
    public func start() {
        let runner = self.runner
        task.withLock { t in
            if t == nil { t = Task { try await runner.run() } }
        }
    }

    /// Asks the runner to stop and waits until its workers are gone.
    public func stop() async {
        runner.requestStop()
        _ = try? await task.withLock({ $0 })?.value
    }

    // MARK: Starting

    public enum Start: Sendable, Equatable {
        case running
        /// The worker failed (a restart, or the supervisor gave up) while `failFast` was set: its last error.
        case failed(String)
        /// Not running within the time; the runner's last error if it had one.
        case timedOut(String?)
        /// `stopWaiting` said so (Ctrl-C).
        case interrupted
    }

    /// Waits until the model runs. With `failFast` a restart or a failing state ends the wait at once (the model
    /// could not start: `check`, a replay's first frame); without, the supervisor's own retries get `timeout`.
    public func waitUntilRunning(
        timeout: Duration, failFast: Bool, poll: Duration = .milliseconds(5),
        stopWaiting: @Sendable () -> Bool = { false }, report: (@Sendable (ModelStatus) -> Void)? = nil
    ) async -> Start {
        start()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var reported = clock.now
        while true {
            let s = runner.status
            if let outcome = Self.startOutcome(s, failFast: failFast) { return outcome }
            if stopWaiting() { return .interrupted }
            if clock.now >= deadline { return .timedOut(s.lastError) }
            if let report, clock.now - reported >= .seconds(1) {
                reported = clock.now
                report(s)
            }
            try? await Task.sleep(for: poll)
        }
    }

    /// The rule: running is running; with `failFast`, any restart or a failing supervisor is a failed start.
    public static func startOutcome(_ s: ModelStatus, failFast: Bool) -> Start? {
        if s.state == .running { return .running }
        if failFast && (s.restarts > 0 || s.state == .failing || s.state == .restarting) {
            return .failed(s.lastError ?? "the worker stopped while starting")
        }
        return nil
    }

    // MARK: One frame

    /// What became of one frame given to the model.
    public enum Outcome: Sendable {
        case answered(Prediction)
        /// The model answered with an error (its own exception, or a result Bedside refused).
        case failed(String)
        /// No answer will come: the worker was restarted, or `timeout_s + 5` passed.
        case lost(String)
        case interrupted
    }

    /// The counters an outcome is judged against: what the runner had done before the frame was given.
    public struct Mark: Sendable, Equatable {
        public var errors: UInt64
        public var restarts: Int
        public init(errors: UInt64, restarts: Int) {
            self.errors = errors
            self.restarts = restarts
        }
        public init(_ s: ModelStatus) { self.init(errors: s.errors, restarts: s.restarts) }
    }

    public func mark() -> Mark { Mark(runner.status) }

    /// The rule, pure: frame `seq` is answered once an answer for it or a later frame came; failed once an error
    /// was counted after `mark`; lost once the worker restarted after `mark` or `elapsed` passed `limit`.
    /// nil while none of these happened.
    public static func outcome(
        of seq: UInt64, last: Prediction?, status s: ModelStatus, since mark: Mark, elapsed: Duration, limit: Duration
    ) -> Outcome? {
        if let last, last.seq >= seq { return .answered(last) }
        if s.errors > mark.errors { return .failed(s.lastError ?? "the model answered with an error") }
        if s.restarts > mark.restarts { return .lost("the worker was restarted: \(s.lastError ?? "?")") }
        if elapsed > limit { return .lost("no answer within \(limit)") }
        return nil
    }

    /// How long one frame may take: the model's own timeout and 5 s for the round trip.
    public var answerLimit: Duration { .seconds(config.timeoutSeconds + 5) }

    /// What became of frame `seq` so far (nil: still waiting), judged since `mark` and `start`.
    public func outcome(of seq: UInt64, since mark: Mark, started: ContinuousClock.Instant) -> Outcome? {
        Self.outcome(
            of: seq, last: runner.lastPrediction, status: runner.status, since: mark,
            elapsed: ContinuousClock.now - started, limit: answerLimit)
    }

    /// Gives the model `frame` and waits for its outcome. `resend` offers the same image again at that interval,
    /// as the next frame, until something happens (a runner that was not ready yet, or restarted, drops what it
    /// was given); an answer to any of them is the answer.
    public func answer(
        _ frame: Frame, resend: Duration? = nil, poll: Duration = .milliseconds(1),
        stopWaiting: @Sendable () -> Bool = { false }
    ) async -> Outcome {
        start()
        let mark = self.mark()
        let started = ContinuousClock.now
        var offered = started
        var again = frame
        runner.offer(frame)
        while true {
            if let outcome = outcome(of: frame.seq, since: mark, started: started) { return outcome }
            if stopWaiting() { return .interrupted }
            if let resend, ContinuousClock.now - offered >= resend {
                offered = ContinuousClock.now
                again.seq += 1
                again.ptsNanos = Clock.monotonicNanos()
                runner.offer(again)
            }
            try? await Task.sleep(for: poll)
        }
    }
}
