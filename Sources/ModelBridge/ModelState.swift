/// What a model is doing, as the status says it (`state` of each entry of the status's `models`). The raw values
/// are the wire strings; the page has a text for each (Sources/Web/Page/js/state.js, tested against this list).
public enum ModelState: String, Sendable, Codable, CaseIterable, Comparable {
    // In the order a model's state is the best of its replicas' (running if any runs).
    case running
    case loading
    case starting
    case restarting
    case failing
    case idle
    case stopped

    /// Only `running` shows answers as current.
    public var isRunning: Bool { self == .running }

    /// The better of two replicas' states comes first (`min` of a model's replicas is the model's state).
    public static func < (a: ModelState, b: ModelState) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
