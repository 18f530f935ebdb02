import BedsideCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The recorder's I/O: what `RecordingStateMachine` asks for, done on the encoder thread, with the results fed back.
extension Recorder {
    typealias Action = RecordingStateMachine.Action

    /// Does `actions` in order; `frame` is the frame a `writeFrame` writes.
    func perform(_ actions: [Action], _ session: inout OpenSession?, frame: Frame? = nil) {
        for action in actions {
            switch action {
            case .openSession(let retry):
                if retry {
                    logger.info("trying to record again after the failure")
                    shared.withLock { sh in
                        sh.originNanos = nil
                        sh.predictions = PredictionLog()
                    }
                }
                do {
                    let s = try openSession()
                    session = s
                    perform(machine { $0.sessionOpened(folder: s.folder, now: Clock.monotonicNanos()) }, &session)
                } catch {
                    perform(machine { $0.failed("\(error)", now: Clock.monotonicNanos()) }, &session)
                }
            case .finishSession:
                if let s = session {
                    session = nil
                    finishSession(s)
                }
            case .closeFile:
                if let s = session { try? finishWriter(s) }
            case .writeFrame(let newFile):
                if let s = session, let frame { perform(write(frame, to: s, newFile: newFile), &session) }
            case .notePause(let reason):
                shared.withLock { sh in
                    sh.session?.pauses.append(.init(atWall: SessionInfo.iso8601(BedsideCore.Clock.wallSeconds()), reason: reason))
                }
                if let s = session { writeSession(s) }
                logger.error("\(reason)")
            case .noteResume(let message):
                shared.withLock { sh in
                    if let n = sh.session?.pauses.count, n > 0 {
                        sh.session?.pauses[n - 1].resumedWall = SessionInfo.iso8601(BedsideCore.Clock.wallSeconds())
                    }
                }
                if let s = session { writeSession(s) }
                logger.info("\(message)")
            case .noteFailure(let message):
                shared.withLock { sh in
                    sh.session?.state = .failed
                    sh.session?.error = message
                }
                logger.error("recording stopped", metadata: ["error": "\(message)"])
            case .checkDisk:
                guard let s = session else { break }
                if FileManager.default.fileExists(atPath: s.folder) {
                    let free = Self.freeMB(s.folder)
                    perform(machine { $0.diskChecked(freeMB: free) }, &session)
                } else {
                    perform(machine { $0.folderMissing() }, &session)
                }
            case .remakeFolder:
                guard let s = session else { break }
                do {
                    try Self.makeDirectories(s.folder)
                    try s.log?.open(path: (s.folder as NSString).appendingPathComponent("predictions.jsonl"))
                    perform(machine { $0.folderRemade(s.folder) }, &session)
                } catch {
                    let message = "the recording folder \(s.folder) was deleted and cannot be made again: \(error)"
                    perform(machine { $0.failed(message, now: Clock.monotonicNanos()) }, &session)
                }
            case .writeSessionFile:
                if let s = session { writeSession(s) }
            case .applyRetention:
                applyRetention(keeping: session?.folder)
            }
        }
    }

    /// Creates the session folder, `predictions.jsonl` and the session's `SessionInfo`.
    private func openSession() throws -> OpenSession {
        let base = baseDirectory
        let start = BedsideCore.Clock.wallSeconds()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date(timeIntervalSince1970: start))
        try Self.makeDirectories(base)
        // mkdir(2) of the session folder itself is the existence check: a second session in the same second gets "-2".
        var folder = (base as NSString).appendingPathComponent(stamp)
        var n = 1
        while mkdir(folder, 0o755) != 0 {
            let failure = SystemError.last("mkdir(\(folder))")
            guard failure.errno == EEXIST, n < 100 else {
                throw RecordingError("cannot create the recording folder \(folder)", failure)
            }
            n += 1
            folder = (base as NSString).appendingPathComponent("\(stamp)-\(n)")
        }
        let log = shared.withLock { $0.predictions }
        try log?.open(path: (folder as NSString).appendingPathComponent("predictions.jsonl"))
        shared.withLock { sh in
            var info = SessionInfo(
                bedsideVersion: version, source: sourceDescription, startWall: SessionInfo.iso8601(start),
                startEpoch: start, fps: nominalFPS, models: models)
            info.mode = config.mode
            info.pid = getpid()
            info.configFile = configFile
            info.configSha256 = configDigest
            info.privacy = .init(allowUnmasked: !requireMasks, changes: [Self.maskSet(sh.privacy)])
            sh.session = info
        }
        logger.info("recording session", metadata: ["folder": "\(folder)", "source": "\(sourceDescription)"])
        return OpenSession(folder: folder, log: log)
    }

    /// `mkdir -p`: creates `path` and its missing parents; the error names the folder and the reason.
    static func makeDirectories(_ path: String) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw RecordingError("cannot create the recording folder \(current)", .last("mkdir(\(current))"))
            }
        }
    }

    /// Writes one frame, in a new file when `newFile`; returns what the machine says to the result.
    private func write(_ frame: Frame, to s: OpenSession, newFile: Bool) -> [Action] {
        do {
            let w: Mp4Writer
            if let writer = s.writer, !newFile {
                w = writer
            } else {
                try finishWriter(s)
                w = try openWriter(s, first: frame)
            }
            try w.write(frame)
            let written = RecordingStateMachine.Written(
                fileSeconds: w.durationSeconds, fileBytes: w.bytesWritten, sessionBytes: s.bytesBeforeWriter + w.bytesWritten)
            machine { $0.frameWritten(written) }
            return []
        } catch {
            let free = Self.freeMB(s.folder)
            return machine { $0.writeFailed("\(error)", freeMB: free, now: Clock.monotonicNanos()) }
        }
    }

    private func openWriter(_ s: OpenSession, first frame: Frame) throws -> Mp4Writer {
        let name = String(format: "video-%03d.mp4", s.nextSegment)
        s.nextSegment += 1
        let path = (s.folder as NSString).appendingPathComponent(name)
        let w = try Mp4Writer(path: path, width: frame.width, height: frame.height, fps: nominalFPS, settings: settings)
        s.writer = w
        shared.withLock { sh in
            sh.machine.fileOpened(path: path, codec: w.codecName)
            let origin = sh.originNanos ?? frame.ptsNanos
            let start = Double(Int64(bitPattern: frame.ptsNanos &- origin)) / 1e9
            sh.session?.width = w.width
            sh.session?.height = w.height
            sh.session?.codec = w.codecName
            let first = sh.session?.firstFramePtsNs ?? origin
            sh.session?.firstFramePtsNs = first
            sh.session?.videoFiles.append(name)
            sh.session?.segments.append(.init(file: name, startS: max(0, start), firstPtsNs: frame.ptsNanos))
        }
        writeSession(s)
        logger.info("encoding", metadata: ["file": "\(path)", "codec": "\(w.codecName)", "size": "\(w.width)x\(w.height)"])
        return w
    }

    /// Finalises the current file (last fragment, trailer) and records its length in `session.json`.
    private func finishWriter(_ s: OpenSession) throws {
        guard let w = s.writer else { return }
        s.writer = nil
        defer {
            s.bytesBeforeWriter += w.bytesWritten
            let frames = w.framesWritten, duration = w.durationSeconds
            shared.withLock { sh in
                if let n = sh.session?.segments.count, n > 0 {
                    sh.session?.segments[n - 1].frames = frames
                    sh.session?.segments[n - 1].durationS = duration
                }
                let end = (sh.session?.segments.last).map { $0.startS + $0.durationS }
                sh.session?.durationS = end
            }
            writeSession(s)
        }
        try w.finish()
    }

    private func finishSession(_ s: OpenSession) {
        do {
            try finishWriter(s)
        } catch {
            var none: OpenSession?
            perform(machine { $0.closeFailed("\(error)", now: Clock.monotonicNanos()) }, &none)
        }
        s.log?.close()
        shared.withLock { sh in
            let end = BedsideCore.Clock.wallSeconds()
            sh.session?.endEpoch = end
            sh.session?.endWall = SessionInfo.iso8601(end)
            if sh.session?.state != .failed { sh.session?.state = .finished }
            sh.session?.framesSkippedForDisk = sh.machine.status.framesSkippedForDisk
            sh.session?.framesSkippedUnmasked = sh.machine.status.framesSkippedUnmasked
        }
        // session.json says "finished" before the status does: whoever sees `idle` finds the files complete.
        writeSession(s)
        machine { $0.sessionClosed() }
        let st = status
        logger.info(
            "recording finished",
            metadata: [
                "folder": "\(s.folder)", "files": "\(st.segments)", "frames": "\(st.framesWritten)",
                "dropped": "\(st.framesDropped)", "bytes": "\(st.bytesWritten)",
            ])
    }

    /// Free space of the filesystem holding `path`, in MB (for the unprivileged user: `f_bavail`).
    static func freeMB(_ path: String) -> Int? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int(UInt64(st.f_bavail) * UInt64(st.f_frsize) / 1_048_576)
    }

    /// Deletes the oldest session folders while all of them together take more than `keep_gb`.
    private func applyRetention(keeping current: String?) {
        guard let keepGB = config.keepGB else { return }
        let base = baseDirectory
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: base) else { return }
        var sessions: [(path: String, bytes: Int64)] = []
        for name in names.sorted() {
            let path = (base as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: path + "/" + SessionInfo.fileName) else { continue }  // only Bedside's own folders
            var bytes: Int64 = 0
            for file in (try? fm.contentsOfDirectory(atPath: path)) ?? [] {
                let size = (try? fm.attributesOfItem(atPath: path + "/" + file)[.size] as? NSNumber)?.int64Value ?? 0
                bytes += size
            }
            sessions.append((path, bytes))
        }
        var total = sessions.reduce(0) { $0 + $1.bytes }
        let limit = Int64(keepGB * 1_073_741_824)
        for s in sessions where total > limit && s.path != current {
            do {
                try fm.removeItem(atPath: s.path)
                total -= s.bytes
                logger.info("retention: deleted the oldest session", metadata: ["folder": "\(s.path)", "keep_gb": "\(keepGB)"])
            } catch {
                logger.warning("retention: cannot delete \(s.path): \(error)")
            }
        }
    }

    /// Rewrites `session.json` with the current counters; a failure to write it is logged, not fatal.
    func writeSession(_ s: OpenSession) {
        guard
            var info = shared.withLock({ sh -> SessionInfo? in
                guard var i = sh.session else { return nil }
                i.framesWritten = sh.machine.status.framesWritten
                i.modelVersions = sh.modelVersions
                return i
            })
        else { return }
        info.framesDropped = framesDropped
        do {
            try info.write(to: (s.folder as NSString).appendingPathComponent(SessionInfo.fileName))
        } catch {
            logger.warning("cannot write session.json", metadata: ["folder": "\(s.folder)", "error": "\(error)"])
        }
    }
}
