import Foundation
import Synchronization
import Testing

@testable import ModelBridge

#if canImport(Glibc)
import Glibc
#endif

/// The real `posix_spawn` layer: real children, real pipes, real signals.
@Suite("Child processes: every exit seen, nothing inherited, signals as the worker expects")
struct ChildProcessTests {
    /// Runs `/bin/sh -c script`, returns the child and its stdout as text once it ended.
    private func run(_ script: String, env: [String: String] = [:]) throws -> (ChildProcess, String) {
        let out = try ChildPipe()
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", script], environment: ["PATH": "/usr/bin:/bin"].merging(env) { $1 },
            directory: "/", stdout: out.write, stderr: out.write)
        close(out.write)
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(out.read, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        close(out.read)
        #expect(child.wait(timeout: 10))
        return (child, String(decoding: bytes, as: UTF8.self))
    }

    @Test("exit codes and deaths by signal are reported as the shell does (128+N)")
    func exitCodes() throws {
        #expect(try run("exit 3").0.exitStatus == 3)
        #expect(try run("kill -SEGV $$").0.exitStatus == 128 + SIGSEGV)
    }

    @Test("the child inherits no descriptor of ours beyond stdin/stdout/stderr, and starts in the given folder")
    func nothingInherited() throws {
        // A descriptor Bedside holds without close-on-exec, as a library might leave one.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        let (_, text) = try run("ls /proc/self/fd | sort -n | tr '\\n' ' '; pwd")
        // `ls` itself opens one descriptor (3) to read the folder.
        #expect(text == "0 1 2 3 /\n", "child saw descriptors: \(text)")
    }

    @Test("SIGTERM works in the child even though Bedside ignores it for its own shutdown handler")
    func signalDefaults() throws {
        let old = Glibc.signal(SIGTERM, SIG_IGN)
        defer { Glibc.signal(SIGTERM, old) }
        let out = try ChildPipe()
        let child = try ChildProcess(
            executable: "/bin/sleep", arguments: ["30"], environment: [:], directory: nil, stdout: out.write,
            stderr: out.write)
        close(out.write)
        close(out.read)
        child.signal(SIGTERM)
        #expect(child.wait(timeout: 5))
        #expect(child.exitStatus == 128 + SIGTERM)
    }

    @Test("the child leads its own process group: signalling it reaches its children too")
    func processGroup() throws {
        let out = try ChildPipe()
        // The shell starts a grandchild and waits; killing the group must end both.
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "sleep 30 & echo $!; wait"], environment: ["PATH": "/usr/bin:/bin"],
            directory: nil, stdout: out.write, stderr: out.write)
        close(out.write)
        #expect(getpgid(child.pid) == child.pid)
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(out.read, $0.baseAddress, $0.count) }
        close(out.read)
        let grandchild = pid_t(String(decoding: buf[0..<max(0, n)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(grandchild > 0)
        child.signal(SIGKILL)
        #expect(child.wait(timeout: 5))
        // The grandchild is reparented and reaped by init (or a subreaper); it must be gone or a zombie.
        var gone = false
        for _ in 0..<200 {
            let stat = (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8)) ?? ""
            if stat.isEmpty || stat.contains(") Z ") { gone = true; break }
            usleep(10_000)
        }
        #expect(gone, "the grandchild survived its group's SIGKILL")
    }

    @Test("many children started at once from many threads: every exit is seen")
    func concurrentStarts() throws {
        let exits = Mutex<[Int32?]>(Array(repeating: nil, count: 24))
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            guard let out = try? ChildPipe(),
                let child = try? ChildProcess(
                    executable: "/bin/sh", arguments: ["-c", "exit \(i % 7)"], environment: [:], directory: nil,
                    stdout: out.write, stderr: out.write)
            else { return }
            close(out.write)
            close(out.read)
            child.wait(timeout: 10)
            exits.withLock { $0[i] = child.exitStatus }
        }
        #expect(exits.withLock { $0 } == (0..<24).map { Int32($0 % 7) })
    }

    @Test("a missing executable is a clear error, not a child that exits 127")
    func missingExecutable() throws {
        let out = try ChildPipe()
        defer {
            close(out.read)
            close(out.write)
        }
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(
                executable: "/nonexistent/python", arguments: [], environment: [:], directory: nil, stdout: out.write,
                stderr: out.write)
        }
    }
}
