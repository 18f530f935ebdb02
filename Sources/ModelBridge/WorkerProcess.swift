import BedsideCore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A researcher's model running as `python -m bridge ...` in its own interpreter.
///
/// Owns the child process: `deinit` kills it, so no worker outlives its runner.
final class WorkerProcess: @unchecked Sendable {
    let process: Process
    let pid: Int32
    /// The last lines the research code wrote to stderr, for the page when it keeps failing.
    let stderrTail = LineTail()
    private let pipes: [Pipe]

    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    init(config: ModelConfig, endpoint: String, runtimeDirectory: String, bridgePath: String?, logger: Logger) throws {
        let p = Process()
        var args = [
            "-u", "-m", "bridge", "--endpoint", endpoint, "--entry", config.entry, "--name", config.name,
            "--idle-timeout", "0",
        ]
        if let setup = config.setup { args += ["--setup", setup] }
        if let wd = config.workdir { args += ["--workdir", wd] }
        if config.python.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: config.python) else {
                throw LaunchError(
                    description:
                        "model \(config.name): interpreter \(config.python) does not exist or is not executable. Set `python:` to your venv's python (e.g. /path/to/venv/bin/python).")
            }
            p.executableURL = URL(fileURLWithPath: config.python)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [config.python] + args
        }
        var env = ProcessInfo.processInfo.environment
        if let bridgePath {
            env["PYTHONPATH"] = [bridgePath, env["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        }
        env["PYTHONUNBUFFERED"] = "1"
        env["BEDSIDE_PROCESS_GROUP"] = config.sandbox ? "0" : "1"
        if config.sandbox {
            // No network, a read-only filesystem except the working directory and a private /tmp; the socket
            // folder and /dev/shm (frames) are shared. bwrap's own PID namespace takes every child with it.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") else {
                throw LaunchError(
                    description: "model \(config.name): `sandbox: true` needs bubblewrap: apt-get install bubblewrap")
            }
            // A private, writable temp folder inside Bedside's runtime folder (TMPDIR); /tmp itself stays visible
            // read-only, since the researcher's venv may live there.
            let tmp = "\(runtimeDirectory)/tmp-\(config.name)-\(UInt32.random(in: 0...UInt32.max))"
            try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            env["TMPDIR"] = tmp
            var bw = [
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--bind", "/dev/shm", "/dev/shm", "--bind", runtimeDirectory, runtimeDirectory,
                "--unshare-net", "--unshare-pid", "--die-with-parent",
            ]
            if let wd = config.workdir { bw += ["--bind", wd, wd, "--chdir", wd] }
            let inner = [p.executableURL!.path] + (p.arguments ?? [])
            p.executableURL = URL(fileURLWithPath: "/usr/bin/bwrap")
            p.arguments = bw + ["--"] + inner
        }
        for (k, v) in config.env { env[k] = v }
        p.environment = env
        if let wd = config.workdir, FileManager.default.fileExists(atPath: wd) {
            p.currentDirectoryURL = URL(fileURLWithPath: wd)
        }
        // The research code's output goes to Bedside's log, tagged with the model, line by line.
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        pipes = [out, err]
        let name = config.name
        let tail = stderrTail
        for (pipe, stream) in [(out, "stdout"), (err, "stderr")] {
            let partial = ByteBuffer()
            pipe.fileHandleForReading.readabilityHandler = { h in
                let data = h.availableData
                if data.isEmpty {
                    h.readabilityHandler = nil
                    return
                }
                let lines: [String] = partial.bytes.withLock { buf in
                    buf.append(contentsOf: data)
                    if buf.count > 1 << 16 { buf.append(10) }  // an endless line is cut, never buffered forever
                    var out: [String] = []
                    while let nl = buf.firstIndex(of: 10) {
                        out.append(String(decoding: buf[..<nl].prefix(2000), as: UTF8.self))
                        buf.removeSubrange(...nl)
                    }
                    return out
                }
                for line in lines {
                    logger.info("[\(name) \(stream)] \(line)")
                    if stream == "stderr" {
                        tail.append(line)
                    }
                }
            }
        }
        do {
            try p.run()
        } catch {
            throw LaunchError(description: "model \(config.name): cannot start \(config.python): \(error)")
        }
        process = p
        pid = p.processIdentifier
    }

    /// Exit status once the process has ended (signals as 128+N), nil while it runs.
    var exitStatus: Int32? {
        process.isRunning ? nil : (process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus)
    }

    /// Signals the worker's process group (the research code's own children too), or the worker alone.
    func signal(_ sig: Int32) {
        if kill(-pid, sig) != 0 { kill(pid, sig) }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; the group's leftovers get SIGKILL either way.
    func stop(grace: Double) {
        if process.isRunning {
            signal(SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning && Date() < deadline { usleep(10_000) }
        }
        killNow()
    }

    private let killed = Mutex(false)

    /// SIGKILL to the group, once: after the process is reaped its PID may belong to someone else.
    /// The output pipes are left to reach end-of-file, so the last lines still reach the log.
    func killNow() {
        let first = killed.withLock { k in
            defer { k = true }
            return !k
        }
        if first { signal(SIGKILL) }
        if process.isRunning { process.waitUntilExit() }
    }

    deinit { killNow() }

    /// Finds the bridge package: `$BEDSIDE_BRIDGE_PATH`, beside the binary's checkout, or the installed share folder.
    static func locateBridge() -> String? {
        let fm = FileManager.default
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["BEDSIDE_BRIDGE_PATH"] { candidates.append(env) }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("bridge").path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(fm.currentDirectoryPath + "/bridge")
        candidates.append("/usr/local/share/bedside/bridge")
        candidates.append("/usr/share/bedside/bridge")
        return candidates.first { fm.fileExists(atPath: $0 + "/bridge/__init__.py") }
    }
}

/// The last lines of a stream, bounded.
final class LineTail: Sendable {
    private let lines = Mutex<[String]>([])
    let limit: Int
    init(limit: Int = 20) { self.limit = limit }
    func append(_ line: String) {
        lines.withLock {
            $0.append(line)
            if $0.count > limit { $0.removeFirst($0.count - limit) }
        }
    }
    var all: [String] { lines.withLock { $0 } }
}

/// Bytes of a partial line, between reads.
final class ByteBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
}
