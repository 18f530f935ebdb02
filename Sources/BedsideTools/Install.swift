import BedsideCore
import Foundation
import ModelBridge

#if canImport(Glibc)
import Glibc
#endif

/// `bedside install` / `uninstall` / `bundle` could not go on: what is wrong and the fix.
public struct InstallError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

struct InstallManifest: Codable {
    var prefix: String
    var unit: String
    var user: String
    var userCreated: Bool
    var stateDirectory: String
    var recordings: String
    var site: String
    var config: String
    var installedAt: String
    var bedsideVersion: String
}

/// Small helpers for running system tools with clear errors.
enum System {
    @discardableResult
    static func run(_ args: [String], env: [String: String]? = nil, quiet: Bool = false) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0].hasPrefix("/") ? args[0] : "/usr/bin/env")
        p.arguments = args[0].hasPrefix("/") ? Array(args.dropFirst()) : args
        if let env { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let out = String(decoding: data, as: UTF8.self)
        if !quiet && p.terminationStatus != 0 { FileHandle.standardError.write(data) }
        return (p.terminationStatus, out)
    }

    static func must(_ args: [String], env: [String: String]? = nil, _ what: String) throws -> String {
        let (status, out) = try run(args, env: env)
        guard status == 0 else { throw InstallError("\(what) failed (`\(args.joined(separator: " "))` exited \(status))") }
        return out
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        for dir in ["/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)") { return "\(dir)/\(tool)" }
        return nil
    }

    /// systemd runs the machine (PID 1), so units can be enabled and started now.
    static var systemdRunning: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }

    /// The binary, its page files and the Swift runtime libraries it loads from the toolchain (none when it was
    /// linked with --static-swift-stdlib), copied into `prefix`.
    static func copyProgram(to prefix: String) throws -> [String] {
        let fm = FileManager.default
        let exe = WorkerProcess.executableURL()
        let dir = exe.deletingLastPathComponent().path
        try fm.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try? fm.removeItem(atPath: prefix + "/bin/bedside")
        try fm.copyItem(atPath: exe.path, toPath: prefix + "/bin/bedside")
        var copied = ["bin/bedside"]
        let items = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        for r in items where r.hasSuffix(".resources") {
            try? fm.removeItem(atPath: prefix + "/bin/" + r)
            try fm.copyItem(atPath: dir + "/" + r, toPath: prefix + "/bin/" + r)
            copied.append("bin/" + r)
        }
        let ldd = try run(["ldd", exe.path], quiet: true).output
        let libs = ldd.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            // From the toolchain, or from a bundle's lib/ beside bin/ (a box without the toolchain).
            let bundled = URL(fileURLWithPath: dir).deletingLastPathComponent().path + "/lib/"
            guard parts.count >= 3, parts[1] == "=>", parts[2].contains("/swift/") || parts[2].hasPrefix(bundled) else { return nil }
            return String(parts[2])
        }
        if !libs.isEmpty {
            try fm.createDirectory(atPath: prefix + "/lib", withIntermediateDirectories: true)
            for lib in libs {
                let name = (lib as NSString).lastPathComponent
                try? fm.removeItem(atPath: prefix + "/lib/" + name)
                try fm.copyItem(atPath: lib, toPath: prefix + "/lib/" + name)
            }
            copied.append("lib")
        }
        guard let bridge = WorkerProcess.locateBridge() else {
            throw InstallError("cannot find the bridge package to install: set BEDSIDE_BRIDGE_PATH to <bedside>/bridge")
        }
        try? fm.removeItem(atPath: prefix + "/bridge")
        try fm.createDirectory(atPath: prefix + "/bridge", withIntermediateDirectories: true)
        try fm.copyItem(atPath: bridge + "/bridge", toPath: prefix + "/bridge/bridge")
        try? fm.copyItem(atPath: bridge + "/pyproject.toml", toPath: prefix + "/bridge/pyproject.toml")
        copied.append("bridge")
        return copied
    }

    /// Copies a folder, leaving out virtual environments, caches and recordings.
    static func copyTree(_ from: String, to: String, skipping skip: Set<String> = [".venv", "venv", "__pycache__", ".git", "recordings", ".pytest_cache"])
        throws
    {
        let fm = FileManager.default
        try fm.createDirectory(atPath: to, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: from) where !skip.contains(name) && !name.hasSuffix(".pyc") {
            var isDir: ObjCBool = false
            let src = from + "/" + name, dst = to + "/" + name
            guard fm.fileExists(atPath: src, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                try copyTree(src, to: dst, skipping: skip)
            } else {
                try? fm.removeItem(atPath: dst)
                try fm.copyItem(atPath: src, toPath: dst)
            }
        }
    }
}

public struct Installer: Sendable {
    public var config: String
    public var prefix: String
    public var user: String
    public var unitDir: String
    public var stateDir: String
    public var wheels: String?
    public var python: String?
    public var modelCache: String?
    public var recordings: String?
    public var noStart: Bool

    public init(
        config: String, prefix: String = "/opt/bedside", user: String = "bedside", unitDir: String = "/etc/systemd/system",
        stateDir: String = "/var/lib/bedside", wheels: String? = nil, python: String? = nil, modelCache: String? = nil, recordings: String? = nil,
        noStart: Bool = false
    ) {
        self.config = config
        self.prefix = prefix
        self.user = user
        self.unitDir = unitDir
        self.stateDir = stateDir
        self.wheels = wheels
        self.python = python
        self.modelCache = modelCache
        self.recordings = recordings
        self.noStart = noStart
    }

    public func install() throws {
        guard getuid() == 0 else { throw InstallError("bedside install needs root (it creates a user and a systemd unit): run it with sudo") }
        let fm = FileManager.default
        let configPath = URL(fileURLWithPath: config).standardizedFileURL.path
        do { _ = try ConfigLoader.load(path: configPath) } catch let e as ConfigError { throw InstallError(e.description) }
        let prefix = URL(fileURLWithPath: self.prefix).standardizedFileURL.path
        let stateDir = URL(fileURLWithPath: self.stateDir).standardizedFileURL.path
        print("Installing Bedside \(BedsideVersion.string) into \(prefix)")

        // 1. The program: binary, page files, Swift runtime (when not static), the bridge.
        _ = try System.copyProgram(to: prefix)
        print("  program: \(prefix)/bin/bedside")

        // 2. The research repo: the config's folder, as it is (the running copy cannot be edited by mistake).
        let siteSource = (configPath as NSString).deletingLastPathComponent
        let site = prefix + "/site"
        try? fm.removeItem(atPath: site)
        try System.copyTree(siteSource, to: site)
        let siteConfig = site + "/" + (configPath as NSString).lastPathComponent
        print("  research code and config: \(site) (from \(siteSource))")

        // 3. The user, in the video group (capture devices), without a login.
        var userCreated = false
        if try System.run(["id", "-u", user], quiet: true).status != 0 {
            guard let useradd = System.which("useradd") else { throw InstallError("useradd is missing: apt-get install passwd") }
            _ = try System.must(
                [useradd, "--system", "--no-create-home", "--home-dir", stateDir, "--shell", "/usr/sbin/nologin", "--user-group", "--groups", "video", user],
                "creating the user \(user)")
            userCreated = true
            print("  user: \(user) (system user, groups: \(user), video)")
        } else {
            _ = try? System.run(["usermod", "-a", "-G", "video", user], quiet: true)
            print("  user: \(user) (exists; added to video)")
        }

        // 4. The Python environment: a venv with the research code's requirements and the bridge.
        let pythonPath: String
        if let python {
            pythonPath = python
        } else {
            let venv = prefix + "/venv"
            try? fm.removeItem(atPath: venv)
            // The system's Python, not whatever python3 is first on root's PATH (a venv the service user cannot read).
            let base = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
            // uv when the box has it (faster, same result), venv + pip otherwise.
            let uv = System.which("uv")
            if let uv {
                _ = try System.must([uv, "venv", "--quiet", "--python", base, venv], "making the Python environment with uv")
            } else {
                _ = try System.must([base, "-m", "venv", venv], "making the Python environment (apt-get install python3-venv)")
            }
            var pip =
                uv.map { [$0, "pip", "install", "--quiet", "--python", venv + "/bin/python"] }
                ?? [venv + "/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
            var env: [String: String] = [:]
            if let wheels {
                pip += ["--no-index", "--find-links", URL(fileURLWithPath: wheels).standardizedFileURL.path]
                env["PIP_NO_INDEX"] = "1"
            }
            var what = [prefix + "/bridge"]
            // The research repo's own description of its environment: requirements.txt, else its pyproject.toml.
            if fm.fileExists(atPath: site + "/requirements.txt") {
                what += ["-r", site + "/requirements.txt"]
            } else if fm.fileExists(atPath: site + "/pyproject.toml") {
                what += [site]
            }
            if wheels != nil, let bridgeWheel = try? fm.contentsOfDirectory(atPath: wheels!).first(where: { $0.hasPrefix("bedside_bridge-") }) {
                what[0] = URL(fileURLWithPath: wheels!).standardizedFileURL.path + "/" + bridgeWheel
            }
            _ = try System.must(pip + what, env: env, "installing the model's packages\(wheels == nil ? "" : " from \(wheels!)")")
            pythonPath = venv + "/bin/python"
            print(
                "  Python environment: \(venv) (\(fm.fileExists(atPath: site + "/requirements.txt") ? "requirements.txt and " : "")the bridge\(wheels == nil ? "" : ", offline from \(wheels!)"))"
            )
        }

        // 5. Folders the service writes: its state, the recordings.
        // Recordings go to the state folder unless told otherwise: never inside the program's folder, which an
        // uninstall or a new install replaces.
        let recordings = self.recordings.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? stateDir + "/recordings"
        for dir in [stateDir, recordings] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try System.must(["chown", "-R", "\(user):\(user)", dir], "giving \(dir) to \(user)")
        }
        try fm.setAttributes([.posixPermissions: 0o750], ofItemAtPath: stateDir)
        if let modelCache {
            try System.copyTree(modelCache, to: stateDir + "/model-cache", skipping: [])
            _ = try System.must(["chown", "-R", "\(user):\(user)", stateDir + "/model-cache"], "giving the model caches to \(user)")
            print("  model caches: \(stateDir)/model-cache (from \(modelCache))")
        }

        // 6. The unit.
        let unit = unitDir + "/bedside.service"
        let lib = fm.fileExists(atPath: prefix + "/lib") ? "Environment=LD_LIBRARY_PATH=\(prefix)/lib\n" : ""
        let stateName = (stateDir as NSString).lastPathComponent
        let text = """
            # Written by `bedside install` \(BedsideVersion.string). Remove with `bedside uninstall`.
            [Unit]
            Description=Bedside: a research model's live explanation at the scanner
            Documentation=file://\(prefix)/site
            After=network-online.target
            Wants=network-online.target
            # Restart on failure, but not in a tight loop: at most 10 starts in 5 minutes.
            StartLimitIntervalSec=300
            StartLimitBurst=10

            [Service]
            Type=simple
            User=\(user)
            Group=\(user)
            SupplementaryGroups=video
            WorkingDirectory=\(site)
            ExecStart=\(prefix)/bin/bedside run --config \(siteConfig) --python \(pythonPath) --recordings \(recordings)
            Environment=BEDSIDE_STATE_DIR=\(stateDir)
            \(lib)Restart=on-failure
            RestartSec=3
            TimeoutStopSec=30
            KillMode=mixed
            \(stateDir == "/var/lib/" + stateName ? "StateDirectory=\(stateName)\nStateDirectoryMode=0750\n" : "")NoNewPrivileges=yes
            PrivateTmp=yes
            ProtectSystem=full
            ProtectHome=read-only
            ReadWritePaths=\(stateDir) \(recordings)
            StandardOutput=journal
            StandardError=journal

            [Install]
            WantedBy=multi-user.target

            """
        try fm.createDirectory(atPath: unitDir, withIntermediateDirectories: true)
        try text.write(toFile: unit, atomically: true, encoding: .utf8)
        print("  unit: \(unit)")

        let manifest = InstallManifest(
            prefix: prefix, unit: unit, user: user, userCreated: userCreated, stateDirectory: stateDir,
            recordings: recordings, site: site, config: siteConfig, installedAt: Date().formatted(.iso8601),
            bedsideVersion: BedsideVersion.string)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try enc.encode(manifest).write(to: URL(fileURLWithPath: prefix + "/install.json"))

        if let verify = System.which("systemd-analyze") {
            let (status, out) = try System.run([verify, "verify", unit], quiet: true)
            print(status == 0 ? "  systemd-analyze verify: ok" : "  systemd-analyze verify said:\n\(out)")
        }
        if noStart {
            print("Not started (--no-start). Start it with: systemctl enable --now bedside")
        } else if System.systemdRunning {
            _ = try System.must(["systemctl", "daemon-reload"], "systemctl daemon-reload")
            _ = try System.must(["systemctl", "enable", "--now", "bedside.service"], "starting the service")
            print("Started: systemctl status bedside; logs: journalctl -u bedside -f")
        } else {
            print("systemd is not running on this machine (a container?): start it by hand as \(user):")
            print(
                "  runuser -u \(user) -- env BEDSIDE_STATE_DIR=\(stateDir)\(lib.isEmpty ? "" : " LD_LIBRARY_PATH=\(prefix)/lib") \(prefix)/bin/bedside run --config \(siteConfig) --python \(pythonPath) --recordings \(recordings)"
            )
        }
    }
}

public struct Uninstaller: Sendable {
    public var prefix: String
    public var removeRecordings: Bool

    public init(prefix: String = "/opt/bedside", removeRecordings: Bool = false) {
        self.prefix = prefix
        self.removeRecordings = removeRecordings
    }

    public func uninstall() throws {
        guard getuid() == 0 else { throw InstallError("bedside uninstall needs root: run it with sudo") }
        let fm = FileManager.default
        let file = prefix + "/install.json"
        guard let data = fm.contents(atPath: file) else {
            throw InstallError("\(file) is missing: nothing installed there by `bedside install` (give --prefix)")
        }
        let m = try JSONDecoder().decode(InstallManifest.self, from: data)
        if System.systemdRunning {
            _ = try? System.run(["systemctl", "disable", "--now", "bedside.service"], quiet: true)
        }
        try? fm.removeItem(atPath: m.unit)
        if System.systemdRunning { _ = try? System.run(["systemctl", "daemon-reload"], quiet: true) }
        print("removed the unit \(m.unit)")
        let recordingsInside = m.recordings.hasPrefix(m.stateDirectory + "/")
        if recordingsInside && !removeRecordings, fm.fileExists(atPath: m.recordings) {
            // Keep the research data: move the recordings out of the state folder before it goes.
            let kept = (m.stateDirectory as NSString).deletingLastPathComponent + "/bedside-recordings-kept"
            try? fm.moveItem(atPath: m.recordings, toPath: kept)
            print("kept the recordings: \(kept)")
        }
        try? fm.removeItem(atPath: m.stateDirectory)
        print("removed the state \(m.stateDirectory) (paired tablets, model caches)")
        if removeRecordings {
            try? fm.removeItem(atPath: m.recordings)
            print("removed the recordings \(m.recordings)")
        } else if !recordingsInside {
            print("kept the recordings: \(m.recordings)")
        }
        try fm.removeItem(atPath: m.prefix)
        print("removed \(m.prefix)")
        if m.userCreated {
            _ = try System.must(["userdel", m.user], "removing the user \(m.user)")
            _ = try? System.run(["groupdel", m.user], quiet: true)
            print("removed the user \(m.user)")
        }
    }
}

public struct BundleMaker: Sendable {
    public var config: String
    public var out: String
    public var python: String

    public init(config: String, out: String = "bedside-bundle", python: String = "python3") {
        self.config = config
        self.out = out
        self.python = python
    }

    public func make() throws {
        let fm = FileManager.default
        let configPath = URL(fileURLWithPath: config).standardizedFileURL.path
        var parsed: BedsideConfig
        do { parsed = try ConfigLoader.load(path: configPath) } catch let e as ConfigError { throw InstallError(e.description) }
        parsed = BedsideSetup.withDefaults(parsed, configFile: configPath)
        let out = URL(fileURLWithPath: self.out).standardizedFileURL.path
        try? fm.removeItem(atPath: out)
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        _ = try System.copyProgram(to: out)
        let siteSource = (configPath as NSString).deletingLastPathComponent
        try System.copyTree(siteSource, to: out + "/site")
        print("program and research code: \(out)")

        let wheels = out + "/wheels"
        try fm.createDirectory(atPath: wheels, withIntermediateDirectories: true)
        _ = try System.must(
            [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", "-w", wheels, out + "/bridge"],
            "building the bridge's wheel")
        var download = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-d", wheels, "pyzmq", "numpy"]
        if fm.fileExists(atPath: out + "/site/requirements.txt") { download += ["-r", out + "/site/requirements.txt"] }
        _ = try System.must(download, "fetching the Python packages' wheels")
        let count = ((try? fm.contentsOfDirectory(atPath: wheels)) ?? []).count
        print("wheels: \(count) in \(wheels)")

        var caches = 0
        for m in parsed.models {
            guard let cache = m.cacheDirectory, fm.fileExists(atPath: cache + "/manifest.json") else { continue }
            try System.copyTree(cache, to: out + "/model-cache/" + m.name, skipping: [])
            caches += 1
        }
        print(caches > 0 ? "model caches (from bedside prepare): \(caches)" : "model caches: none (run `bedside prepare` first if a model downloads things)")

        let configName = (configPath as NSString).lastPathComponent
        let script = """
            #!/bin/sh
            # Installs this Bedside bundle without network: run as root on the clinic box.
            set -eu
            here=$(cd "$(dirname "$0")" && pwd)
            export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            export PIP_NO_INDEX=1
            exec "$here/bin/bedside" install --config "$here/site/\(configName)" --wheels "$here/wheels" \\
              $( [ -d "$here/model-cache" ] && echo --model-cache "$here/model-cache" ) "$@"

            """
        try script.write(toFile: out + "/install.sh", atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: out + "/install.sh")
        let parent = (out as NSString).deletingLastPathComponent, name = (out as NSString).lastPathComponent
        _ = try System.must(["tar", "czf", out + ".tar.gz", "-C", parent, name], "packing \(out).tar.gz")
        print("bundle: \(out).tar.gz; on the box: tar xzf \(name).tar.gz && sudo \(name)/install.sh")
    }
}
