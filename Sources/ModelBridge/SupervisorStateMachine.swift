/// Decides when a model worker is (re)started: pure, no processes, no clock (time is passed in).
///
/// A worker that fails is restarted after a backoff that doubles with each consecutive failure
/// (0.5 s, 1 s, 2 s ... up to `maxDelay`); one that ran for `stableAfter` seconds starts the count again.
/// Bedside never gives up on a model: the clinic session goes on and the model comes back when it can.
public struct SupervisorStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case idle
        /// The process was started; the bridge has not said hello yet.
        case starting(since: Double)
        /// The bridge said hello: it is importing the research code and running its setup (weights load).
        case loading(since: Double)
        case running(since: Double)
        case backoff(until: Double)
        case stopped
    }

    public enum Action: Sendable, Equatable {
        /// Start a new worker process now.
        case spawn
        /// Kill the current worker (it is hung or misbehaving), then report `workerExited`.
        case kill(reason: String)
        /// Do nothing until the given time, then call `tick`.
        case waitUntil(Double)
        case none
    }

    public private(set) var state: State = .idle
    /// Consecutive failures without a stable run in between.
    public private(set) var consecutiveFailures = 0
    public private(set) var restarts = 0
    public private(set) var lastFailure: String?
    /// Times of recent failures, for crash-loop detection.
    public private(set) var recentFailures: [Double] = []
    /// A crash loop: `loopFailures` failures within `loopWindow` seconds. Retried slowly (`loopDelay`).
    public let loopFailures = 5
    public let loopWindow = 60.0
    public let loopDelay = 30.0
    public let baseDelay: Double
    public let maxDelay: Double
    public let stableAfter: Double
    public let startupTimeout: Double

    public init(baseDelay: Double = 0.5, maxDelay: Double = 15, stableAfter: Double = 30, startupTimeout: Double = 120) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.stableAfter = stableAfter
        self.startupTimeout = startupTimeout
    }

    public mutating func start(now: Double) -> Action {
        guard state == .idle else { return .none }
        state = .starting(since: now)
        return .spawn
    }

    /// The bridge said hello: the interpreter and the bridge work; the research code loads now.
    /// The start-up timeout keeps counting from the start.
    public mutating func workerHello(now: Double) -> Action {
        guard case .starting(let since) = state else { return .none }
        state = .loading(since: since)
        return .none
    }

    /// The worker said `ready` (import and setup done).
    public mutating func workerReady(now: Double) -> Action {
        switch state {
        case .starting, .loading:
            state = .running(since: now)
        default: break
        }
        return .none
    }

    /// Ready and serving frames.
    public var isRunning: Bool {
        if case .running = state { return true }
        return false
    }

    /// The worker exited, crashed, timed out, or was killed for garbage. Returns when to try again.
    public mutating func workerFailed(now: Double, reason: String) -> Action {
        switch state {
        case .stopped, .idle, .backoff: return .none
        case .running(let since) where now - since >= stableAfter:
            consecutiveFailures = 1
        case .starting, .loading, .running:
            consecutiveFailures += 1
        }
        lastFailure = reason
        recentFailures = (recentFailures + [now]).filter { now - $0 <= loopWindow }
        var delay = min(maxDelay, baseDelay * Double(1 << min(consecutiveFailures - 1, 20)))
        if isFailing { delay = max(delay, loopDelay) }
        state = .backoff(until: now + delay)
        return .waitUntil(now + delay)
    }

    /// Time passes: ends a backoff, or declares a start-up that took too long as failed.
    public mutating func tick(now: Double) -> Action {
        switch state {
        case .backoff(let until) where now >= until:
            restarts += 1
            state = .starting(since: now)
            return .spawn
        case .starting(let since) where now - since > startupTimeout,
            .loading(let since) where now - since > startupTimeout:
            return .kill(reason: "start-up took longer than \(Int(startupTimeout)) s (startup_timeout_s)")
        default:
            return .none
        }
    }

    public mutating func stop() {
        state = .stopped
    }

    /// In a crash loop: too many failures in a short time; the page says so and retries are slow.
    public var isFailing: Bool { recentFailures.count >= loopFailures }

    /// What the status says about this replica.
    public var modelState: ModelState {
        switch state {
        case .idle: .idle
        case .starting: isFailing ? .failing : (restarts == 0 ? .starting : .restarting)
        case .loading: isFailing ? .failing : .loading
        case .running: .running
        case .backoff: isFailing ? .failing : .restarting
        case .stopped: .stopped
        }
    }
}
