/// Answers per second, true from a 0.1 Hz research model to a 60 Hz one, and falling when answers stop.
///
/// The last `capacity` answer times within `horizon` seconds: the rate is a count over the time they span (not
/// an average of 1/dt, which jitter biases upwards). While the model is silent for longer than its usual
/// interval, the rate is at most one answer per the silence so far, so a model that stopped answering decays
/// towards 0 instead of showing its last good rate for ever. Pure: the runner gives it the clock.
public struct AnswerRate: Sendable, Equatable {
    public let capacity: Int
    public let horizon: Double
    private(set) var times: [Double] = []

    public init(capacity: Int = 60, horizon: Double = 60) {
        self.capacity = max(2, capacity)
        self.horizon = horizon
    }

    public mutating func record(at now: Double) {
        times.append(now)
        if times.count > capacity { times.removeFirst(times.count - capacity) }
        times.removeAll { now - $0 > horizon }
    }

    /// Answers per second at `now`; 0 before two answers within the horizon.
    public func perSecond(at now: Double) -> Double {
        let recent = times.filter { now - $0 <= horizon }
        guard recent.count >= 2, let first = recent.first, let last = recent.last, last > first else { return 0 }
        let rate = Double(recent.count - 1) / (last - first)
        let silence = now - last
        let interval = 1 / rate
        // Within twice the usual interval the model is simply busy; beyond, the silence says more than the past.
        return silence > 2 * interval ? min(rate, 1 / silence) : rate
    }

    /// The model's usual time between answers, seconds: the median of the recent gaps (nil before two answers).
    /// Unlike the rate it does not decay while the model is silent: it is what "on time" means for this model,
    /// against which the page judges an answer's age (a hung model's answer gets old against it).
    public func usualInterval(at now: Double) -> Double? {
        let recent = times.filter { now - $0 <= horizon }
        guard recent.count >= 2 else { return nil }
        let gaps = zip(recent.dropFirst(), recent).map { $0 - $1 }.sorted()
        let mid = gaps.count / 2
        return gaps.count % 2 == 1 ? gaps[mid] : (gaps[mid - 1] + gaps[mid]) / 2
    }
}
