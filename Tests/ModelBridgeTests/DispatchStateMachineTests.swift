import ModelBridge
import Testing

@Suite("Dispatch: which frame goes to which worker")
struct DispatchStateMachineTests {
    @Test("nothing is sent before the worker is ready; then the newest frame goes")
    func waitsForReady() {
        var d = DispatchStateMachine(workers: 1, timeout: 5)
        #expect(d.frameCaptured(seq: 1, now: 0).isEmpty)
        #expect(d.frameCaptured(seq: 2, now: 0.03).isEmpty)
        #expect(d.workerReady(0, now: 0.05) == [.send(seq: 2, worker: 0)])
        #expect(d.skipped == 1)
    }

    @Test("a busy worker is never queued frames: only the newest waits, and goes when it answers")
    func newestOnly() {
        var d = DispatchStateMachine(workers: 1, timeout: 5)
        _ = d.workerReady(0, now: 0)
        #expect(d.frameCaptured(seq: 10, now: 0) == [.send(seq: 10, worker: 0)])
        for s in 11...19 { #expect(d.frameCaptured(seq: UInt64(s), now: 0.1).isEmpty) }
        let (verdict, actions) = d.resultReceived(0, seq: 10, now: 0.3)
        #expect(verdict == .accepted(sentAt: 0))
        #expect(actions == [.send(seq: 19, worker: 0)])
        #expect(d.skipped == 8)
        #expect(d.pending == nil)
    }

    @Test("an answer for another frame is rejected")
    func wrongFrame() {
        var d = DispatchStateMachine(workers: 1, timeout: 5)
        _ = d.workerReady(0, now: 0)
        _ = d.frameCaptured(seq: 5, now: 0)
        #expect(d.resultReceived(0, seq: 4, now: 0.1).0 == .wrongFrame(expected: 5))
        var idle = DispatchStateMachine(workers: 1, timeout: 5)
        _ = idle.workerReady(0, now: 0)
        #expect(idle.resultReceived(0, seq: 1, now: 0.1).0 == .wrongFrame(expected: nil))
    }

    @Test("a worker holding a frame past the timeout is reported once as hung")
    func timeout() {
        var d = DispatchStateMachine(workers: 1, timeout: 2)
        _ = d.workerReady(0, now: 0)
        _ = d.frameCaptured(seq: 1, now: 0)
        #expect(d.checkTimeouts(now: 1.9).isEmpty)
        #expect(d.checkTimeouts(now: 2.1) == [.hung(worker: 0, seq: 1)])
        #expect(d.checkTimeouts(now: 3).isEmpty)
        #expect(d.workers[0] == .notReady)
    }

    @Test("replicas share the work: each idle worker takes the newest frame in turn")
    func replicas() {
        var d = DispatchStateMachine(workers: 2, timeout: 5)
        _ = d.workerReady(0, now: 0)
        _ = d.workerReady(1, now: 0)
        #expect(d.frameCaptured(seq: 1, now: 0) == [.send(seq: 1, worker: 0)])
        #expect(d.frameCaptured(seq: 2, now: 0.03) == [.send(seq: 2, worker: 1)])
        #expect(d.frameCaptured(seq: 3, now: 0.06).isEmpty)
        #expect(d.frameCaptured(seq: 4, now: 0.09).isEmpty)
        #expect(d.resultReceived(1, seq: 2, now: 0.1).1 == [.send(seq: 4, worker: 1)])
    }

    @Test("a lost worker gets nothing until ready again")
    func lost() {
        var d = DispatchStateMachine(workers: 1, timeout: 5)
        _ = d.workerReady(0, now: 0)
        d.workerLost(0)
        #expect(d.frameCaptured(seq: 1, now: 0).isEmpty)
        #expect(d.workerReady(0, now: 1) == [.send(seq: 1, worker: 0)])
    }
}
