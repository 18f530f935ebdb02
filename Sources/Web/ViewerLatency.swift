import BedsideCore
import Foundation
import Synchronization

/// Capture -> drawn latency, from the `drawn` reports the tablet pages send back over their WebSocket.
///
/// The JPEG encoder notes each frame it sends (`sent`: seq -> capture pts, in a small ring); a page reports
/// `{"type":"drawn","frames":[{"seq":N,"ago_ms":D}, ...]}` for the frames it put on screen, `D` being how long
/// ago (its own clock) it painted frame N. Latency = server monotonic time at receipt - D - the frame's
/// capture pts: the page's clock is used only for a short interval, so the two clocks need not agree. The
/// return trip (page -> server) is not subtracted; on loopback and a LAN it is well under a millisecond.
///
/// Samples are kept per viewer (the last `window`, at most `windowSeconds` old), percentiles are worked out when
/// the status is asked for.
public final class ViewerLatency: Sendable {
    /// Biggest report a page may send; anything longer is ignored unread.
    public static let maxMessageBytes = 4096
    /// Most frames one report may carry (the page sends up to 16).
    static let maxFramesPerReport = 32
    /// A report claiming a paint longer ago than this is ignored, and so is a latency above `maxLatencyMs`.
    static let maxAgoMs = 10_000.0
    static let maxLatencyMs = 60_000.0

    private struct SentFrame {
        var seq: UInt64
        var ptsNanos: UInt64
        var sentNanos: UInt64
    }

    /// One painted frame, ms after its capture: sent by Bedside, received and decoded by the page (NaN where
    /// the page did not say), drawn.
    struct Sample {
        var sent: Double
        var received = Double.nan
        var decoded = Double.nan
        var drawn: Double
    }

    private struct Window {
        var samples: [Sample] = []
        var at: [UInt64] = []
        var next = 0
        var total: UInt64 = 0
        var label: String

        mutating func add(_ sample: Sample, at now: UInt64, capacity: Int) {
            if samples.count < capacity {
                samples.append(sample)
                at.append(now)
            } else {
                samples[next] = sample
                at[next] = now
                next = (next + 1) % capacity
            }
            total += 1
        }
    }

    private struct State {
        var ring: [SentFrame]
        var windows: [Int: Window] = [:]
        var ignoredReports: UInt64 = 0
    }

    private let state: Mutex<State>
    /// Samples kept per viewer.
    public let window: Int
    /// Samples older than this are left out of the percentiles.
    public let windowSeconds: Double
    private let ringSize: Int

    /// `ringSize` frames are remembered (512: 17 s at 30 fps); the last `window` samples are kept per viewer and
    /// those of the last `windowSeconds` count.
    public init(window: Int = 300, windowSeconds: Double = 10, ringSize: Int = 512) {
        self.window = max(1, window)
        self.windowSeconds = windowSeconds
        self.ringSize = max(1, ringSize)
        state = Mutex(State(ring: Array(repeating: SentFrame(seq: .max, ptsNanos: 0, sentNanos: 0), count: max(1, ringSize))))
    }

    /// The encoder sent frame `seq` (captured at `ptsNanos`) to the viewers at `sentNanos`.
    public func sent(seq: UInt64, ptsNanos: UInt64, sentNanos: UInt64) {
        let slot = Int(seq % UInt64(ringSize))
        state.withLock { $0.ring[slot] = SentFrame(seq: seq, ptsNanos: ptsNanos, sentNanos: sentNanos) }
    }

    func addViewer(_ id: Int, label: String) {
        state.withLock { $0.windows[id] = Window(label: label) }
    }

    func removeViewer(_ id: Int) {
        _ = state.withLock { $0.windows.removeValue(forKey: id) }
    }

    /// A text message from viewer `id`, received at `receivedNanos` (monotonic). Anything that is not a well-formed
    /// `drawn` report is ignored (counted); returns the number of samples taken. Never throws.
    @discardableResult
    public func report(viewer id: Int, bytes: [UInt8], receivedNanos: UInt64) -> Int {
        guard bytes.count <= Self.maxMessageBytes, bytes.first == UInt8(ascii: "{"),
            let r = try? JSONDecoder().decode(DrawnReport.self, from: Data(bytes)), r.type == DrawnReport.type,
            r.frames.count <= Self.maxFramesPerReport
        else {
            state.withLock { $0.ignoredReports += 1 }
            return 0
        }
        return state.withLock { s -> Int in
            guard s.windows[id] != nil else { return 0 }
            var taken = 0
            for e in r.frames {
                guard e.agoMs.isFinite, e.agoMs >= 0, e.agoMs <= Self.maxAgoMs else { continue }
                let f = s.ring[Int(e.seq % UInt64(ringSize))]
                guard f.seq == e.seq, f.ptsNanos > 0, receivedNanos >= f.ptsNanos else { continue }
                let sinceCapture = Double(receivedNanos - f.ptsNanos) / 1e6
                let drawnMs = sinceCapture - e.agoMs
                let sentMs = Double(f.sentNanos &- f.ptsNanos) / 1e6
                guard drawnMs >= 0, drawnMs <= Self.maxLatencyMs, f.sentNanos >= f.ptsNanos else { continue }
                var sample = Sample(sent: sentMs, drawn: drawnMs)
                // The stages count only when they are in order: sent <= received <= decoded <= drawn (the
                // page's clock runs for a few hundred ms at most, so a small slack is allowed for rounding).
                if let r = e.receivedAgoMs, let d = e.decodedAgoMs, r.isFinite, d.isFinite, r <= Self.maxAgoMs,
                    r >= d, d >= e.agoMs, sinceCapture - r >= sentMs - 1
                {
                    sample.received = max(sentMs, sinceCapture - r)  // never before Bedside sent it (rounding)
                    sample.decoded = max(sample.received, sinceCapture - d)
                }
                s.windows[id]!.add(sample, at: receivedNanos, capacity: window)
                taken += 1
            }
            return taken
        }
    }

    /// Each stage's own time, frame by frame, over the frames that have all their stages.
    static func stages(_ samples: [Sample]) -> LatencyStages {
        let staged = samples.filter { !$0.received.isNaN && !$0.decoded.isNaN }
        return LatencyStages(
            bedside: summary(staged.map(\.sent)), network: summary(staged.map { $0.received - $0.sent }),
            decode: summary(staged.map { $0.decoded - $0.received }), paint: summary(staged.map { $0.drawn - $0.decoded }))
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    static func summary(_ values: [Double]) -> LatencySummary {
        let s = values.sorted()
        let r = { (v: Double?) -> Double? in v.map { ($0 * 10).rounded() / 10 } }
        return LatencySummary(p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), n: s.count)
    }

    /// For `/api/status` (`viewers_latency`): overall (the windows of the viewers connected now, together) and
    /// per viewer, p50/p99 in ms. `capture_to_sent_ms` is the server's share (capture to JPEG handed to the sockets).
    public var status: ViewerLatencyStatus { status(now: BedsideCore.Clock.monotonicNanos()) }

    func status(now: UInt64) -> ViewerLatencyStatus {
        let (windows, ignored) = state.withLock { s in (s.windows.sorted { $0.key < $1.key }, s.ignoredReports) }
        let oldest = now &- UInt64(max(0, windowSeconds) * 1e9)
        var all: [Sample] = []
        var perViewer: [ViewerLatencyStatus.Viewer] = []
        for (id, w) in windows {
            let recent = w.at.indices.filter { w.at[$0] >= oldest || now < oldest }.map { w.samples[$0] }
            all += recent
            perViewer.append(
                .init(viewer: id, who: w.label, summary: Self.summary(recent.map(\.drawn)), total: Int(clamping: w.total)))
        }
        return ViewerLatencyStatus(
            captureToDrawnMs: Self.summary(all.map(\.drawn)), captureToSentMs: Self.summary(all.map(\.sent)),
            stagesMs: Self.stages(all), perViewer: perViewer,
            window: window, windowS: windowSeconds, ignoredReports: Int(clamping: ignored))
    }
}
