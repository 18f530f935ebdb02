import BedsideCore
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
            throw RecordingError("cannot create \(path)", .last("open(\(path))", fix: "Make the recording folder writable"))
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

    /// The JSON line for `p` (a `PredictionLine`); `pts_s` counts from the session's first frame (`originNanos`),
    /// null before there is one.
    public static func line(for p: Prediction, originNanos: UInt64?, silent: Bool = false) -> String {
        var line = PredictionLine(p, originNanos: originNanos)
        if silent { line.silent = true }
        return line.text
    }
}
