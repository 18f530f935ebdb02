import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Recording
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `bedside replay`: runs the configured model(s) over a recording and writes their predictions (JSON Lines),
/// in the live `predictions.jsonl` format, with `pts_s` = the frame's time in the recording.
public struct ReplayRun: Sendable {
    public enum Pace: String, Sendable, CaseIterable {
        /// Give the model every frame and wait for each answer.
        case everyFrame
        /// Offer frames at the recording's pace; the model skips what it cannot keep up with, as live.
        case realtime
    }

    /// A session folder (video-000.mp4 ..., session.json) or a video file.
    public var recording: String
    /// The config file with the model(s).
    public var config: String
    /// Python interpreter for every model (overrides `python:` in the config).
    public var python: String?
    /// Replay only this model (default: every model in the config).
    public var model: String?
    public var pace: Pace
    /// Where to write the predictions (default: replay-<yyyyMMdd-HHmmss>.jsonl next to the recording).
    public var output: String?

    public init(recording: String, config: String, python: String? = nil, model: String? = nil, pace: Pace = .everyFrame, output: String? = nil) {
        self.recording = recording
        self.config = config
        self.python = python
        self.model = model
        self.pace = pace
        self.output = output
    }

    public func run() async throws {
        var c: BedsideConfig
        do { c = try ConfigLoader.load(path: config) } catch let e as ConfigError {
            throw ReplayError.invalid(e.description)
        }
        if let python { for i in c.models.indices { c.models[i].python = python; c.models[i].command = nil } }
        let (models, notes) = try selectModels(c.models)
        let plan = try RecordingPlan.resolve(recording)
        for note in notes + plan.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        let outputPath = try chooseOutput(plan)

        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "bedside.replay")
        logger.logLevel = .critical  // as in `bedside check`: failures are explained below and in the summary
        AVLog.quiet()

        // Counting the packets first reads every file once: an unreadable one fails before any model starts.
        var total = 0
        for segment in plan.segments {
            do { total += try VideoFileDecoder.packetCount(path: segment.path) } catch let e as FileSourceError {
                throw ReplayError.unreadable(segment.path, e.message)
            }
        }
        let out = try JSONLinesFile(path: outputPath, exclusive: output == nil)
        defer { out.close() }
        let tally = Tally()
        let origin = plan.originNanos
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        let runners = models.map { m in
            ModelRunner(config: m, runtimeDirectory: runtime, logger: logger) { p in
                out.append(PredictionLog.line(for: p, originNanos: origin))
                tally.record(p)
            }
        }
        var roots: [ModelRunner] = []
        for r in runners {
            if let up = r.config.upstream, let source = runners.first(where: { $0.config.name == up }) {
                source.feed(r)
            } else {
                roots.append(r)
            }
        }
        let interrupted = Interruption()
        interrupted.install()
        let harnesses = runners.map(ModelHarness.init)
        for h in harnesses { h.start() }
        func stopModels() async {
            for h in harnesses { h.runner.requestStop() }  // all at once, then wait for each
            for h in harnesses { await h.stop() }
        }

        let names = runners.map(\.config.name).joined(separator: ", ")
        let what = plan.segments.count == 1 ? plan.segments[0].path : "\(plan.segments.count) files in \(plan.folder ?? "")"
        FileHandle.standardError.write(Data("Replaying \(what) (\(total) frames) through \(names)...\n".utf8))
        if let failure = await waitUntilRunning(harnesses, interrupted: interrupted, restartsAllowed: false) {
            await stopModels()
            out.close()
            if out.lines == 0 { unlink(out.path) }  // nothing was replayed: leave no empty file behind
            throw failure
        }

        let reader = FrameReader(plan: plan)
        let progress = ProgressReport(total: total)
        let started = ContinuousClock.now
        var frames = 0
        var lost = 0
        var firstT: Double?
        var lastT: Double?
        var failure: (any Error)?
        do {
            switch pace {
            case .everyFrame:
                var next = try reader.next()
                while case let (frame, t)? = next, !interrupted.isSet {
                    if let e = await waitUntilRunning(harnesses, interrupted: interrupted, restartsAllowed: true) {
                        failure = e
                        break
                    }
                    let before = harnesses.map { $0.mark() }
                    for r in roots { r.offer(frame) }
                    firstT = firstT ?? t
                    lastT = t
                    next = try reader.next()  // decode the next frame while the model works on this one
                    lost += await waitForAnswers(
                        seq: frame.seq, harnesses: harnesses, before: before, interrupted: interrupted)
                    frames += 1
                    progress.update(done: frames, predictions: tally.total, errors: errorCount(runners))
                }
            case .realtime:
                let clock = ContinuousClock()
                var anchor = clock.now
                var anchorT: Double?
                while !interrupted.isSet, case let (frame, t)? = try reader.next() {
                    if let lastT, t - lastT > 1 {
                        anchor = clock.now  // a gap in the recording (paused, a missing file): no point waiting it out
                        anchorT = t
                    }
                    let base = anchorT ?? t
                    anchorT = base
                    let due = anchor + .seconds(t - base)
                    let now = clock.now
                    if due > now {
                        try await Task.sleep(until: due, clock: clock)
                    } else if now - due > .milliseconds(500) {
                        anchor = now  // decoding fell behind the recording's pace: go on from here, no rush
                        anchorT = t
                    }
                    for r in roots { r.offer(frame) }
                    firstT = firstT ?? t
                    lastT = t
                    frames += 1
                    progress.update(done: frames, predictions: tally.total, errors: errorCount(runners))
                }
                await waitUntilSettled(runners, interrupted: interrupted)
            }
        } catch let e as FileSourceError {
            failure = ReplayError.unreadable(e.path, e.message)
        } catch {
            failure = error
        }
        let wall = (ContinuousClock.now - started) / .seconds(1)
        progress.update(done: frames, predictions: tally.total, errors: errorCount(runners), force: true)
        progress.finish()
        let statuses = runners.map(\.status)
        await stopModels()
        out.close()

        // The summary goes to stdout: frames, answers, time, where the file is.
        let video = firstT.flatMap { f in lastT.map { $0 - f + 1 / max(1, reader.fps) } } ?? 0
        let rate = wall > 0 ? Double(frames) / wall : 0
        var lines = [
            "Replayed \(frames) of \(total) frames (\(fmt1(video)) s of video) in \(fmt1(wall)) s: \(fmt1(rate)) frames/s"
                + (pace == .everyFrame ? ", every frame" : ", at the recording's pace")
        ]
        for (r, s) in zip(runners, statuses) {
            var line = "  \(r.config.name): \(tally.count(r.config.name)) predictions, \(s.errors) errors"
            if pace == .realtime { line += ", \(s.skippedFrames) frames skipped (newest-frame)" }
            if s.restarts > 0 { line += ", \(s.restarts) restarts" }
            lines.append(line)
            if s.errors > 0 || s.restarts > 0, let e = s.lastError { lines.append("    last error: \(e)") }
        }
        if lost > 0 { lines.append("  \(lost) answers never came (the worker was restarted or timed out on the frame)") }
        lines.append("Predictions: \(out.path) (\(out.lines) lines\(out.failure.map { "; writing failed: \($0)" } ?? ""))")
        print(lines.joined(separator: "\n"))
        fflush(nil)

        if let failure { throw failure }
        if interrupted.isSet {
            FileHandle.standardError.write(Data("Interrupted: the predictions so far are in \(out.path)\n".utf8))
            throw ReplayError.interrupted(out.path)
        }
        if let e = out.failure { throw ReplayError.output(out.path, e) }
        if frames > 0 && tally.total == 0 {
            throw ReplayError.noAnswers(statuses.compactMap(\.lastError).first, config)
        }
    }

    // MARK: - models

    /// The models to replay, and notes about those left out.
    func selectModels(_ all: [ModelConfig]) throws -> ([ModelConfig], [String]) {
        guard !all.isEmpty else {
            throw ReplayError.invalid("\(config) has no models: add one under `models:` (see researcher-template/bedside.yaml)")
        }
        var notes: [String] = []
        var chosen = all
        if let model {
            guard let m = all.first(where: { $0.name == model }) else {
                throw ReplayError.invalid(
                    "no model named `\(model)` in \(config): it has \(all.map { "`\($0.name)`" }.joined(separator: ", "))")
            }
            // A pipeline model needs its upstream model(s) to get frames at all.
            chosen = [m]
            var current = m
            while let up = current.upstream, let u = all.first(where: { $0.name == up }), !chosen.contains(u) {
                notes.append("\(current.name) takes its frames from \(u.name) (upstream:): replaying \(u.name) as well")
                chosen.insert(u, at: 0)
                current = u
            }
        }
        if pace == .everyFrame {
            for m in chosen where m.trigger == "freeze" {
                notes.append(
                    "\(m.name) infers only when the image freezes (trigger: freeze), which depends on the pace: skipped; replay it with --realtime")
            }
            chosen.removeAll { $0.trigger == "freeze" }
        }
        // Pipeline models whose upstream is not replayed would get no frames.
        var changed = true
        while changed {
            changed = false
            for m in chosen {
                if let up = m.upstream, !chosen.contains(where: { $0.name == up }) {
                    notes.append("\(m.name) takes its frames from \(up) (upstream:), which is not replayed: skipped")
                    chosen.removeAll { $0.name == m.name }
                    changed = true
                    break
                }
            }
        }
        guard !chosen.isEmpty else {
            throw ReplayError.invalid("no model left to replay (\(notes.joined(separator: "; ")))")
        }
        return (chosen, notes)
    }

    /// Waits until every model is running. Before the first frame (`restartsAllowed` false) a model that fails
    /// to start is an error, as in `bedside check`; later, a restarting model gets its start-up time to come back.
    func waitUntilRunning(_ harnesses: [ModelHarness], interrupted: Interruption, restartsAllowed: Bool) async -> (any Error)? {
        let begin = ContinuousClock.now
        for h in harnesses {  // they start side by side: waiting for each in turn takes as long as the slowest
            let limit = h.config.startupTimeoutSeconds + (restartsAllowed ? 35 : 5)
            let left = max(.zero, .seconds(limit) - (ContinuousClock.now - begin))
            let why: String
            switch await h.waitUntilRunning(
                timeout: left, failFast: !restartsAllowed, poll: .milliseconds(20), stopWaiting: { interrupted.isSet })
            {
            case .running: continue
            case .interrupted: return nil
            case .failed(let e): why = e
            case .timedOut(let e): why = e ?? "not ready within \(Int(limit)) s"
            }
            var text = why
            if text.hasPrefix("model \(h.name): ") { text.removeFirst("model \(h.name): ".count) }
            let tail = h.runner.status.stderrTail.suffix(8).map { "\n    | \($0)" }.joined()
            return ReplayError.modelFailed(
                h.name, restartsAllowed ? "did not come back after a restart: \(text)" : "did not start: \(text)", tail, config)
        }
        return nil
    }

    /// Every frame: waits until each model answered frame `seq`, answered it with an error, lost it (its worker
    /// was restarted), or its time (timeout_s + 5 s) ran out (ModelHarness's rule). A pipeline model waits for its
    /// upstream's answer first and is done at once when there is none. Returns how many answers never came.
    func waitForAnswers(
        seq: UInt64, harnesses: [ModelHarness], before: [ModelHarness.Mark], interrupted: Interruption
    ) async -> Int {
        enum Outcome { case answered, failed, lost }
        var outcomes: [String: Outcome] = [:]
        var since: [String: ContinuousClock.Instant] = [:]
        var lost = 0
        while outcomes.count < harnesses.count && !interrupted.isSet {
            let now = ContinuousClock.now
            for (i, h) in harnesses.enumerated() where outcomes[h.name] == nil {
                if let up = h.config.upstream {
                    guard let u = outcomes[up] else { continue }
                    if u != .answered {
                        outcomes[h.name] = .failed
                        continue
                    }
                }
                let start = since[h.name] ?? now
                since[h.name] = start
                switch h.outcome(of: seq, since: before[i], started: start) {
                case nil: break
                case .answered: outcomes[h.name] = .answered
                case .failed: outcomes[h.name] = .failed
                case .lost, .interrupted:
                    outcomes[h.name] = .lost
                    lost += 1
                }
            }
            if outcomes.count < harnesses.count { try? await Task.sleep(for: .milliseconds(1)) }
        }
        return lost
    }

    /// At the recording's pace: after the last frame, waits until every model has answered what it was sent.
    func waitUntilSettled(_ runners: [ModelRunner], interrupted: Interruption) async {
        let limit = (runners.map(\.config.timeoutSeconds).max() ?? 10) + 5
        let begin = ContinuousClock.now
        var quiet = 0
        while quiet < 3 && !interrupted.isSet && ContinuousClock.now - begin < .seconds(limit) {
            try? await Task.sleep(for: .milliseconds(50))
            let settled = runners.allSatisfy { r in
                let s = r.status
                return s.state != .running || s.framesSent <= s.predictions + s.errors
            }
            quiet = settled ? quiet + 1 : 0
        }
    }

    func errorCount(_ runners: [ModelRunner]) -> UInt64 { runners.reduce(0) { $0 + $1.status.errors } }

    // MARK: - output

    /// `--output`, else `replay-<yyyyMMdd-HHmmss>.jsonl` in the session folder (a lone file: `<name>-replay-...`).
    func chooseOutput(_ plan: RecordingPlan) throws -> String {
        if let output {
            let resolved = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
            if let live = plan.livePredictions,
                resolved == URL(fileURLWithPath: live).standardizedFileURL.resolvingSymlinksInPath().path
            {
                throw ReplayError.invalid(
                    "--output \(output) is the live run's predictions file; replay never overwrites it: choose another name")
            }
            return output
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date())
        if let folder = plan.folder {
            return (folder as NSString).appendingPathComponent("replay-\(stamp).jsonl")
        }
        let file = plan.segments[0].path as NSString
        let name = (file.lastPathComponent as NSString).deletingPathExtension
        return (file.deletingLastPathComponent as NSString).appendingPathComponent("\(name)-replay-\(stamp).jsonl")
    }

    func fmt1(_ v: Double) -> String { String(format: "%.1f", v) }
}

// MARK: - errors

public enum ReplayError: Error, CustomStringConvertible {
    /// A request that cannot be replayed as given (the command line's fault): the text says why and how.
    case invalid(String)
    /// Ctrl-C: the predictions so far are in the file.
    case interrupted(String)
    case missing(String)
    case noVideo(String)
    case unreadable(String, String)
    case modelFailed(String, String, String, String)
    case output(String, String)
    case noAnswers(String?, String)

    public var description: String {
        switch self {
        case .invalid(let text): text
        case .interrupted(let path): "interrupted: the predictions so far are in \(path)"
        case .missing(let path):
            "no recording at \(path): give a session folder (e.g. recordings/20250101-093000) or a video file (.mp4)"
        case .noVideo(let folder):
            "\(folder) has no video files (video-000.mp4 ...): give a Bedside session folder (the one with session.json and video-000.mp4) or a video file"
        case .unreadable(let path, let why):
            "cannot read the video \(path): \(why). Check the file with `ffprobe \(path)`; a recording cut short plays up to its last complete fragment, a file that is not a video cannot be replayed"
        case .modelFailed(let name, let why, let tail, let config):
            "model \(name) \(why)\(tail)\n`bedside check --config \(config)` starts the model alone and says more."
        case .output(let path, let why):
            "cannot write the predictions to \(path): \(why): choose another file with --output"
        case .noAnswers(let last, let config):
            "no model answered any frame\(last.map { " (last error: \($0))" } ?? ""): `bedside check --config \(config)` says more"
        }
    }
}

// MARK: - the recording

/// What to replay: the video files in order, each with where it starts on the session's timeline.
struct RecordingPlan {
    struct Segment {
        var path: String
        /// Nanoseconds from the session's time 0 to this file's first frame; nil: right after the previous file.
        var offsetNanos: UInt64?
    }

    var segments: [Segment]
    /// `pts_ns` of the session's time 0 (its first frame's capture time, from session.json; 0 for a lone file).
    var originNanos: UInt64
    /// The session folder (default output folder); nil for a lone video file.
    var folder: String?
    /// The live run's predictions file, which replay must never overwrite.
    var livePredictions: String?
    var fps: Double?
    var notes: [String] = []

    static func resolve(_ path: String) throws -> RecordingPlan {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ReplayError.missing(path) }
        if isDir.boolValue { return try folder(path) }
        // A file inside a session folder keeps the session's timeline.
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        if let session = readSession(parent.isEmpty ? "." : parent), var plan = try? folder(parent.isEmpty ? "." : parent, session: session),
            let seg = plan.segments.first(where: { ($0.path as NSString).lastPathComponent == name })
        {
            plan.segments = [seg]
            plan.folder = nil
            if seg.offsetNanos == nil {
                plan.notes.append("session.json gives no start time for \(name): its pts_s count from its own first frame")
                plan.segments[0].offsetNanos = 0
            }
            return plan
        }
        return RecordingPlan(segments: [Segment(path: path, offsetNanos: 0)], originNanos: 0, folder: nil, livePredictions: nil)
    }

    static func readSession(_ folder: String) -> SessionInfo? {
        try? SessionInfo.load(folder: folder)
    }

    static func folder(_ folder: String, session given: SessionInfo? = nil) throws -> RecordingPlan {
        let session = given ?? readSession(folder)
        let fm = FileManager.default
        let origin = session?.firstFramePtsNs
        var notes: [String] = []
        var segments: [Segment] = []
        if let list = session?.segments, !list.isEmpty {
            for (i, s) in list.enumerated() {
                var offset: UInt64?
                if let first = s.firstPtsNs, let origin, first >= origin {
                    offset = first - origin
                } else if i == 0 || s.startS > 0 {
                    offset = UInt64(max(0, (s.startS * 1e9).rounded()))
                }
                segments.append(Segment(path: (folder as NSString).appendingPathComponent(s.file), offsetNanos: offset))
            }
        } else {
            var names = session?.videoFiles ?? []
            if names.isEmpty {
                let all = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
                names = all.filter { $0.hasPrefix("video-") && $0.hasSuffix(".mp4") }.sorted()
                if names.isEmpty {
                    let videos = ["mp4", "mov", "mkv", "avi", "webm"]
                    names = all.filter { videos.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                }
            }
            segments = names.enumerated().map { i, name in
                Segment(path: (folder as NSString).appendingPathComponent(name), offsetNanos: i == 0 ? 0 : nil)
            }
            if segments.count > 1 {
                notes.append("session.json gives no start times for the video files: assuming each follows the previous one")
            }
        }
        let present = segments.filter { fm.fileExists(atPath: $0.path) }
        for s in segments where !fm.fileExists(atPath: s.path) {
            notes.append("\((s.path as NSString).lastPathComponent) is listed in session.json but missing: skipped")
        }
        guard !present.isEmpty else { throw ReplayError.noVideo(folder) }
        let predictions = session?.predictionsFile ?? "predictions.jsonl"
        return RecordingPlan(
            segments: present, originNanos: origin ?? 0, folder: folder,
            livePredictions: (folder as NSString).appendingPathComponent(predictions),
            fps: session.map(\.fps).flatMap { $0 > 0 ? $0 : nil }, notes: notes)
    }
}

/// Decodes the plan's files in order into frames (yuv420p, as recorded) with `ptsNanos` on the session's
/// clock: `pts_s` of a frame = its segment's start + its time in the file (from the stream's start time).
final class FrameReader {
    let plan: RecordingPlan
    private var index = -1
    private var decoder: VideoFileDecoder?
    private var segmentOffset = 0.0
    private var streamStart = 0.0
    private var seq: UInt64 = 0
    private var lastT: Double?
    /// The current file's frame rate.
    private(set) var fps = 25.0

    init(plan: RecordingPlan) {
        self.plan = plan
        fps = plan.fps ?? 25
    }

    /// The next frame and its time in the recording (seconds), or nil after the last file.
    func next() throws -> (Frame, Double)? {
        while true {
            if decoder == nil {
                index += 1
                guard index < plan.segments.count else { return nil }
                let segment = plan.segments[index]
                let d = try VideoFileDecoder(path: segment.path)
                decoder = d
                fps = d.fps > 0 ? d.fps : fps
                streamStart = d.startSeconds ?? 0
                if let offset = segment.offsetNanos {
                    segmentOffset = Double(offset) / 1e9
                } else {
                    segmentOffset = (lastT ?? -1 / fps) + 1 / fps
                }
            }
            guard let picture = try decoder!.next(as: .yuv420p) else {
                decoder = nil
                continue
            }
            var t: Double
            if let s = picture.seconds {
                t = segmentOffset + (s - streamStart)
            } else {
                t = (lastT ?? segmentOffset - 1 / fps) + 1 / fps
            }
            t = max(0, t)
            lastT = t
            let frame = Frame(
                seq: seq, ptsNanos: plan.originNanos + UInt64((t * 1e9).rounded()), wallClock: 0, width: picture.width,
                height: picture.height, format: .yuv420p, pixels: picture.pixels)
            seq += 1
            return (frame, t)
        }
    }
}

// MARK: - predictions

/// What came back, per model: the newest answered frame and the count.
final class Tally: Sendable {
    private struct Model {
        var lastSeq: UInt64?
        var count = 0
    }

    private let state = Mutex<[String: Model]>([:])

    func record(_ p: Prediction) {
        state.withLock { s in
            s[p.model, default: Model()].count += 1
            s[p.model]!.lastSeq = max(s[p.model]!.lastSeq ?? 0, p.seq)
        }
    }

    func lastSeq(_ model: String) -> UInt64? { state.withLock { $0[model]?.lastSeq } }
    func count(_ model: String) -> Int { state.withLock { $0[model]?.count ?? 0 } }
    var total: Int { state.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}

/// A JSON Lines file written from the runners' threads: one `write(2)` per line under a lock.
final class JSONLinesFile: Sendable {
    private struct State {
        var fd: Int32
        var lines = 0
        var failure: String?
    }

    private let state: Mutex<State>
    /// The file's path (with the suffix an exclusive open may have added).
    let path: String

    /// `exclusive`: never replace an existing file (a name taken gets `-2`, `-3` ... before the extension).
    init(path: String, exclusive: Bool) throws {
        var fd: Int32
        if exclusive {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            var n = 2
            var name = path
            let base = (path as NSString).deletingPathExtension, ext = (path as NSString).pathExtension
            while fd < 0 && errno == EEXIST && n < 100 {
                name = "\(base)-\(n).\(ext)"
                fd = Glibc.open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                n += 1
            }
            self.path = name
        } else {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            self.path = path
        }
        guard fd >= 0 else { throw ReplayError.output(path, SystemError.last("open").reason) }
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 { _ = Glibc.close(s.fd) }
        }
    }

    func append(_ line: String) {
        state.withLock { s in
            guard s.fd >= 0, s.failure == nil else { return }
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            let n = bytes.withUnsafeBytes { Glibc.write(s.fd, $0.baseAddress, $0.count) }
            if n == bytes.count { s.lines += 1 } else { s.failure = n < 0 ? SystemError.last("write").reason : "short write" }
        }
    }

    var lines: Int { state.withLock { $0.lines } }
    var failure: String? { state.withLock { $0.failure } }

    func close() {
        state.withLock { s in
            if s.fd >= 0 { _ = Glibc.close(s.fd) }
            s.fd = -1
        }
    }
}

// MARK: - terminal

/// Set by the SIGINT / SIGTERM handler (an atomic store is all a signal handler may do).
private let interruptSignalled = Atomic<Bool>(false)

/// Ctrl-C (SIGINT) or SIGTERM: stop feeding frames, stop the models, keep what was written.
final class Interruption: Sendable {
    var isSet: Bool { interruptSignalled.load(ordering: .relaxed) }

    func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in interruptSignalled.store(true, ordering: .relaxed) }
        }
    }
}

/// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
final class ProgressReport {
    let total: Int
    let tty = isatty(STDERR_FILENO) != 0
    private let start = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var drew = false
    private var printedDone: Int?

    init(total: Int) { self.total = total }

    func update(done: Int, predictions: Int, errors: UInt64, force: Bool = false) {
        let now = ContinuousClock.now
        if !force, let lastDraw, now - lastDraw < (tty ? .milliseconds(100) : .seconds(5)) { return }
        if !force && !tty && lastDraw == nil {
            lastDraw = now  // the first plain line after a few seconds, not at frame 1
            return
        }
        if force && !tty && printedDone == done { return }
        printedDone = done
        lastDraw = now
        let elapsed = (now - start) / .seconds(1)
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let rate = elapsed > 0 ? Double(predictions) / elapsed : 0
        var eta = "?"
        if done > 0 && elapsed > 0 {
            let s = Int((elapsed / Double(done) * Double(max(0, total - done))).rounded())
            eta = s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
        }
        let percent = Int((fraction * 100).rounded(.down))
        let errs = errors > 0 ? "  \(errors) errors" : ""
        if tty {
            let width = 24
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
            let pct = String(repeating: " ", count: max(0, 3 - String(percent).count)) + "\(percent)"
            let line = "\(pct)% [\(bar)] \(done)/\(total) frames  \(String(format: "%.1f", rate)) pred/s  ETA \(eta)\(errs)"
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            drew = true
        } else {
            let line = "replay: \(percent)% (\(done)/\(total) frames), \(String(format: "%.1f", rate)) predictions/s, ETA \(eta)\(errs)"
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func finish() {
        if tty && drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
