import BedsideCore
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
        for seq in UInt64(0)..<50 {
            l.sent(seq: seq, ptsNanos: 1000 * Self.ms + seq * 33 * Self.ms, sentNanos: 1000 * Self.ms + seq * 33 * Self.ms + 5 * Self.ms)
        }
        // Frame 10 was captured at 1330 ms; received at 1400 ms, painted 20 ms before: 50 ms.
        #expect(l.report(viewer: 1, bytes: Self.report([(10, 20)]), receivedNanos: 1400 * Self.ms) == 1)
        for seq in UInt64(11)..<20 {
            #expect(l.report(viewer: 2, bytes: Self.report([(seq, 0)]), receivedNanos: (1000 + seq * 33 + 40) * Self.ms) == 1)
        }
        let s = l.status(now: 2000 * Self.ms)
        #expect(s.captureToDrawnMs == LatencySummary(p50: 40, p99: 50, n: 10))
        #expect(s.captureToSentMs.p50 == 5)
        #expect(s.perViewer.count == 2 && s.perViewer[0].who == "console" && s.perViewer[0].summary.p50 == 50)
        l.removeViewer(1)
        #expect(l.status(now: 2000 * Self.ms).perViewer.count == 1)
        // Samples older than the window's seconds no longer count; p50/p99 are then null on the wire.
        let old = l.status(now: 20_000 * Self.ms)
        #expect(old.captureToDrawnMs.n == 0)
        #expect(JSONWire.string(old.captureToDrawnMs) == #"{"n":0,"p50":null,"p99":null}"#)
    }

    @Test("a frame's stages split the latency: sent, received, decoded, drawn; out-of-order stages are left out")
    func stages() throws {
        let l = ViewerLatency(window: 100, ringSize: 64)
        l.addViewer(1, label: "tablet")
        for seq in UInt64(0)..<8 { l.sent(seq: seq, ptsNanos: (1000 + seq * 33) * Self.ms, sentNanos: (1010 + seq * 33) * Self.ms) }
        // Frame 2: captured 1066, sent 1076; the report comes at 1200: painted 34 ms ago (drawn 100), decoded 54 ms
        // ago (80), received 84 ms ago (50).
        let good = #"{"type":"drawn","frames":[{"seq":2,"ago_ms":34,"received_ago_ms":84,"decoded_ago_ms":54}]}"#
        #expect(l.report(viewer: 1, bytes: Array(good.utf8), receivedNanos: 1200 * Self.ms) == 1)
        // Decoded before it arrived; received before Bedside sent it: drawn counts, the stages do not.
        for bad in [
            #"{"type":"drawn","frames":[{"seq":3,"ago_ms":10,"received_ago_ms":20,"decoded_ago_ms":30}]}"#,
            #"{"type":"drawn","frames":[{"seq":4,"ago_ms":10,"received_ago_ms":125,"decoded_ago_ms":20}]}"#,
            #"{"type":"drawn","frames":[{"seq":5,"ago_ms":10,"received_ago_ms":20}]}"#,
        ] {
            #expect(l.report(viewer: 1, bytes: Array(bad.utf8), receivedNanos: 1200 * Self.ms) == 1)
        }
        let s = l.status(now: 1300 * Self.ms)
        #expect(s.captureToDrawnMs.n == 4)
        #expect(s.captureToSentMs.p50 == 10)
        // Over frame 2 alone: Bedside 10, network 40 (sent 76 -> received 116), decode 30, paint 20.
        #expect(
            s.stagesMs
                == LatencyStages(
                    bedside: .init(p50: 10, p99: 10, n: 1), network: .init(p50: 40, p99: 40, n: 1),
                    decode: .init(p50: 30, p99: 30, n: 1), paint: .init(p50: 20, p99: 20, n: 1)))
    }

    @Test("malformed, unknown, oversized or implausible reports are ignored")
    func ignoresJunk() {
        let l = ViewerLatency(window: 10, ringSize: 8)
        l.addViewer(1, label: "console")
        l.sent(seq: 3, ptsNanos: 100 * Self.ms, sentNanos: 101 * Self.ms)
        for junk in [
            "", "x", "{", "[]", "{}", #"{"type":"drawn"}"#, #"{"type":"hello","frames":[]}"#,
            #"{"type":"drawn","frames":[{"seq":-3,"ago_ms":0}]}"#, #"{"type":"drawn","frames":[{"seq":"3","ago_ms":0}]}"#,
        ] {
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
        let overall = l.status(now: 300 * Self.ms).captureToDrawnMs
        #expect(overall.n == 1 && overall.p50 == 100)
        #expect(l.status.ignoredReports >= 12)
        #expect(ViewerLatency.percentile([], 50) == nil)
    }
}
