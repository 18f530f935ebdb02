import ModelBridge
import Testing

@Suite("Supervisor: when a model worker is restarted")
struct SupervisorStateMachineTests {
    @Test("start spawns, ready runs")
    func startAndReady() {
        var s = SupervisorStateMachine()
        #expect(s.start(now: 0) == .spawn)
        #expect(s.modelState == .starting)
        _ = s.workerReady(now: 1)
        #expect(s.modelState == .running)
        #expect(s.start(now: 2) == .none)
    }

    @Test("hello means loading; the start-up timeout counts from the start, not from hello")
    func loading() {
        var s = SupervisorStateMachine(startupTimeout: 10)
        _ = s.start(now: 0)
        _ = s.workerHello(now: 1)
        #expect(s.modelState == .loading)
        #expect(!s.isRunning)
        #expect(s.tick(now: 9) == .none)
        #expect(s.tick(now: 10.5) == .kill(reason: "start-up took longer than 10 s (startup_timeout_s)"))
        var t = SupervisorStateMachine(startupTimeout: 10)
        _ = t.start(now: 0)
        _ = t.workerHello(now: 1)
        _ = t.workerReady(now: 2)
        #expect(t.isRunning && t.modelState == .running)
        #expect(t.workerHello(now: 3) == .none)
        #expect(t.modelState == .running, "a late hello does not move a running worker back")
    }

    @Test("consecutive failures back off exponentially up to the cap")
    func backoff() {
        var s = SupervisorStateMachine(baseDelay: 0.5, maxDelay: 2)
        _ = s.start(now: 0)
        var now = 0.0
        var delays: [Double] = []
        for _ in 0..<4 {  // four: five in a minute would be a crash loop (tested below)
            guard case .waitUntil(let t) = s.workerFailed(now: now, reason: "crash") else {
                Issue.record("expected a wait")
                return
            }
            delays.append(t - now)
            #expect(s.tick(now: t - 0.01) == .none)
            now = t
            #expect(s.tick(now: now) == .spawn)
        }
        #expect(delays == [0.5, 1, 2, 2])
        #expect(s.restarts == 4)
        #expect(s.modelState == .restarting)
    }

    @Test("a worker that ran stably starts the backoff again from the base delay")
    func stableRunResets() {
        var s = SupervisorStateMachine(baseDelay: 0.5, stableAfter: 30)
        _ = s.start(now: 0)
        _ = s.workerFailed(now: 0, reason: "x")
        _ = s.tick(now: 0.5)
        _ = s.workerFailed(now: 0.6, reason: "x")
        _ = s.tick(now: 2)
        _ = s.workerReady(now: 2)
        #expect(s.workerFailed(now: 100, reason: "crash after a long run") == .waitUntil(100.5))
        #expect(s.lastFailure == "crash after a long run")
    }

    @Test("a start-up that takes too long is killed")
    func startupTimeout() {
        var s = SupervisorStateMachine(startupTimeout: 10)
        _ = s.start(now: 0)
        #expect(s.tick(now: 5) == .none)
        guard case .kill(let reason) = s.tick(now: 10.5) else {
            Issue.record("expected a kill")
            return
        }
        #expect(reason.contains("startup_timeout_s"))
    }

    @Test("after stop nothing restarts")
    func stop() {
        var s = SupervisorStateMachine()
        _ = s.start(now: 0)
        s.stop()
        #expect(s.workerFailed(now: 1, reason: "x") == .none)
        #expect(s.tick(now: 100) == .none)
        #expect(s.modelState == .stopped)
    }
}

@Suite("Supervisor: crash loops")
struct SupervisorCrashLoopTests {
    @Test("five failures within a minute is 'failing', retried every 30 s")
    func crashLoop() {
        var s = SupervisorStateMachine(baseDelay: 0.5, maxDelay: 15)
        _ = s.start(now: 0)
        var now = 0.0
        for i in 0..<5 {
            let a = s.workerFailed(now: now, reason: "segfault")
            guard case .waitUntil(let t) = a else { return }
            if i < 4 { #expect(!s.isFailing) }
            now = t
            _ = s.tick(now: now)
        }
        #expect(s.isFailing)
        #expect(s.modelState == .failing)
        #expect(s.workerFailed(now: now, reason: "x") == .waitUntil(now + 30))
    }

    @Test("failures spread over more than a minute are not a loop")
    func spreadOut() {
        var s = SupervisorStateMachine(baseDelay: 0.5, stableAfter: 30)
        _ = s.start(now: 0)
        var now = 0.0
        for _ in 0..<6 {
            _ = s.workerFailed(now: now, reason: "x")
            now += 20
            _ = s.tick(now: now)
            _ = s.workerReady(now: now)
        }
        #expect(!s.isFailing)
    }
}
