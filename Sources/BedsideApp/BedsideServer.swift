import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Recording
import ServiceLifecycle
import Study
import Synchronization
import Web

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: builds the services from a config and runs them in one `ServiceGroup` until
/// SIGINT/SIGTERM (or `duration`). Every decision lives in the libraries; this file only wires them.
public struct BedsideServer: Sendable {
    public let config: BedsideConfig
    /// The config file this run was started with (its digest goes into each session's metadata).
    public var configFile: String?
    /// Stop after this many seconds (tests, demos).
    public var duration: Double?
    /// Write the listening URL, token, PIN and pairing code as JSON here once serving.
    public var readyFile: String?

    public init(config: BedsideConfig, configFile: String?, duration: Double? = nil, readyFile: String? = nil) {
        self.config = config
        self.configFile = configFile
        self.duration = duration
        self.readyFile = readyFile
    }

    public func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "bedside")
        logger.logLevel = .info
        AVLog.quiet()
        // Before any frame is allocated: frame-sized blocks keep their own mapping (Allocator explains why).
        switch Allocator.tuneForVideoFrames() {
        case .fixed: break
        case .fromEnvironment(let setting): logger.info("malloc: \(setting) from the environment is used")
        case .refused: logger.warning("malloc refused a fixed mmap threshold: resident memory may creep over hours")
        }

        let source: any FrameSource
        switch config.source.kind {
        case .phantom:
            source = PhantomSource(
                width: config.source.width, height: config.source.height, fps: config.source.fps,
                sweepSeconds: config.source.sweepSeconds)
        case .file:
            source = try FileSource(path: config.source.path!, loop: config.source.loop)
        case .v4l2:
            source = V4L2Source(config: config.source, logger: logger)
        }

        let token = config.web.token ?? BedsideSetup.randomToken()
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }

        let recorder: Recorder? =
            config.recording.enabled
            ? Recorder(
                config: config.recording, source: source, version: BedsideVersion.string,
                models: config.models.map(\.name), configFile: configFile, logger: logger, privacy: config.privacy,
                requireMasks: !config.privacy.allowUnmasked)
            : nil
        if config.privacy.isEmpty {
            logger.warning(
                "no privacy masks are configured: recordings and snapshots would contain everything on the scanner's screen, including the patient banner. \(config.privacy.allowUnmasked ? "privacy.allow_unmasked is set, so they are recorded anyway." : "Recording waits until masks cover the frame: draw them on the admin page, or add privacy.masks (docs/privacy.md); privacy.allow_unmasked: true records anyway.")"
            )
        }
        let hub = Hub(displayWidth: config.web.displayWidth, quality: config.web.jpegQuality, logger: logger, video: config.web.video)

        let metrics = BedsideMetrics()
        let silentModels = Set(config.models.filter { !$0.show }.map(\.name))
        let study = StudyController(
            config: config.study, recorder: recorder, recordingDirectory: config.recording.directory, logger: logger,
            silentModels: silentModels)
        // The model the tablets follow: the first shown one (silent models are never followed).
        let shownModels = config.models.filter(\.show)
        let followedModel = shownModels.first(where: { $0.upstream == nil })?.name ?? shownModels.first?.name
        let shown = ShownPredictions()
        let runners: [ModelRunner] = config.models.map { m in
            ModelRunner(config: m, runtimeDirectory: runtime, logger: logger) { p in
                recorder?.log(p, silent: silentModels.contains(p.model))
                if !silentModels.contains(p.model) { metrics.prediction(p) }  // /metrics is a viewer's: no silent model there
                study.observe(p, followed: p.model == followedModel)
                // The study arm decides, here on the server, what of the answer reaches the tablets.
                guard let visible = study.shown(p) else { return }
                let message = PredictionMessage(visible, now: Clock.monotonicNanos())
                shown.set(message)
                hub.broadcast(text: JSONWire.string(message))
            }
        }
        let shownRunners = runners.filter(\.config.show)
        let snapshots = Snapshotter()
        var sinks: [@Sendable (Frame) -> Void] = [{ hub.offer($0) }, { snapshots.offer($0) }]
        for r in runners {
            if let up = r.config.upstream, let source = runners.first(where: { $0.config.name == up }) {
                source.feed(r)  // a pipeline model sees the frames its upstream model answered, with the answer
            } else {
                sinks.append { r.offer($0) }
            }
        }
        if let recorder { sinks.append { recorder.offer($0) } }
        let capture = CaptureService(source: source, logger: logger, mask: config.privacy, sinks: sinks)

        let started = Clock.monotonicNanos()
        // Two views of the status: the admin page's has every model; the tablets' (the WebSocket, /api/status)
        // leaves out silent models, whose state is no more a tablet's business than their answers.
        let statusText: @Sendable (_ forTablets: Bool) -> String = { forTablets in
            if let recorder {
                // Model versions reach session.json as the models declare them.
                let versions = runners.reduce(into: [String: String]()) { d, r in
                    if let v = r.status.info?.version { d[r.config.name] = v }
                }
                recorder.setModelVersions(versions)
            }
            metrics.update(capture: capture, runners: shownRunners, recorder: recorder, viewers: hub.tabletPageCount)
            let models = runners.map(\.status)
            study.modelStates(Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0.state.rawValue) }))
            return JSONWire.string(
                StatusMessage(
                    version: BedsideVersion.string, uptimeS: Double(Clock.monotonicNanos() - started) / 1e9,
                    source: SourceStatus(capture), models: forTablets ? models.filter { !$0.silent } : models,
                    recording: recorder?.status, viewers: hub.tabletPageCount,
                    study: study.status, viewersLatency: hub.latency.status, stream: hub.streamStatus))
        }
        let status: @Sendable () -> String = { statusText(true) }
        let adminPIN = config.web.adminPIN ?? BedsideSetup.randomPIN()
        let fps = source.nominalFPS
        let modelName = followedModel ?? ""
        let staleMs = config.web.staleMs
        let modelNames = config.models.map(\.name)
        let tabletModels = shownModels.map(\.name)
        let hello: @Sendable () -> HelloMessage = {
            let c = capture.snapshot
            return HelloMessage(
                version: BedsideVersion.string, model: modelName, models: tabletModels, fps: fps, staleMs: staleMs,
                width: c.width, height: c.height)
        }
        // HTTPS beyond loopback by default, with Bedside's own CA (kept in the state folder: tablets install it once).
        let plan = TransportPlan.decide(bind: config.web.bind, tls: config.web.tls)
        var transport: SecureTransport? = nil
        switch plan {
        case .localCA:
            guard let state = BedsideSetup.stateDirectory() else {
                throw WebError(
                    "web.bind \(config.web.bind) serves the network, so Bedside serves HTTPS with its own certificate authority, kept in "
                        + "its state folder, and none could be made. Fix: set BEDSIDE_STATE_DIR to a writable folder, or give web.tls "
                        + "your own certificate ({cert, key}), or bind 127.0.0.1.")
            }
            let bindAddresses = config.web.bind == "0.0.0.0" || config.web.bind == "::" ? BedsideSetup.hostAddresses() : [config.web.bind]
            var names = ServerNames.current(addresses: bindAddresses)
            let extraIPs = config.web.names.filter { ServerNames.isIPAddress($0) }
            names = ServerNames(
                dns: config.web.names.filter { !ServerNames.isIPAddress($0) } + names.dns, ips: extraIPs + names.ips)
            do {
                transport = try SecureTransport.localCA(folder: state + "/tls", names: names, logger: logger)
            } catch {
                throw WebError("web.tls: Bedside's own certificate could not be made or read: \(error)")
            }
        case .files(let c, let k):
            transport = try SecureTransport.files(certificate: c, key: k, logger: logger)
        case .plainOnNetwork:
            logger.warning(
                "web.tls: off: the live page, its video and the pairing cookie cross the network UNENCRYPTED, readable by anyone on it. Leave web.tls out to serve HTTPS with Bedside's own certificate."
            )
        case .loopback:
            break
        }
        let scheme = plan.encrypted ? "https" : "http"
        let caInfo = transport?.ca
        let readyFile = self.readyFile
        let bind = config.web.bind
        let webNames = config.web.names
        let pairing = Pairing(consoleToken: token, file: BedsideSetup.stateDirectory().map { $0 + "/viewers.json" })
        let features = WebFeatures(
            status: status, adminStatus: { statusText(false) }, hello: hello,
            metrics: {
                metrics.update(capture: capture, runners: shownRunners, recorder: recorder, viewers: hub.tabletPageCount)
                return metrics.render()
            },
            snapshots: SnapshotService(
                snapshots: snapshots, recorder: recorder, study: study, shown: shown,
                recordingDirectory: config.recording.directory, requireMasked: !config.privacy.allowUnmasked,
                lastPrediction: { runners.first { $0.config.name == followedModel }?.lastPrediction }, logger: logger),
            recording: recorder, study: study,
            studyChanged: {
                shown.clear()
                hub.broadcast(text: status())  // every tablet follows at once, no reload
            },
            review: Review(directory: config.recording.directory),
            regions: RegionEditor(capture: capture, recorder: recorder, runners: runners, configFile: configFile, models: modelNames))
        let web = WebServer(
            hub: hub, config: config.web, pairing: pairing, adminPIN: adminPIN, logger: logger, features: features,
            transport: transport,
            onListening: { port in
                let hosts = BedsideSetup.tabletHosts(bind: bind, names: webNames, addresses: BedsideSetup.hostAddresses())
                let host = hosts.first ?? bind
                let base = "\(scheme)://\(host):\(port)"
                let url = "\(base)/?token=\(token)"
                // On a box with several networks (clinic Wi-Fi, a cable to the hospital), every address it has.
                let others = Array(hosts.dropFirst())
                let also =
                    others.isEmpty
                    ? ""
                    : "\n    (the same on this box's other networks: \(others.map { "\(scheme)://\($0):\(port)/?token=\(token)" }.joined(separator: ", ")))\n"
                // Before the first pairing a tablet installs Bedside's CA once: the plain-HTTP address shows how.
                let install =
                    caInfo.map { ca in
                        "First time on a tablet: open http://\(host):\(port)/ on it and install Bedside's certificate as that page says\n"
                            + "    (certificate SHA-256 \(ca.fingerprint)).\n"
                    } ?? ""
                let plainWarning =
                    plan == .plainOnNetwork ? "WARNING: web.tls is off: this page and its video cross the network unencrypted.\n" : ""
                print(
                    "Bedside is serving the live page. Open on a tablet:\n\n    \(url)\n\(also)\n\(install)\(plainWarning)To pair a tablet instead, open \(base)/ on it and enter the code \(pairing.code).\nAdmin page: \(base)/admin?token=\(token)  (admin PIN: \(adminPIN))\n"
                )
                fflush(nil)
                if let readyFile {
                    let info = ReadyInfo(
                        url: url, port: port, token: token, adminPIN: adminPIN, pairingCode: pairing.code, pid: Int(getpid()))
                    try? JSONWire.string(info).write(toFile: readyFile, atomically: true, encoding: .utf8)
                }
            })

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: capture, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .ignore),
            .init(service: hub),
            .init(service: try web.makeApplication()),
            .init(service: StatusTicker(hub: hub, status: status)),
        ]
        if let recorder { services.append(.init(service: recorder)) }
        if let duration {
            services.append(.init(service: RunTimer(seconds: duration), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Shutdown runs in reverse order: models stop first (their last answers still reach the log), then the
        // recorder drains and finalises the file, then the page and capture.
        if !runners.isEmpty { services.append(.init(service: ModelRunners(runners: runners))) }
        logger.info(
            "starting",
            metadata: [
                "source": "\(source.description)", "models": "\(config.models.map(\.name))",
                "recording": "\(config.recording.enabled ? config.recording.directory : "off")",
            ])
        if WebServer.pageFolder == nil { logger.error("\(WebServer.missingPageFiles) Capture and recording go on.") }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if let r = recorder?.status, let folder = r.sessionDirectory {
            // Every folder of this run: a study session opens its own, and the one before it is as much a part
            // of the day's recording (issue 18 #18).
            let earlier = r.sessionFolders.filter { $0 != folder }
            if !earlier.isEmpty {
                print("Recorded this run in \(earlier.count + 1) folders:")
                for f in earlier { print("  \(f)") }
            }
            print("Recording finished: \(folder) (\(r.segments) file(s), \(r.framesWritten) frames, \(r.framesDropped) dropped)")
        }
    }
}
