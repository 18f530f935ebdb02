import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideTools
import Bench
import Foundation
import Logging
import ModelBridge
import Web

/// Options every running command shares.
struct RunOptions: ParsableArguments {
    @Option(help: "Address to serve the page on (127.0.0.1 = this machine only; 0.0.0.0 = the clinic network).")
    var bind: String?
    @Option(help: "Port for the page (0 picks a free one).") var port: Int?
    @Option(help: "Pairing token viewers need (default: from the config, else random).") var token: String?
    @Option(help: "Folder for recordings.") var recordings: String?
    @Flag(help: "Do not record.") var noRecord = false
    @Option(help: "Stop after this many seconds (tests, demos).") var duration: Double?
    @Option(help: "Write the listening URL and token as JSON to this file once serving.") var readyFile: String?
    @Option(help: "Python interpreter for every model (overrides `python:` in the config).") var python: String?
    @Flag(help: "Record and snapshot frames no privacy mask covers (same as `privacy: {allow_unmasked: true}`).")
    var allowUnmasked = false

    func apply(to c: inout BedsideConfig) {
        if let bind { c.web.bind = bind }
        if let port { c.web.port = port }
        if let token { c.web.token = token }
        if let recordings { c.recording.directory = recordings }
        if noRecord { c.recording.enabled = false }
        if let python { for i in c.models.indices { c.models[i].python = python; c.models[i].command = nil } }
        if allowUnmasked { c.privacy.allowUnmasked = true }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the phantom scan with the demo model: nothing to set up, no hardware needed.")

    @OptionGroup var options: RunOptions
    @Option(help: "Phantom size WIDTHxHEIGHT.") var size = "1280x720"
    @Option(help: "Phantom frame rate.") var fps = 30.0

    func run() async throws {
        guard let template = locateTemplate() else {
            throw ValidationError(
                "cannot find researcher-template/bedside.yaml: run `bedside demo` from the Bedside checkout or set BEDSIDE_TEMPLATE")
        }
        var config = try ConfigLoader.load(path: template)
        let (w, h) = try sizeOption(size)
        config.source = SourceConfig()
        config.source.width = w
        config.source.height = h
        config.source.fps = fps
        config.recording.directory = "recordings"
        // The checkout's environment (scripts/setup.sh makes it) has the bridge's packages; python3 may not.
        let venv = URL(fileURLWithPath: template).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".venv/bin/python").path
        if options.python == nil && FileManager.default.isExecutableFile(atPath: venv) {
            for i in config.models.indices { config.models[i].python = venv }
        }
        options.apply(to: &config)
        config = BedsideSetup.withDefaults(config, configFile: template)
        try StartError.checkPort(config.web)
        try await BedsideServer(config: config, configFile: template, duration: options.duration, readyFile: options.readyFile).run()
    }

    func locateTemplate() -> String? {
        var candidates: [String] = []
        if let t = ProcessInfo.processInfo.environment["BEDSIDE_TEMPLATE"] { candidates.append(t) }
        candidates.append(FileManager.default.currentDirectoryPath + "/researcher-template/bedside.yaml")
        var dir = WorkerProcess.executableURL().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("researcher-template/bedside.yaml").path)
            dir = dir.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run from a config file (bedside.yaml).")

    @Option(name: .shortAndLong, help: "The config file.") var config: String
    @OptionGroup var options: RunOptions

    func run() async throws {
        var c: BedsideConfig
        do { c = try ConfigLoader.load(path: config) } catch let e as ConfigError {
            throw StartError.exit(e.description)
        }
        // Left out of the file, recordings go beside the config (as every other path in it), not into whatever
        // folder Bedside happened to be started from.
        if c.recording.directory == RecordingConfig().directory {
            let folder = URL(fileURLWithPath: config).standardizedFileURL.deletingLastPathComponent()
            c.recording.directory = folder.appendingPathComponent(RecordingConfig().directory).path
        }
        options.apply(to: &c)
        c = BedsideSetup.withDefaults(c, configFile: config)
        // What the config points at: a source that is not there stops the start; a model's missing folder or
        // key is said now and shown on the page, and capture and recording go on without that model.
        let problems = ConfigLoader.checkReferences(c, file: config) + WebServer.tlsProblems(c, file: config)
        let fatal = problems.filter { $0.model == nil }
        if !fatal.isEmpty { throw StartError.exit(fatal.map(\.description).joined(separator: "\nerror: ")) }
        for p in problems {
            FileHandle.standardError.write(
                Data("warning: \(p.description) (model \(p.model ?? "?") will show this on the page; capture and recording go on)\n".utf8))
        }
        try StartError.checkPort(c.web, configFile: config)
        try await BedsideServer(config: c, configFile: config, duration: options.duration, readyFile: options.readyFile).run()
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file, then start each model once, feed it one frame and say what it returned.")

    @Option(name: .shortAndLong, help: "The config file.") var config: String
    @Flag(help: "Only validate the file; start no model.") var noRun = false
    @Option(help: "Python interpreter for every model (overrides `python:` in the config).") var python: String?

    func run() async throws {
        let c = try loadForTool(config, python: python)
        let problems = ConfigLoader.checkReferences(c, file: config) + WebServer.tlsProblems(c, file: config)
        if !problems.isEmpty {
            for p in problems { print("✗ \(p.description)") }
            throw ExitCode(2)
        }
        print("✓ \(config) is valid")
        print("  source: \(c.source.kind.rawValue) \(c.source.width)x\(c.source.height)@\(c.source.fps)")
        for m in c.models {
            print("  model \(m.name): \(m.command?.joined(separator: " ") ?? m.python) \(m.entry)\(m.setup.map { " (setup \($0))" } ?? "")")
        }
        print("  recording: \(c.recording.enabled ? c.recording.directory : "off")")
        print("  page: http://\(c.web.bind):\(c.web.port)/")
        guard !noRun else { return }
        var failed = false
        for m in c.models {
            print("\nmodel \(m.name): starting it and feeding one phantom frame...")
            if try await !ModelCheck(model: m, width: c.source.width, height: c.source.height).run() { failed = true }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `web.tls`: the certificate and key must be readable PEM files (the check `run` makes when it starts serving).
/// `check` and `prepare`: the config (a mistake: one line, exit 2), `--python` for every model, the machine's defaults.
func loadForTool(_ path: String, python: String?) throws -> BedsideConfig {
    var c: BedsideConfig
    do { c = try ConfigLoader.load(path: path) } catch let e as ConfigError {
        print("✗ \(e.description)")
        throw ExitCode(2)
    }
    if let python { for i in c.models.indices { c.models[i].python = python; c.models[i].command = nil } }
    return BedsideSetup.withDefaults(c, configFile: path)
}

struct Prepare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "On a machine with internet: run each model once with the network allowed, its downloads going into its cache folder, and write a manifest of every URL and file, so it starts offline in the clinic."
    )

    @Option(name: .shortAndLong, help: "The config file.") var config: String
    @Option(help: "Python interpreter for every model (overrides `python:` in the config).") var python: String?

    func run() async throws {
        let c = try loadForTool(config, python: python)
        var failed = false
        for m in c.models where m.remoteBind == nil {
            guard let cache = m.cacheDirectory else {
                print("✗ model \(m.name): no cache folder (set `cache:` for it, or BEDSIDE_STATE_DIR)")
                failed = true
                continue
            }
            if try await !ModelPrepare(model: m, cache: cache, width: c.source.width, height: c.source.height).run() { failed = true }
        }
        if failed { throw ExitCode(1) }
    }
}

/// A mistake found before anything starts (the config, the port): one message on stderr, exit status 2.
enum StartError {
    static func exit(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// The page's port must be free before the recorder opens a session or a model starts: a second Bedside
    /// on the same port stops here, touching nothing of the first.
    /// - Parameter configFile: the config, to name the line of `web.port` when the port came from it.
    static func checkPort(_ web: WebConfig, configFile: String? = nil) throws {
        guard web.port != 0 else { return }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))  // as the server binds
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(web.port).bigEndian)
        guard inet_pton(AF_INET, web.bind, &addr.sin_addr) == 1 else { return }  // not IPv4: the server says
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let why = SystemError.last("bind").reason
            let line = configFile.flatMap { ConfigLoader.line(of: "web.port", in: ConfigLoader.keyLines(path: $0)) }
            let at = configFile.flatMap { file in line.map { "\(file):\($0): `web.port`: " } } ?? ""
            throw exit(
                "\(at)cannot serve the page on \(web.bind):\(web.port): \(why) (another Bedside, or another program, uses the port). Stop it, or choose another port with --port or web.port in the config."
            )
        }
    }
}
