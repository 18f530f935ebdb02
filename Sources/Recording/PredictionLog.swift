import BedsideCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `predictions.jsonl`: one JSON object per line, appended under a small lock with `write(2)` on an
/// `O_APPEND` descriptor (the C counterpart of the file). Lines logged before the file is open wait in memory.
public final class PredictionLog: Sendable {
    private struct State {
        var fd: Int32 = -1
        var pending: [String] = []
        var closed = false
        var lines: UInt64 = 0
        var failed = false
    }

    /// Lines kept while the file is not open yet; beyond this they are counted and forgotten.
    static let pendingLimit = 1000
    private let state = Mutex(State())

    init() {}

    deinit {
        state.withLock { s in
            if s.fd >= 0 { _ = Glibc.close(s.fd) }
        }
    }

    /// Opens (creates or appends to) `path` and writes the lines that were waiting.
    func open(path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RecordingError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        state.withLock { s in
            if s.fd >= 0 { _ = Glibc.close(s.fd) }  // a re-open (the folder was made again) replaces the old file
            s.fd = fd
            s.closed = false
            let waiting = s.pending
            s.pending = []
            for line in waiting { Self.write(line, to: &s) }
        }
    }

    /// Appends one line (without its newline).
    func append(_ line: String) {
        state.withLock { s in
            if s.closed { return }
            if s.fd < 0 {
                if s.pending.count < Self.pendingLimit { s.pending.append(line) }
                return
            }
            Self.write(line, to: &s)
        }
    }

    /// Lines written to the file.
    var lineCount: UInt64 { state.withLock { $0.lines } }

    func close() {
        state.withLock { s in
            s.closed = true
            if s.fd >= 0 { _ = Glibc.close(s.fd) }
            s.fd = -1
        }
    }

    private static func write(_ line: String, to s: inout State) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        let n = bytes.withUnsafeBytes { Glibc.write(s.fd, $0.baseAddress, $0.count) }
        if n == bytes.count { s.lines += 1 } else { s.failed = true }
    }

    /// The JSON line for `p`; `pts_s` counts from the recording's first frame (`originNanos`), null before there is one.
    public static func line(for p: Prediction, originNanos: UInt64?) -> String {
        var out = "{\"model\":\(jsonString(p.model)),\"seq\":\(p.seq),\"pts_ns\":\(p.ptsNanos)"
        if let originNanos {
            let s = (Double(p.ptsNanos) - Double(originNanos)) / 1e9
            out += ",\"pts_s\":\(String(format: "%.6f", s))"
        } else {
            out += ",\"pts_s\":null"
        }
        out += ",\"dispatched_ns\":\(p.dispatchedNanos),\"received_ns\":\(p.receivedNanos)"
        out += ",\"model_ms\":\(number(p.modelMs)),\"round_trip_ms\":\(number(p.roundTripMs))"
        if let w = p.worker {
            // The worker's clock readings: as absolute times when they share Bedside's clock, else relative.
            if w.sameClock {
                out += ",\"worker_received_ns\":\(w.receivedNanos),\"predict_start_ns\":\(w.startNanos),\"predict_end_ns\":\(w.endNanos)"
            }
            out += ",\"worker_queue_ms\":\(number(Double(w.startNanos - w.receivedNanos) / 1e6))"
        }
        if let up = p.upstreamModel { out += ",\"upstream\":\(jsonString(up))" }
        if let t = p.truth {  // sources that know the answer (the phantom): for evaluating a model against it
            out += ",\"truth\":{\"plane\":\(jsonString(t.plane)),\"status\":\(jsonString(t.status))}"
        }
        if isJSON(p.resultJSON) {
            // Valid JSON has raw line breaks only as whitespace: flattening keeps the value and the one-line rule.
            let flat = p.resultJSON.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            out += ",\"result\":\(flat)"
        } else {
            out += ",\"result\":null,\"result_invalid\":\(jsonString(p.resultJSON))"
        }
        return out + "}"
    }

    private static func isJSON(_ text: String) -> Bool {
        guard !text.isEmpty else { return false }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
    }

    private static func number(_ v: Double) -> String {
        v.isFinite ? String(format: "%.3f", v) : "null"
    }

    /// `s` as a JSON string literal.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
