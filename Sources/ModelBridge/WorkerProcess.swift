import BedsideCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A researcher's model running as `python -m bridge ...` in its own interpreter.
///
/// Owns the child process: `deinit` kills it, so no worker outlives its runner.
final class WorkerProcess: @unchecked Sendable {
    let process: Process
    let pid: Int32

    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    init(config: ModelConfig, endpoint: String, bridgePath: String?) throws {
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
        for (k, v) in config.env { env[k] = v }
        p.environment = env
        if let wd = config.workdir, FileManager.default.fileExists(atPath: wd) {
            p.currentDirectoryURL = URL(fileURLWithPath: wd)
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

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    func killNow() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
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
