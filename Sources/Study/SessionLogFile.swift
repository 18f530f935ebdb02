import BedsideCore

#if canImport(Glibc)
import Glibc
#endif

/// An append-only JSON-lines file (`study.jsonl`): one `write(2)` per line on an `O_APPEND` descriptor, so a
/// line is never interleaved with another. The corresponding C calls are `open`, `write`, `close`.
final class SessionLogFile: @unchecked Sendable {
    let path: String
    private var fd: Int32

    init(path: String) throws(SystemError) {
        self.path = path
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.last("open(\(path))", fix: "make the recording folder writable") }
    }

    /// Appends `line` and a newline. Callers serialise (StudyController holds its lock).
    func append(_ line: String) {
        guard fd >= 0 else { return }
        let bytes = Array(line.utf8) + [0x0A]
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
