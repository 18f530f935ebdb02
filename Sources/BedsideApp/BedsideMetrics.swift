import BedsideCore
import Capture
import Foundation
import Metrics
import ModelBridge
import Prometheus
import Recording
import Synchronization

/// `/metrics` in Prometheus text format, through swift-metrics: frames, drops, predictions, errors, restarts,
/// viewers, and the latency of each stage of a frame's way as histograms.
public final class BedsideMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Totals already counted, for counters fed from running totals.
    private let counted = Mutex<[String: UInt64]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// One model answer: its stages, from capture to the answer's arrival.
    func prediction(_ p: Prediction) {
        let dims = [("model", p.model)]
        // ms -> ns, clamped to a day: a worker may report any number, and Int64(_:) traps on overflow.
        func ns(_ v: Double) -> Int64 { v.isFinite ? Int64(min(max(0, v), 86_400_000) * 1e6) : 0 }
        Metrics.Timer(label: "bedside_model_round_trip_seconds", dimensions: dims).recordNanoseconds(ns(p.roundTripMs))
        Metrics.Timer(label: "bedside_model_time_seconds", dimensions: dims).recordNanoseconds(ns(p.modelMs))
        Metrics.Timer(label: "bedside_bridge_overhead_seconds", dimensions: dims).recordNanoseconds(ns(p.overheadMs))
        Metrics.Timer(label: "bedside_frame_age_at_dispatch_seconds", dimensions: dims).recordNanoseconds(
            Int64(bitPattern: p.dispatchedNanos &- p.ptsNanos))
        Metrics.Timer(label: "bedside_frame_age_at_result_seconds", dimensions: dims).recordNanoseconds(
            Int64(bitPattern: p.receivedNanos &- p.ptsNanos))
        if let w = p.worker {
            Metrics.Timer(label: "bedside_worker_queue_seconds", dimensions: dims).recordNanoseconds(
                Int64(bitPattern: w.startNanos &- w.receivedNanos))
        }
    }

    /// Running totals and current values, from the parts' own counters (called with each status).
    func update(capture: CaptureService, runners: [ModelRunner], recorder: Recording.Recorder?, viewers: Int) {
        let c = capture.snapshot
        advance("bedside_frames_captured_total", [], to: c.framesCaptured)
        Gauge(label: "bedside_capture_fps").record(c.fps)
        for r in runners {
            let s = r.status
            let dims = [("model", s.name)]
            advance("bedside_predictions_total", dims, to: s.predictions)
            advance("bedside_model_errors_total", dims, to: s.errors)
            advance("bedside_model_restarts_total", dims, to: UInt64(max(0, s.restarts)))
            advance("bedside_model_frames_skipped_total", dims, to: s.skippedFrames)
            advance("bedside_model_late_results_total", dims, to: s.lateResults)
            Gauge(label: "bedside_model_running", dimensions: dims).record(s.state == .running ? 1 : 0)
            Gauge(label: "bedside_model_memory_bytes", dimensions: dims).record(Double(s.memoryMB ?? 0) * 1_048_576)
        }
        if let rec = recorder?.status {
            advance("bedside_recording_frames_dropped_total", [], to: rec.framesDropped)
            advance("bedside_recording_frames_skipped_for_disk_total", [], to: rec.framesSkippedForDisk)
            Gauge(label: "bedside_recording_active").record(rec.stateName == "recording" ? 1 : 0)
            Gauge(label: "bedside_recording_free_bytes").record(Double(rec.freeMB ?? 0) * 1_048_576)
        }
        Gauge(label: "bedside_viewers").record(Double(viewers))
    }

    /// Counters must only go up: each call adds what the total grew by since the last call.
    private func advance(_ label: String, _ dims: [(String, String)], to total: UInt64) {
        let key = label + dims.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = counted.withLock { seen -> UInt64 in
            let before = seen[key] ?? 0
            seen[key] = max(before, total)
            return total > before ? total - before : 0
        }
        let counter = Counter(label: label, dimensions: dims)
        if delta > 0 { counter.increment(by: Int64(delta)) } else { counter.increment(by: 0) }
    }

    func render() -> String { registry.emitToString() }
}
