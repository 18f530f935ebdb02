/// Decides which frame goes to which worker: pure, no sockets, no clock.
///
/// Rules: only the newest captured frame is ever pending (older ones are skipped, never queued);
/// a worker gets a frame only when it is ready and idle (lockstep); a worker that holds a frame
/// longer than the timeout is reported as hung; an answer for a frame the worker was not given is rejected.
public struct DispatchStateMachine: Sendable {
    public struct InFlight: Sendable, Equatable {
        public var seq: UInt64
        public var sentAt: Double
    }

    public enum WorkerState: Sendable, Equatable {
        case notReady
        case idle
        case busy(InFlight)
    }

    public enum Action: Sendable, Equatable {
        case send(seq: UInt64, worker: Int)
        case hung(worker: Int, seq: UInt64)
    }

    public enum ResultVerdict: Sendable, Equatable {
        case accepted(sentAt: Double)
        /// The worker answered for another frame than the one it holds (or holds none).
        case wrongFrame(expected: UInt64?)
    }

    public private(set) var workers: [WorkerState]
    public private(set) var pending: UInt64?
    public private(set) var skipped: UInt64 = 0
    public let timeout: Double

    public init(workers: Int, timeout: Double) {
        self.workers = Array(repeating: .notReady, count: workers)
        self.timeout = timeout
    }

    /// A new frame was captured. It replaces any pending frame.
    public mutating func frameCaptured(seq: UInt64, now: Double) -> [Action] {
        if pending != nil { skipped += 1 }
        pending = seq
        return dispatch(now: now)
    }

    public mutating func workerReady(_ w: Int, now: Double) -> [Action] {
        workers[w] = .idle
        return dispatch(now: now)
    }

    public mutating func workerLost(_ w: Int) {
        workers[w] = .notReady
    }

    /// An answer (result or error) arrived from worker `w` for frame `seq`.
    public mutating func resultReceived(_ w: Int, seq: UInt64, now: Double) -> (ResultVerdict, [Action]) {
        guard case .busy(let f) = workers[w], f.seq == seq else {
            if case .busy(let f) = workers[w] { return (.wrongFrame(expected: f.seq), []) }
            return (.wrongFrame(expected: nil), [])
        }
        workers[w] = .idle
        return (.accepted(sentAt: f.sentAt), dispatch(now: now))
    }

    /// Reports workers that have held a frame for longer than the timeout (each once).
    public mutating func checkTimeouts(now: Double) -> [Action] {
        var actions: [Action] = []
        for (i, w) in workers.enumerated() {
            if case .busy(let f) = w, now - f.sentAt > timeout {
                workers[i] = .notReady
                actions.append(.hung(worker: i, seq: f.seq))
            }
        }
        return actions
    }

    private mutating func dispatch(now: Double) -> [Action] {
        guard let seq = pending, let w = workers.firstIndex(of: .idle) else { return [] }
        workers[w] = .busy(InFlight(seq: seq, sentAt: now))
        pending = nil
        return [.send(seq: seq, worker: w)]
    }
}
