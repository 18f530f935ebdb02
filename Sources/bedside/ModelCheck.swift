import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge

/// Starts one model, feeds it a phantom frame until it answers (or fails), and explains the outcome.
struct ModelCheck {
    let model: ModelConfig
    let width: Int
    let height: Int

    func run() async throws -> Bool {
        let runtime = try BedsideApp.runtimeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        var logger = Logger(label: "check")
        logger.logLevel = .critical
        let runner = ModelRunner(config: model, runtimeDirectory: runtime, logger: logger) { _ in }
        let task = Task { try await runner.run() }
        defer { runner.requestStop() }
        let renderer = PhantomRenderer(width: width & ~1, height: height & ~1)
        let (pixels, truth) = renderer.render(time: 5, index: 0)
        let deadline = Date().addingTimeInterval(model.startupTimeoutSeconds + model.timeoutSeconds + 5)
        var seq: UInt64 = 0
        var outcome: String?
        while Date() < deadline {
            let s = runner.status
            if runner.lastPrediction != nil || s.errors > 0 { break }
            if s.restarts > 0 || ["restarting", "failing"].contains(s.state) {
                outcome = s.lastError
                break
            }
            runner.offer(
                Frame(
                    seq: seq, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: renderer.width,
                    height: renderer.height, format: .gray8, pixels: pixels, truth: truth))
            seq += 1
            try await Task.sleep(for: .milliseconds(100))
        }
        runner.requestStop()
        _ = try? await task.value
        let s = runner.status
        if let p = runner.lastPrediction {
            print("  ✓ loaded in \(fmt(s.setupMs)) ms (import + setup), predict took \(fmt(p.modelMs)) ms, round trip \(fmt(p.roundTripMs)) ms")
            print("  returned: \(summary(p.resultJSON))")
            if let i = s.info {
                var parts: [String] = []
                if let v = i.version { parts.append("version \(v)") }
                if let c = i.classes { parts.append("\(c.count) segmentation classes") }
                if let c = i.concepts { parts.append("\(c.count) concepts") }
                if let c = i.planes { parts.append("\(c.count) planes") }
                if !parts.isEmpty { print("  declares: \(parts.joined(separator: ", "))") }
            }
            return true
        }
        if s.errors > 0, let e = s.lastError {
            print("  ✗ the model started (\(fmt(s.setupMs)) ms) but its answer was an error: \(e)")
            print("    \(e.contains("(researcher)") ? "The exception came from your code; its traceback is in Bedside's log when it runs." : "Return a dict like the one in docs/protocol.md (Result object).")")
            return false
        }
        print("  ✗ \(outcome ?? s.lastError ?? "no answer within \(Int(model.startupTimeoutSeconds + model.timeoutSeconds)) s")")
        for line in s.stderrTail.suffix(8) { print("    | \(line)") }
        return false
    }

    func fmt(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "?" }

    /// One line a researcher can read: the keys, the plane, how many concepts, the label map size.
    func summary(_ json: String) -> String {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return json }
        var parts: [String] = []
        if let plane = obj["plane"] as? [String: Any] {
            parts.append("plane \(plane["name"] ?? "?") (\(plane["status"] ?? "?"))")
        }
        if let c = obj["concepts"] as? [Any] { parts.append("\(c.count) concepts") }
        if let seg = obj["segmentation"] as? [String: Any] {
            parts.append("segmentation \(seg["width"] ?? "?")x\(seg["height"] ?? "?") with \((seg["classes"] as? [Any])?.count ?? 0) classes")
        }
        if let g = obj["guidance"] as? [String: Any], let t = g["text"] { parts.append("guidance \"\(t)\"") }
        parts.append("keys: \(obj.keys.sorted().joined(separator: ", "))")
        return parts.joined(separator: "; ")
    }
}
