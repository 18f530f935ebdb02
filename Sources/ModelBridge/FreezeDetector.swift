/// Decides when a frozen image should be inferred: once per freeze, for models too slow to run live.
///
/// Pure: fed a small thumbnail of each frame and the time. The image counts as still while the mean absolute
/// difference to the previous thumbnail stays below `threshold` (0-255 scale); once it has been still for
/// `stillSeconds`, the detector fires once, and arms again only after the image moves.
public struct FreezeDetector: Sendable {
    public let stillSeconds: Double
    public let threshold: Double
    private var previous: [UInt8]?
    private var stillSince: Double?
    private var fired = false
    public private(set) var freezes = 0

    public init(stillSeconds: Double, threshold: Double = 1.5) {
        self.stillSeconds = stillSeconds
        self.threshold = threshold
    }

    /// Returns true when this frame is the one to infer (the image has just been still long enough).
    public mutating func observe(thumbnail: [UInt8], at now: Double) -> Bool {
        defer { previous = thumbnail }
        guard let prev = previous, prev.count == thumbnail.count, !thumbnail.isEmpty else {
            stillSince = nil
            return false
        }
        var sum = 0
        for i in 0..<thumbnail.count { sum += abs(Int(thumbnail[i]) - Int(prev[i])) }
        let diff = Double(sum) / Double(thumbnail.count)
        if diff >= threshold {
            stillSince = nil
            fired = false
            return false
        }
        let since = stillSince ?? now
        stillSince = since
        if !fired && now - since >= stillSeconds {
            fired = true
            freezes += 1
            return true
        }
        return false
    }
}
