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
public final class WorkerProcess: @unchecked Sendable {
    let child: ChildProcess
    let pid: Int32
    /// The last lines the research code wrote to stderr, for the page when it keeps failing.
    let stderrTail = LineTail()
    private let outputDone = StopFlag()

    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    /// - Parameter privateFolders: the worker's own socket folder and frame-ring folder: the only parts of
    ///   Bedside's runtime folder and of /dev/shm a sandboxed worker sees.
    init(
        config: ModelConfig, endpoint: String, runtimeDirectory: String, privateFolders: [String], bridgePath: String?,
        logger: Logger
    ) throws {
        var args = [
            "-u", "-m", "bridge", "--endpoint", endpoint, "--entry", config.entry, "--name", config.name,
            "--idle-timeout", "0",
        ]
        if let setup = config.setup { args += ["--setup", setup] }
        if let wd = config.workdir { args += ["--workdir", wd] }
        var executable: String
        if let command = config.command {
            // A launcher (conda run, a wrapper script): resolved on PATH unless it is a path.
            let first = command[0]
            if first.contains("/") {
                executable = first.hasPrefix("/") ? first : FileManager.default.currentDirectoryPath + "/" + first
                args = Array(command.dropFirst()) + args
            } else {
                executable = "/usr/bin/env"
                args = command + args
            }
        } else if config.python.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: config.python) else {
                throw LaunchError(
                    description:
                        "model \(config.name): interpreter \(config.python) does not exist or is not executable. Set `python:` to your venv's python (e.g. /path/to/venv/bin/python)."
                )
            }
            // Absolute: the child changes into the working directory before exec, where a relative path breaks.
            executable =
                config.python.hasPrefix("/")
                ? config.python : FileManager.default.currentDirectoryPath + "/" + config.python
        } else {
            executable = "/usr/bin/env"
            args = [config.python] + args
        }
        var env = ProcessInfo.processInfo.environment
        if let bridgePath {
            env["PYTHONPATH"] = [bridgePath, env["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        }
        env["PYTHONUNBUFFERED"] = "1"
        env["BEDSIDE_PROCESS_GROUP"] = config.sandbox ? "0" : "1"
        // Offline by default: the bridge's audit hook fails network attempts at once under deny, and the model's
        // download caches point into its own folder (filled once by `bedside prepare`).
        env["BEDSIDE_NETWORK"] = config.network
        if let cache = config.cacheDirectory {
            try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            env["BEDSIDE_MODEL_CACHE"] = cache
        }
        if let log = config.networkLog { env["BEDSIDE_NETWORK_LOG"] = log }
        if let file = config.configFile { env["BEDSIDE_CONFIG"] = file }
        if let output = config.output { env[ModelOutput.environmentKey] = JSONWire.string(output) }
        // Leave capture, recording and the page a core: torch would otherwise start a thread per core.
        let threads = ModelThreads.environment(
            configured: config.threads, cores: ProcessInfo.processInfo.activeProcessorCount, replicas: config.replicas,
            inherited: env, modelEnv: config.env)
        for (k, v) in threads.variables { env[k] = v }
        for (k, v) in config.env { env[k] = v }
        if config.sandbox {
            // No network; a read-only filesystem except the working directory and private temporary folders; none
            // of the machine's sockets. /tmp and /run (the X server, D-Bus, ssh-agent, $XDG_RUNTIME_DIR, every
            // Bedside runtime folder) and /dev/shm are empty private tmpfs mounts: a Unix socket on a read-only
            // mount still accepts connections. Shown again, read-only: the worker's own socket and frame-ring
            // folders, and what it needs that lives there (its interpreter's environment, the bridge, the entry's
            // folder); read-write: its working folder, its model cache, its TMPDIR. bwrap's own PID namespace takes
            // every child with it.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") else {
                throw LaunchError(
                    description: "model \(config.name): `sandbox: true` needs bubblewrap: apt-get install bubblewrap")
            }
            let tmp = "\(runtimeDirectory)/tmp-\(config.name)-\(UInt32.random(in: 0...UInt32.max))"
            try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            env["TMPDIR"] = tmp
            // Bedside's runtime base (every Bedside's runtime folder) is hidden too when it lives elsewhere.
            var hidden = ["/tmp", "/run", "/var/tmp"]
            let base = (runtimeDirectory as NSString).deletingLastPathComponent
            func underHidden(_ path: String) -> Bool { hidden.contains { path == $0 || path.hasPrefix($0 + "/") } }
            if !underHidden(base) { hidden.append(base) }
            var bw = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
            for h in hidden where FileManager.default.fileExists(atPath: h) { bw += ["--tmpfs", h] }
            var shown: Set<String> = []
            func show(_ path: String?, writable: Bool = false, always: Bool = false) {
                guard let path, path.hasPrefix("/"), !shown.contains(path), writable || always || underHidden(path),
                    FileManager.default.fileExists(atPath: path)
                else { return }
                shown.insert(path)
                bw += [writable ? "--bind" : "--ro-bind", path, path]
            }
            // What the worker needs from under /tmp or /run (a venv, a checkout or a test's folder can live there).
            let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
            show(((executable as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent)  // venv/bin/python
            show((exe as NSString).deletingLastPathComponent)
            for p in (env["PYTHONPATH"] ?? "").split(separator: ":") { show(String(p)) }
            for spec in [config.entry, config.setup].compactMap({ $0 }) {
                let file = String(spec[..<(spec.lastIndex(of: ":") ?? spec.endIndex)])
                if file.hasSuffix(".py") { show((file as NSString).deletingLastPathComponent) }
            }
            if let file = config.configFile { show((file as NSString).deletingLastPathComponent) }
            for folder in privateFolders { show(folder, always: true) }  // read-only: the worker only connects and maps
            show(tmp, writable: true)
            show(env["BEDSIDE_MODEL_CACHE"], writable: true)
            if let log = env["BEDSIDE_NETWORK_LOG"] { show((log as NSString).deletingLastPathComponent, writable: true) }
            bw += ["--unshare-net", "--unshare-pid", "--die-with-parent"]
            if let wd = config.workdir { bw += ["--bind", wd, wd, "--chdir", wd] }
            args = bw + ["--", executable] + args
            executable = "/usr/bin/bwrap"
        }
        let directory = config.workdir.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        // The research code's output goes to Bedside's log, tagged with the model, line by line.
        let out = try ChildPipe()
        let err: ChildPipe
        do { err = try ChildPipe() } catch {
            close(out.read)
            close(out.write)
            throw error
        }
        do {
            child = try ChildProcess(
                executable: executable, arguments: args, environment: env, directory: directory,
                stdout: out.write, stderr: err.write)
        } catch {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            throw LaunchError(description: "model \(config.name): \(error)")
        }
        close(out.write)
        close(err.write)
        pid = child.pid
        let reader = OutputReader(
            fds: [(out.read, "stdout"), (err.read, "stderr")], name: config.name, tail: stderrTail, logger: logger,
            done: outputDone)
        let t = Thread {
            ThreadName.set("model-output")
            reader.run()
        }
        t.name = "bedside-output-\(config.name)"
        t.start()
    }

    /// The file in every Bedside runtime folder that names the Bedside process it belongs to.
    public static let runtimeMarker = "bedside.pid"

    /// Exit status once the process has ended (signals as 128+N), nil while it runs.
    var exitStatus: Int32? { child.exitStatus }

    /// Signals the worker's process group (the research code's own children too), or the worker alone.
    func signal(_ sig: Int32) { child.signal(sig) }

    /// SIGTERM, then SIGKILL after `grace` seconds; the group's leftovers get SIGKILL either way.
    func stop(grace: Double) {
        if child.isRunning {
            child.signal(SIGTERM)
            child.wait(timeout: grace)
        }
        killNow()
    }

    private let killed = Mutex(false)

    /// SIGKILL to the group, once, and waits for the exit. The output pipes are left to reach end-of-file, so the
    /// last lines still reach the log; the reader gives up 2 s later (a grandchild in another group may hold them).
    func killNow() {
        let first = killed.withLock { k in
            defer { k = true }
            return !k
        }
        if first {
            // The group first (forked children), even when the leader has exited already.
            kill(-pid, SIGKILL)
            child.signal(SIGKILL, group: false)
            child.wait(timeout: 10)
            outputDone.set()
        }
    }

    deinit { killNow() }

    /// This process's executable, wherever it was started from (a bare name found on PATH too): /proc/self/exe.
    public static func executableURL() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }

    /// Finds the bridge package: `$BEDSIDE_BRIDGE_PATH`, beside the binary's checkout, or the installed share folder.
    public static func locateBridge() -> String? {
        let fm = FileManager.default
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["BEDSIDE_BRIDGE_PATH"] { candidates.append(env) }
        let exe = WorkerProcess.executableURL()
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

/// Reads a worker's stdout and stderr on one thread and logs them line by line, until both reach end-of-file,
/// or 2 s after `done` is set (a detached grandchild may keep a pipe open forever).
final class OutputReader: @unchecked Sendable {
    private let fds: [(Int32, String)]
    private let name: String
    private let tail: LineTail
    private let logger: Logger
    private let done: StopFlag

    init(fds: [(Int32, String)], name: String, tail: LineTail, logger: Logger, done: StopFlag) {
        self.fds = fds
        self.name = name
        self.tail = tail
        self.logger = logger
        self.done = done
    }

    func run() {
        var open = fds.map { $0.0 }
        var partial = Array(repeating: [UInt8](), count: fds.count)
        var doneSince: Date?
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while open.contains(where: { $0 >= 0 }) {
            if done.isSet {
                if doneSince == nil { doneSince = Date() }
                if Date().timeIntervalSince(doneSince!) > 2 { break }
            }
            var pfds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&pfds, nfds_t(pfds.count), 200)
            if n < 0 && errno != EINTR { break }
            guard n > 0 else { continue }
            for i in pfds.indices where open[i] >= 0 && pfds[i].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(open[i], $0.baseAddress, $0.count) }
                if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if got <= 0 {
                    close(open[i])
                    open[i] = -1
                    if !partial[i].isEmpty { emit([String(decoding: partial[i].prefix(2000), as: UTF8.self)], i) }
                    continue
                }
                partial[i].append(contentsOf: chunk[0..<got])
                if partial[i].count > 1 << 16 { partial[i].append(10) }  // an endless line is cut, never buffered forever
                var lines: [String] = []
                while let nl = partial[i].firstIndex(of: 10) {
                    lines.append(String(decoding: partial[i][..<nl].prefix(2000), as: UTF8.self))
                    partial[i].removeSubrange(...nl)
                }
                emit(lines, i)
            }
        }
        for fd in open where fd >= 0 { close(fd) }
    }

    private func emit(_ lines: [String], _ i: Int) {
        let stream = fds[i].1
        for line in lines {
            logger.info("[\(name) \(stream)] \(line)")
            if stream == "stderr" { tail.append(line) }
        }
    }
}
