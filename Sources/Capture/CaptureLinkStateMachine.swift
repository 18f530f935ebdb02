/// Decides what the capture edge does when the signal or the device comes and goes: pure, no I/O, no clock.
///
/// States: connecting -> streaming; a lost signal (ENOLINK/ENOLCK/ERANGE, or no frame for `stallSeconds`)
/// -> noSignal; a vanished or unopenable device (ENODEV/ENOENT) -> disconnected. Both retry with a
/// backoff that doubles from `baseDelay` to `maxDelay`, and start again from `baseDelay` after a
/// frame arrives. A source change (new resolution) renegotiates at once.
public struct CaptureLinkStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case connecting
        case streaming
        case noSignal(String)
        case disconnected(String)
        /// The device is there but another program (another Bedside) is capturing from it.
        case inUse(String)
    }

    public enum Action: Sendable, Equatable {
        /// Close everything and open again after the delay (seconds).
        case reopen(after: Double)
        /// Keep going.
        case none
    }

    public private(set) var state: State = .connecting
    public private(set) var failures = 0
    public private(set) var renegotiations = 0
    public let baseDelay: Double
    public let maxDelay: Double
    public let stallSeconds: Double

    public init(baseDelay: Double = 0.25, maxDelay: Double = 5, stallSeconds: Double = 2) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.stallSeconds = stallSeconds
    }

    public mutating func frameArrived() {
        state = .streaming
        failures = 0
    }

    public mutating func signalLost(_ reason: String) -> Action {
        state = .noSignal(reason)
        return backoff()
    }

    public mutating func deviceLost(_ reason: String) -> Action {
        state = .disconnected(reason)
        return backoff()
    }

    /// The device answered EBUSY: someone else streams from it. Retried like a lost device.
    public mutating func deviceBusy(_ reason: String) -> Action {
        state = .inUse(reason)
        return backoff()
    }

    /// No frame for `idleSeconds` while streaming or connecting.
    public mutating func idle(for idleSeconds: Double) -> Action {
        guard idleSeconds >= stallSeconds else { return .none }
        return signalLost("no frames for \(Int(idleSeconds.rounded())) s")
    }

    /// The driver reported a source change: renegotiate now, without a backoff.
    public mutating func sourceChanged() -> Action {
        renegotiations += 1
        state = .connecting
        return .reopen(after: 0)
    }

    private mutating func backoff() -> Action {
        failures += 1
        return .reopen(after: min(maxDelay, baseDelay * Double(1 << min(failures - 1, 16))))
    }

    /// For the page and `/api/status`: ok, connecting, no signal, disconnected, in use.
    public var summary: (state: String, detail: String?) {
        switch state {
        case .connecting: ("connecting", nil)
        case .streaming: ("ok", nil)
        case .noSignal(let d): ("no signal", d)
        case .disconnected(let d): ("disconnected", d)
        case .inUse(let d): ("in use", d)
        }
    }
}
