import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Recording
import ServiceLifecycle
import Synchronization
import Web

#if canImport(Glibc)
import Glibc
#endif

/// Builds the services from a config and runs them in one `ServiceGroup` until SIGINT/SIGTERM.
struct BedsideApp {
    let config: BedsideConfig
    let options: RunOptions
    /// The config file this run was started with (its digest goes into each session's metadata).
    var configFile: String?

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "bedside")
        logger.logLevel = .info
        AVLog.quiet()

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

        let token = config.web.token ?? Self.randomToken()
        let runtime = try Self.runtimeDirectory()
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
        let hub = Hub(displayWidth: config.web.displayWidth, quality: config.web.jpegQuality, logger: logger)

        let metrics = BedsideMetrics()
        let study = StudyController(
            config: config.study, recorder: recorder, recordingDirectory: config.recording.directory, logger: logger)
        let followedModel = config.models.first(where: { $0.upstream == nil })?.name ?? config.models.first?.name
        // What each model shows now, for snapshots.
        let shown = Mutex<[String: String]>([:])
        let runners: [ModelRunner] = config.models.map { m in
            return ModelRunner(config: m, runtimeDirectory: runtime, logger: logger) { p in
                let crop = p.crop  // the crop this frame was cut with: where the answer goes over the video
                recorder?.log(p)
                metrics.prediction(p)
                study.observe(p, followed: p.model == followedModel)
                // The study arm decides, here on the server, what of the answer reaches the tablets.
                guard let message = study.message(for: p, crop: crop, build: { Self.predictionMessage($0, crop: $1) })
                else { return }
                shown.withLock { $0[p.model] = message }
                hub.broadcast(text: message)
            }
        }
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
        let status: @Sendable () -> String = {
            if let recorder {
                // Model versions reach session.json as the models declare them.
                let versions = runners.reduce(into: [String: String]()) { d, r in
                    if let v = r.status.info?.version { d[r.config.name] = v }
                }
                recorder.setModelVersions(versions)
            }
            metrics.update(capture: capture, runners: runners, recorder: recorder, viewers: hub.viewerCount)
            study.modelStates(Dictionary(uniqueKeysWithValues: runners.map { ($0.config.name, $0.status.state) }))
            return Self.statusJSON(
                started: started, capture: capture, runners: runners, recorder: recorder, viewers: hub.viewerCount,
                study: study.statusObject, viewersLatency: hub.latency.statusObject)
        }
        let adminPIN = config.web.adminPIN ?? Self.randomPIN()
        let recordingDirectory = config.recording.directory
        let actionLog = logger
        var actions: [String: WebAction] = [:]
        actions["snapshot"] = WebAction(admin: false) { _ in
            let folder = recorder?.status.sessionDirectory.flatMap { recorder?.status.stateName == "idle" ? nil : $0 }
                ?? study.currentFolder ?? (recordingDirectory as NSString).appendingPathComponent("snapshots")
            let origin = recorder?.sessionOriginNanos
            do {
                let saved = try snapshots.take(into: folder, requireMasked: !config.privacy.allowUnmasked) { frame in
                    SnapshotRecord.Details(
                        predictions: shown.withLock { $0 }.mapValues { JSONValue(parsing: $0) ?? .string($0) },
                        ptsS: origin.map { (Double(frame.ptsNanos) - Double($0)) / 1e9 },
                        recordingFile: recorder?.status.currentFile)
                }
                actionLog.info("snapshot saved", metadata: ["png": "\(saved.png)"])
                let last = runners.first { $0.config.name == followedModel }?.lastPrediction
                study.snapshot(png: saved.png, json: saved.json, plane: last?.plane, status: last?.status)
                return (200, Self.json(["png": saved.png, "json": saved.json, "seq": saved.seq]))
            } catch {
                return (503, Self.json(["error": "\(error)", "fix": "check the source and the recording folder"]))
            }
        }
        if recorder == nil {
            for path in ["recording/start", "recording/stop"] {
                actions[path] = WebAction(admin: true) { _ in
                    (409, Self.json(["error": "recording is off in this config", "fix": "set `recording: {enabled: true}` and restart Bedside"]))
                }
            }
        }
        if let recorder {
            actions["recording/start"] = WebAction(admin: true) { _ in
                let before = recorder.status
                let started = recorder.startSession()
                actionLog.info("recording start requested", metadata: ["started": "\(started)"])
                // Answer with what happened: the session open (or refused at once: a folder that cannot be made).
                let deadline = Date().addingTimeInterval(3)
                var st = recorder.status
                while started, st.sessions == before.sessions, st.failures == before.failures, Date() < deadline {
                    try? await Task.sleep(for: .milliseconds(50))
                    st = recorder.status
                }
                if started, st.failures > before.failures, case .failed(let message) = st.state {
                    return (500, Self.json([
                        "started": false, "state": "failed", "error": message,
                        "fix": "make the recording folder writable (or free the disk), then start again",
                    ]))
                }
                return (200, Self.json(["started": started, "state": st.stateName]))
            }
            actions["recording/stop"] = WebAction(admin: true) { _ in
                let stopped = recorder.stopSession()
                actionLog.info("recording stop requested", metadata: ["stopped": "\(stopped)"])
                return (200, Self.json(["stopped": stopped]))
            }
        }
        let fps = source.nominalFPS
        let modelName = config.models.first?.name ?? ""
        let staleMs = config.web.staleMs
        let modelNames = config.models.map(\.name)
        let hello: @Sendable () -> String = {
            let c = capture.snapshot
            return Self.json([
                "type": "hello", "version": BedsideVersion.string, "model": modelName, "models": modelNames,
                "fps": fps, "stale_ms": staleMs, "width": c.width, "height": c.height,
            ])
        }
        let scheme = config.web.tlsCertificate != nil ? "https" : "http"
        let readyFile = options.readyFile
        let bind = config.web.bind
        actions["study/start"] = WebAction(admin: true) { q in
            do {
                let folder = try study.start(
                    participant: q["participant"] ?? "", arm: q["arm"],
                    targets: q["targets"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } },
                    notes: q["notes"])
                shown.withLock { $0 = [:] }
                hub.broadcast(text: status())
                return (200, Self.json(["folder": folder, "study": study.statusObject]))
            } catch {
                return (409, Self.json(["error": "\(error)", "fix": "see the admin page's study section"]))
            }
        }
        actions["study/end"] = WebAction(admin: true) { _ in
            do {
                let summary = try study.end()
                hub.broadcast(text: status())
                return (200, Self.json(summary))
            } catch {
                return (409, Self.json(["error": "\(error)", "fix": "start a session first"]))
            }
        }
        actions["study/arm"] = WebAction(admin: true) { q in
            do {
                try study.setArm(q["arm"] ?? "")
                shown.withLock { $0 = [:] }
                hub.broadcast(text: status())  // every tablet follows at once, no reload
                return (200, Self.json(["arm": study.arm.name, "show": study.arm.shows.map(\.rawValue)]))
            } catch {
                return (400, Self.json(["error": "\(error)", "fix": "use one of the arms in `study.arms`"]))
            }
        }
        actions["study/note"] = WebAction(admin: true) { q in
            guard let text = q["text"], !text.isEmpty else {
                return (400, Self.json(["error": "empty note", "fix": "send ?text=..."]))
            }
            guard study.currentFolder != nil else {
                return (409, Self.json(["error": "no study session is running", "fix": "start a session first"]))
            }
            study.note(text)
            return (200, Self.json(["noted": true]))
        }
        let review = Review(directory: config.recording.directory)
        actions["review/sessions"] = WebAction(admin: true) { _ in (200, Self.json(["sessions": review.sessions()])) }
        actions["review/session"] = WebAction(admin: true) { q in
            guard let s = review.session(q["name"]) else {
                return (404, Self.json(["error": "no study session named \(q["name"] ?? "(none)")", "fix": "pick one from the list"]))
            }
            return (200, Self.json(s))
        }
        actions["review/select"] = WebAction(admin: true) { q in
            do {
                return (200, Self.json(["best": try review.select(session: q["name"], plane: q["plane"], file: q["file"])]))
            } catch {
                return (404, Self.json(["error": "\(error)", "fix": "pick a snapshot of this session"]))
            }
        }
        actions["review/export"] = WebAction(admin: true) { q in
            do { return (200, Self.json(["folder": try review.export(session: q["name"])])) } catch {
                return (404, Self.json(["error": "\(error)", "fix": "pick a session and mark images first"]))
            }
        }
        let pairing = Pairing(consoleToken: token, file: Self.stateDirectory().map { $0 + "/viewers.json" })
        actions["admin/overview"] = WebAction(admin: true) { _ in
            let devices: [[String: Any]] = pairing.devices.map { d in
                var o: [String: Any] = ["id": d.id, "name": d.name, "paired_at": d.pairedAt, "revoked": d.revoked]
                o["last_seen"] = d.lastSeen ?? NSNull()
                return o
            }
            let statusObject = (try? JSONSerialization.jsonObject(with: Data(status().utf8))) ?? [:]
            return (200, Self.json(["pairing_code": pairing.code, "tablets": devices, "status": statusObject]))
        }
        actions["admin/revoke"] = WebAction(admin: true) { query in
            guard let id = query["id"], pairing.revoke(id: id) else {
                return (404, Self.json(["error": "no paired tablet with id \(query["id"] ?? "(none)")", "fix": "take the id from the admin page's list"]))
            }
            actionLog.notice("tablet revoked", metadata: ["id": "\(id)"])
            return (200, Self.json(["revoked": id]))
        }
        actions["admin/pairing-code"] = WebAction(admin: true) { _ in
            let code = pairing.newCode()
            print("New pairing code for a tablet: \(code)")
            fflush(nil)
            return (200, Self.json(["pairing_code": code]))
        }
        // The region editor (admin page): privacy masks for the current input size and each model's crop.
        let regionsFile = configFile.map { Regions.path(forConfig: $0) }
        let savedRegions = Mutex<Regions>(
            regionsFile.flatMap { f in
                (try? String(contentsOfFile: f, encoding: .utf8)).flatMap {
                    try? ConfigLoader.parseRegions(yaml: $0, file: f, models: config.models.map(\.name))
                }
            } ?? Regions())
        let regionsState: @Sendable () -> [String: Any] = {
            let c = capture.snapshot
            let mask = capture.mask
            func obj(_ r: CropRect) -> [String: Any] { ["x": r.x, "y": r.y, "width": r.width, "height": r.height] }
            return [
                "width": c.width, "height": c.height, "size": "\(c.width)x\(c.height)",
                "masks": mask.rects(width: c.width, height: c.height).map(obj),
                "masks_for_this_size": mask.bySize["\(c.width)x\(c.height)"] != nil,
                "allow_unmasked": mask.allowUnmasked,
                "models": runners.map { r -> [String: Any] in
                    [
                        "name": r.config.name, "crop": r.crop.map(obj) ?? NSNull(),
                        "input": ["width": r.config.input.width.map { $0 as Any } ?? NSNull(), "height": r.config.input.height.map { $0 as Any } ?? NSNull()],
                    ]
                },
                "regions_file": regionsFile ?? NSNull(),
                "saved": regionsFile.map { FileManager.default.fileExists(atPath: $0) } ?? false,
            ]
        }
        actions["regions/get"] = WebAction(admin: true) { _ in (200, Self.json(regionsState())) }
        actions["regions/save"] = WebAction(admin: true) { q in
            let c = capture.snapshot
            let size = q["size"] ?? "\(c.width)x\(c.height)"
            let dims = size.split(separator: "x").compactMap { Int($0) }
            guard dims.count == 2, dims[0] > 0, dims[1] > 0 else {
                return (400, Self.json(["error": "size `\(size)` is not WIDTHxHEIGHT", "fix": "send the input size, e.g. size=1920x1080"]))
            }
            func parseRect(_ text: String, _ what: String) throws -> CropRect {
                let n = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard n.count == 4, let x = n[0], let y = n[1], let w = n[2], let h = n[3], w > 0, h > 0, x >= 0, y >= 0 else {
                    throw RegionError("\(what) `\(text)` is not x,y,width,height with a width and height above 0")
                }
                guard x + w <= dims[0], y + h <= dims[1] else {
                    throw RegionError("\(what) \(x),\(y) \(w)x\(h) reaches outside the \(size) frame")
                }
                return CropRect(x: x, y: y, width: w, height: h)
            }
            var update = Regions()
            do {
                if let m = q["masks"] {
                    update.masksBySize[size] = try m.split(separator: ";").enumerated().map { try parseRect(String($1), "mask \($0 + 1)") }
                }
                for r in runners {
                    guard let v = q["crop.\(r.config.name)"] else { continue }
                    update.crops[r.config.name] = v == "none" || v.isEmpty ? .some(nil) : .some(try parseRect(v, "the crop of \(r.config.name)"))
                }
            } catch {
                return (400, Self.json(["error": "\(error)", "fix": "draw the rectangle inside the picture"]))
            }
            // Live first: the next frame is masked and cropped the new way.
            var mask = capture.mask
            for (k, v) in update.masksBySize { mask.bySize[k] = v }
            capture.setMask(mask)
            recorder?.setPrivacy(mask)
            for r in runners {
                guard let crop = update.crops[r.config.name] else { continue }
                r.setCrop(crop)
            }
            actionLog.notice(
                "region editor: saved",
                metadata: ["size": "\(size)", "masks": "\(update.masksBySize[size]?.count ?? -1)", "crops": "\(update.crops.keys.sorted())"])
            var body = regionsState()
            guard let file = regionsFile, let configFile else {
                body["warning"] = "applied until Bedside stops: it runs without a config file, so there is nowhere to save them"
                return (200, Self.json(body))
            }
            let all = savedRegions.withLock { s -> Regions in
                s = s.merged(with: update)
                return s
            }
            do {
                try all.yaml(configFile: configFile, savedAt: Date().formatted(.iso8601))
                    .write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                body["warning"] = "applied now, but not saved to \(file): \(error). They last until Bedside stops."
                return (200, Self.json(body))
            }
            body["saved"] = true
            return (200, Self.json(body))
        }
        let web = WebServer(
            hub: hub, config: config.web, token: token, adminPIN: adminPIN, logger: logger, status: status, hello: hello,
            actions: actions, pairing: pairing,
            metrics: {
                metrics.update(capture: capture, runners: runners, recorder: recorder, viewers: hub.viewerCount)
                return metrics.render()
            },
            reviewImage: { q in review.image(session: q["name"], file: q["file"]) },
            onListening: { port in
                let host = bind == "0.0.0.0" ? Self.hostAddress() : bind
                let base = "\(scheme)://\(host):\(port)"
                let url = "\(base)/?token=\(token)"
                // On a box with several networks (clinic Wi-Fi, a cable to the hospital), every address it has.
                let others = bind == "0.0.0.0" ? Self.hostAddresses().filter { $0 != host } : []
                let also = others.isEmpty ? "" : "\n    (the same on this box's other networks: \(others.map { "\(scheme)://\($0):\(port)/?token=\(token)" }.joined(separator: ", ")))\n"
                print("Bedside is serving the live page. Open on a tablet:\n\n    \(url)\n\(also)\nTo pair a tablet instead, open \(base)/ on it and enter the code \(pairing.code).\nAdmin page: \(base)/admin?token=\(token)  (admin PIN: \(adminPIN))\n")
                fflush(nil)
                if let readyFile {
                    let info = Self.json([
                        "url": url, "port": port, "token": token, "admin_pin": adminPIN, "pairing_code": pairing.code,
                        "pid": Int(getpid()),
                    ])
                    try? info.write(toFile: readyFile, atomically: true, encoding: .utf8)
                }
            })

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: capture, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .ignore),
            .init(service: hub),
            .init(service: try web.makeApplication()),
            .init(service: StatusTicker(hub: hub, status: status)),
        ]
        if let recorder { services.append(.init(service: recorder)) }
        if let duration = options.duration {
            services.append(.init(service: Timer(seconds: duration), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Shutdown runs in reverse order: models stop first (their last answers still reach the log), then the
        // recorder drains and finalises the file, then the page and capture.
        if !runners.isEmpty { services.append(.init(service: ModelRunners(runners: runners))) }
        logger.info(
            "starting", metadata: ["source": "\(source.description)", "models": "\(config.models.map(\.name))",
                "recording": "\(config.recording.enabled ? config.recording.directory : "off")"])
        if WebServer.pageFolder == nil { logger.error("\(WebServer.missingPageFiles) Capture and recording go on.") }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if let r = recorder?.status, let folder = r.sessionDirectory {
            print("Recording finished: \(folder) (\(r.segments) file(s), \(r.framesWritten) frames, \(r.framesDropped) dropped)")
        }
    }

    static func predictionMessage(_ p: Prediction, crop: CropRect?) -> String {
        let now = Clock.monotonicNanos()
        var head = #"{"type":"prediction","model":"\#(p.model)","seq":\#(p.seq),"pts_ns":\#(p.ptsNanos)"#
        head += #","age_ms":\#(fmt(Double(now &- p.ptsNanos) / 1e6)),"dispatch_age_ms":\#(fmt(Double(p.dispatchedNanos &- p.ptsNanos) / 1e6)),"model_ms":\#(fmt(p.modelMs)),"latency_ms":\#(fmt(p.roundTripMs))"#
        if let crop { head += #","crop":{"x":\#(crop.x),"y":\#(crop.y),"width":\#(crop.width),"height":\#(crop.height)}"# }
        if let t = p.truth { head += #","truth":{"plane":"\#(t.plane)","status":"\#(t.status)"}"# }
        return head + #","result":\#(p.resultJSON)}"#
    }

    static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

    static func statusJSON(
        started: UInt64, capture: CaptureService, runners: [ModelRunner], recorder: Recorder?, viewers: Int,
        study: [String: Any] = [:], viewersLatency: [String: Any] = [:]
    ) -> String {
        let c = capture.snapshot
        var source: [String: Any] = [
            "description": capture.source.description, "frames_captured": c.framesCaptured, "fps": (c.fps * 10).rounded() / 10,
            "width": c.width, "height": c.height,
        ]
        if let e = c.error { source["error"] = e }
        let health = capture.source.health
        source["state"] = c.ended ? "ended" : (c.error != nil ? "failed" : health.state)
        if let d = health.detail { source["detail"] = d }
        if let m = health.mode { source["mode"] = m }
        source["renegotiations"] = health.renegotiations
        let mask = capture.mask
        source["privacy_masks"] = mask.rects(width: c.width, height: c.height).count
        if mask.rects(width: c.width, height: c.height).isEmpty && c.width > 0 {
            source["privacy_warning"] =
                mask.allowUnmasked
                ? "No privacy mask covers \(c.width)x\(c.height): recordings contain everything on the scanner's screen (privacy.allow_unmasked is set)."
                : "No privacy mask covers \(c.width)x\(c.height): recording waits. Draw the masks on the admin page (Privacy masks and crop)."
        }
        let enc = JSONEncoder()
        let models: [Any] = runners.compactMap { r in
            (try? enc.encode(r.status)).flatMap { try? JSONSerialization.jsonObject(with: $0) }
        }
        var rec: [String: Any] = ["state": "off"]
        if let s = recorder?.status {
            rec["state"] = s.stateName
            if case .failed(let m) = s.state { rec["error"] = m }
            rec["mode"] = s.mode
            rec["alert"] = s.alert ?? NSNull()
            rec["session"] = s.sessionDirectory ?? NSNull()
            rec["segments"] = s.segments
            rec["free_mb"] = s.freeMB ?? NSNull()
            rec["frames_skipped_for_disk"] = s.framesSkippedForDisk
            rec["frames_skipped_unmasked"] = s.framesSkippedUnmasked
            rec["file"] = s.currentFile ?? NSNull()
            rec["frames_written"] = s.framesWritten
            rec["frames_dropped"] = s.framesDropped
            rec["sessions"] = s.sessions
            rec["failures"] = s.failures
            rec["bytes_written"] = s.bytesWritten
        }
        return json([
            "type": "status", "version": BedsideVersion.string,
            "uptime_s": (Double(Clock.monotonicNanos() - started) / 1e8).rounded() / 10,
            "source": source, "models": models, "recording": rec, "viewers": viewers, "study": study,
            "viewers_latency": viewersLatency,
        ])
    }

    static func json(_ obj: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Fills in what depends on the machine and the file: each model's download cache
    /// (`<state dir>/model-cache/<name>` unless `cache:` is set) and the config file's path.
    static func withDefaults(_ config: BedsideConfig, configFile: String?) -> BedsideConfig {
        var c = config
        let state = stateDirectory()
        let file = configFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        for i in c.models.indices {
            if c.models[i].cacheDirectory == nil, let state { c.models[i].cacheDirectory = "\(state)/model-cache/\(c.models[i].name)" }
            c.models[i].configFile = file
        }
        return c
    }

    /// Where Bedside keeps its small state (paired tablets): `$BEDSIDE_STATE_DIR`, else
    /// `$XDG_STATE_HOME/bedside`, else `~/.local/state/bedside`. nil (nothing kept) when none can be made.
    static func stateDirectory() -> String? {
        let env = ProcessInfo.processInfo.environment
        let dir =
            env["BEDSIDE_STATE_DIR"] ?? env["XDG_STATE_HOME"].map { $0 + "/bedside" }
            ?? (env["HOME"].map { $0 + "/.local/state/bedside" })
        guard let dir else { return nil }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return nil
        }
        return dir
    }

    /// Six digits, from the system's random source.
    static func randomPIN() -> String {
        String(format: "%06d", Int.random(in: 0..<1_000_000))
    }

    static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return String((0..<16).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
    }

    /// A private folder for worker sockets: `$XDG_RUNTIME_DIR` or /tmp, mode 0700.
    static func runtimeDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/tmp"
        // mkdtemp: a fresh, unpredictable folder with mode 0700 that nobody else can have made first.
        var template = Array("\(base)/bedside-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BedsideError("cannot create a private folder in \(base): \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        _ = FileManager.default.createFile(atPath: "\(folder)/\(WorkerProcess.runtimeMarker)", contents: Data("\(getpid())\n".utf8))
        removeLeftovers(runtimeBase: base)
        return folder
    }

    /// What a Bedside that was killed (SIGKILL, power loss) left behind: its runtime folder (sockets) and its
    /// frame rings in /dev/shm. Only those of processes that no longer exist.
    static func removeLeftovers(runtimeBase: String) {
        let fm = FileManager.default
        func dead(_ pid: Int32?) -> Bool { pid.map(ProcessLiveness.isGone) ?? false }
        // Only what this user made: in /tmp and /dev/shm anyone can plant a `bedside-*` (a symlink, another user's
        // folder), and a recursive delete must not follow it.
        func ours(_ path: String, folder: Bool) -> Bool {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_uid == getuid() else { return false }
            let type = st.st_mode & S_IFMT
            return folder ? type == S_IFDIR : (type == S_IFDIR || type == S_IFREG)
        }
        for name in (try? fm.contentsOfDirectory(atPath: runtimeBase)) ?? [] where name.hasPrefix("bedside-") {
            let folder = "\(runtimeBase)/\(name)"
            guard ours(folder, folder: true),
                let text = try? String(contentsOfFile: "\(folder)/\(WorkerProcess.runtimeMarker)", encoding: .utf8),
                dead(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            else { continue }
            try? fm.removeItem(atPath: folder)
        }
        for name in (try? fm.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where name.hasPrefix("bedside-") {
            let pid = name.dropFirst("bedside-".count).prefix { $0.isNumber }
            if dead(Int32(pid)), ours("/dev/shm/\(name)", folder: false) { try? fm.removeItem(atPath: "/dev/shm/\(name)") }
        }
    }

    /// The first non-loopback IPv4 address, for the URL printed when serving the network.
    static func hostAddress() -> String { hostAddresses().first ?? "0.0.0.0" }

    /// Every non-loopback IPv4 address of this machine, in interface order, without duplicates.
    static func hostAddresses() -> [String] {
        var out: [String] = []
        var addrs: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&addrs) == 0, let first = addrs else { return [] }
        defer { freeifaddrs(addrs) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let a = p {
            if let sa = a.pointee.ifa_addr, sa.pointee.sa_family == UInt16(AF_INET) {
                var host = [CChar](repeating: 0, count: 64)
                getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, 64, nil, 0, NI_NUMERICHOST)
                let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !s.hasPrefix("127."), !out.contains(s) { out.append(s) }
            }
            p = a.pointee.ifa_next
        }
        return out
    }
}

struct BedsideError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Sends the status to every viewer once a second.
struct StatusTicker: Service {
    let hub: Hub
    let status: @Sendable () -> String
    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            hub.broadcast(text: status())
        }
    }
}

/// Ends the run after a fixed time (`--duration`).
struct Timer: Service {
    let seconds: Double
    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}

/// All model runners as one service, so a shutdown stops every model at once rather than one after another
/// (each may need a couple of seconds to let its worker exit).
struct ModelRunners: Service {
    let runners: [ModelRunner]

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for r in runners { group.addTask { try? await r.run() } }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            for r in runners { r.requestStop() }
        }
    }
}

/// A rectangle from the region editor that cannot be used; the message says which and why.
struct RegionError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
