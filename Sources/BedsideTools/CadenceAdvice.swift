import Foundation

/// What a model's time per frame means for the tablets, in one line for `bedside check`. Pure.
public enum CadenceAdvice {
    /// - Parameters:
    ///   - medianMs: the model's own time per frame (predict only), median over the frames timed.
    ///   - frames: how many frames that median is over.
    ///   - replicas, trigger: the model's config.
    ///   - threads: the threads its libraries were given, and why (ModelThreads).
    public static func lines(
        medianMs: Double, frames: Int, replicas: Int, trigger: String, threads: Int, threadsSource: String
    ) -> [String] {
        let perSecond = 1000 / max(medianMs, 0.001) * Double(max(replicas, 1))
        let interval = 1 / perSecond
        var out = [
            String(format: "time per frame: %.0f ms (median of %d)", medianMs, frames)
                + (replicas > 1 ? ", \(replicas) replicas" : "")
                + "; threads: \(threads) (\(threadsSource); `threads:` to change)"
        ]
        switch interval {
        case ..<0.1:
            let keeps = perSecond >= 60 ? " (every frame of a 30 or 60 fps source)" : perSecond >= 30 ? " (every frame of a 30 fps source)" : ""
            out.append(String(format: "the page: up to about %.0f answers/s", perSecond) + keeps + ", each drawn live on the frame it belongs to")
        case ..<1.0:
            out.append(
                String(format: "the page: an answer every %.2f s (%.1f/s); the image is newer than its explanation by about that much", interval, perSecond)
                    + " (the page says so only when an answer is older than this cadence explains)")
        default:
            var advice = String(format: "the page: an answer every %.2f s; it shows how old each answered image is", interval)
            if trigger != "freeze" {
                advice += ". Consider `trigger: freeze` (answer when the sonographer freezes the image)"
                advice += replicas == 1 ? " or `replicas: 2` (on a machine with cores to spare)" : ""
            } else if replicas == 1 {
                advice += ". Consider `replicas: 2` on a machine with cores to spare"
            }
            out.append(advice)
        }
        return out
    }
}
