import Foundation
import Testing

@testable import Web

@Suite("Capture -> drawn latency from the pages' reports")
struct ViewerLatencyTests {
    static let ms: UInt64 = 1_000_000

    static func report(_ frames: [(UInt64, Double)]) -> [UInt8] {
        let items = frames.map { #"{"seq":\#($0.0),"ago_ms":\#($0.1)}"# }.joined(separator: ",")
        return Array(#"{"type":"drawn","frames":[\#(items)]}"#.utf8)
    }

    @Test("latency = receipt - time since paint - capture pts; percentiles per viewer and overall")
    func measures() {
        let l = ViewerLatency(window: 100, ringSize: 64)
        l.addViewer(1, label: "console")
        l.addViewer(2, label: "tablet-a")
        for seq in UInt64(0)..<50 { l.sent(seq: seq, ptsNanos: 1000 * Self.ms + seq * 33 * Self.ms, sentNanos: 1000 * Self.ms + seq * 33 * Self.ms + 5 * Self.ms) }
        // Frame 10 was captured at 1330 ms; received at 1400 ms, painted 20 ms before: 50 ms.
        #expect(l.report(viewer: 1, bytes: Self.report([(10, 20)]), receivedNanos: 1400 * Self.ms) == 1)
        for seq in UInt64(11)..<20 {
            #expect(l.report(viewer: 2, bytes: Self.report([(seq, 0)]), receivedNanos: (1000 + seq * 33 + 40) * Self.ms) == 1)
        }
        let s = l.status(now: 2000 * Self.ms)
        let overall = s["capture_to_drawn_ms"] as! [String: Any]
        #expect(overall["n"] as? Int == 10)
        #expect(overall["p50"] as? Double == 40)
        #expect(overall["p99"] as? Double == 50)
        #expect((s["capture_to_sent_ms"] as! [String: Any])["p50"] as? Double == 5)
        let per = s["per_viewer"] as! [[String: Any]]
        #expect(per.count == 2 && per[0]["who"] as? String == "console" && per[0]["p50"] as? Double == 50)
        l.removeViewer(1)
        #expect((l.status(now: 2000 * Self.ms)["per_viewer"] as! [[String: Any]]).count == 1)
        // Samples older than the window's seconds no longer count.
        #expect((l.status(now: 20_000 * Self.ms)["capture_to_drawn_ms"] as! [String: Any])["n"] as? Int == 0)
    }

    @Test("malformed, unknown, oversized or implausible reports are ignored")
    func ignoresJunk() {
        let l = ViewerLatency(window: 10, ringSize: 8)
        l.addViewer(1, label: "console")
        l.sent(seq: 3, ptsNanos: 100 * Self.ms, sentNanos: 101 * Self.ms)
        for junk in ["", "x", "{", "[]", "{}", #"{"type":"drawn"}"#, #"{"type":"hello","frames":[]}"#,
            #"{"type":"drawn","frames":[{"seq":-3,"ago_ms":0}]}"#, #"{"type":"drawn","frames":[{"seq":"3","ago_ms":0}]}"#]
        {
            #expect(l.report(viewer: 1, bytes: Array(junk.utf8), receivedNanos: 200 * Self.ms) == 0)
        }
        #expect(l.report(viewer: 1, bytes: Array(repeating: 0x7B, count: 5000), receivedNanos: 200 * Self.ms) == 0)
        #expect(l.report(viewer: 1, bytes: [0xFF, 0xFE, 0x00], receivedNanos: 200 * Self.ms) == 0)
        #expect(l.report(viewer: 1, bytes: Self.report(Array(repeating: (3, 0), count: 40)), receivedNanos: 200 * Self.ms) == 0)
        #expect(l.report(viewer: 1, bytes: Self.report([(11, 0)]), receivedNanos: 200 * Self.ms) == 0)  // same slot, other seq
        #expect(l.report(viewer: 1, bytes: Self.report([(3, 1e9)]), receivedNanos: 200 * Self.ms) == 0)  // painted "ages ago"
        #expect(l.report(viewer: 1, bytes: Self.report([(3, 150)]), receivedNanos: 200 * Self.ms) == 0)  // before capture
        #expect(l.report(viewer: 9, bytes: Self.report([(3, 0)]), receivedNanos: 200 * Self.ms) == 0)  // unknown viewer
        #expect(l.report(viewer: 1, bytes: Self.report([(3, 0)]), receivedNanos: 200 * Self.ms) == 1)
        let overall = l.status(now: 300 * Self.ms)["capture_to_drawn_ms"] as! [String: Any]
        #expect(overall["n"] as? Int == 1 && overall["p50"] as? Double == 100)
        #expect((l.statusObject["ignored_reports"] as? Int ?? 0) >= 12)
        #expect(ViewerLatency.percentile([], 50) == nil)
    }
}
