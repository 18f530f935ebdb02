import BedsideCore
import Foundation
import Logging
import Recording
import Synchronization

/// Study sessions: the arm every tablet follows, the session log (`study.jsonl`) in the session's recording
/// folder, time to plane, snapshots and notes.
///
/// The arm is applied here, on the server: `shownResult(for:)` gives the prediction a tablet may receive in the
/// current arm, or nil (control arm: nothing at all). The model keeps running and every answer is still
/// recorded in predictions.jsonl.
public final class StudyController: Sendable {
    struct Session {
        var participant: String
        var arm: String
        var targets: [String]
        var startWall: Double
        var folder: String
        var log: SessionLogFile
        var ttp: TimeToPlane
        var lastShown: ShownState?
        var modelStates: [String: String] = [:]
        var snapshots = 0
        var notes: [String] = []
    }

    private struct State {
        var arm: StudyArm
        var session: Session?
        /// The last session's summary (shown until the next session starts).
        var last: SessionSummary?
    }

    public let config: StudyConfig
    private let state: Mutex<State>
    private let recorder: Recorder?
    private let recordingDirectory: String
    private let logger: Logger

    /// Models with `show: false`: their answers never reach a tablet, in any arm.
    public let silentModels: Set<String>

    public init(
        config: StudyConfig, recorder: Recorder?, recordingDirectory: String, logger: Logger, silentModels: Set<String> = []
    ) {
        self.silentModels = silentModels
        self.config = config
        self.recorder = recorder
        self.recordingDirectory = recordingDirectory
        self.logger = logger
        let arm = config.arm(named: config.defaultArm) ?? StudyArm.builtIn[0]
        state = Mutex(State(arm: arm, session: nil))
    }

    public var arm: StudyArm { state.withLock { $0.arm } }

    /// The current study state for `/api/status` and the page (`study` key).
    public var status: StudyStatus {
        state.withLock { s in
            var o = StudyStatus(arm: s.arm, arms: config.arms.map(\.name))
            if let ss = s.session {
                o.active = true
                o.participant = ss.participant
                o.targets = ss.targets
                o.folder = ss.folder
                o.elapsedS = (Date().timeIntervalSince1970 - ss.startWall).rounded()
                o.timeToPlane = ss.ttp.summary
                o.snapshots = ss.snapshots
            } else {
                o.lastSession = s.last
            }
            return o
        }
    }

    /// What of a prediction a tablet may receive now: the arm's part of the result (nil: nothing at all), and
    /// whether the phantom's ground truth may go with it (the answer key: only to an arm that shows everything).
    public func shown(_ p: Prediction) -> Prediction? {
        Self.shown(p, arm: self.arm, silent: silentModels)
    }

    /// What of an answer the tablets get in `arm`: nothing of a silent model's, whatever the arm; the arm's part
    /// of the others'. Pure: the one place that decides.
    public static func shown(_ p: Prediction, arm: StudyArm, silent: Set<String>) -> Prediction? {
        guard !silent.contains(p.model) else { return nil }
        guard let filtered = arm.filter(resultJSON: p.resultJSON) else { return nil }
        var shown = p
        shown.resultJSON = filtered
        if !arm.showsEverything { shown.truth = nil }
        return shown
    }

    // MARK: sessions

    /// Starts a session: a fresh recording session (its folder holds everything of this session), the arm,
    /// and the log's first line. Returns the folder.
    public func start(participant raw: String, arm armName: String?, targets: [String]?, notes: String?) async throws -> String {
        let participant = try StudyError.checkParticipant(raw)
        // No arm named: the one the admin chose before starting (the default until then), never silently `full`.
        let name = armName ?? state.withLock { $0.arm.name }
        guard let arm = config.arm(named: name) else { throw StudyError.unknownArm(name, config.arms.map(\.name)) }
        if let running = state.withLock({ $0.session?.participant }) { throw StudyError.already(running) }
        let targets = targets ?? config.targets
        let folder = try await openFolder(participant: participant)
        let log: SessionLogFile
        do { log = try SessionLogFile(path: folder + "/study.jsonl") } catch { throw StudyError.folder("\(error)") }
        let session = Session(
            participant: participant, arm: arm.name, targets: targets, startWall: Date().timeIntervalSince1970,
            folder: folder, log: log, ttp: TimeToPlane(targets: targets, startNanos: Clock.monotonicNanos()))
        state.withLock { s in
            s.arm = arm
            s.session = session
        }
        write(.start(participant: participant, arm: arm.name, shows: arm.shows, targets: targets, notes: notes ?? "", recording: recorder != nil))
        if let notes, !notes.isEmpty { state.withLock { $0.session?.notes.append(notes) } }
        logger.notice("study session started", metadata: ["participant": "\(participant)", "arm": "\(arm.name)", "folder": "\(folder)"])
        return folder
    }

    /// A new recording session for the study (the recorder makes the folder); without recording, a folder of
    /// its own under the recordings directory.
    private func openFolder(participant: String) async throws -> String {
        if let recorder {
            let before = recorder.status.sessionDirectory
            recorder.stopSession()
            let deadline = ContinuousClock.now + .seconds(10)
            while !recorder.startSession() {  // the old session is still finishing its file
                guard ContinuousClock.now < deadline else { throw StudyError.folder("the recorder did not start a new session") }
                try await Task.sleep(for: .milliseconds(20))
            }
            while ContinuousClock.now < deadline {
                let st = recorder.status
                if let d = st.sessionDirectory, d != before, st.state != .idle { return d }
                if case .failed(let m) = st.state { throw StudyError.folder(m) }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw StudyError.folder("the recorder did not open a session folder within 10 s")
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let folder = (recordingDirectory as NSString).appendingPathComponent("\(f.string(from: Date()))-study-\(participant)")
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StudyError.folder("\(folder): \(error)")
        }
        return folder
    }

    /// Ends the session: the log's last line with time to plane; recording goes back to its mode.
    public func end() async throws -> SessionSummary {
        guard
            let session = state.withLock({ s -> Session? in
                defer { s.session = nil }
                return s.session
            })
        else { throw StudyError.noSession }
        let duration = Date().timeIntervalSince1970 - session.startWall
        let summary = SessionSummary(
            participant: session.participant, arm: session.arm, folder: session.folder,
            durationS: (duration * 10).rounded() / 10, timeToPlane: session.ttp.summary, snapshots: session.snapshots)
        state.withLock { s in
            Self.append(.end(summary), to: session)
            session.log.close()
            s.last = summary
        }
        if let recorder {
            recorder.stopSession()
            if recorder.config.mode == "always" {
                let deadline = ContinuousClock.now + .seconds(10)
                while !recorder.startSession() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            }
        }
        logger.notice("study session ended", metadata: ["participant": "\(session.participant)", "folder": "\(session.folder)"])
        return summary
    }

    /// Switches every tablet to `name` (the caller broadcasts the new status at once).
    public func setArm(_ name: String) throws {
        guard let arm = config.arm(named: name) else { throw StudyError.unknownArm(name, config.arms.map(\.name)) }
        let changed = state.withLock { s -> Bool in
            defer {
                s.arm = arm
                s.session?.arm = arm.name
                s.session?.lastShown = nil
            }
            return s.arm != arm
        }
        if changed {
            write(.arm(arm: arm.name, shows: arm.shows))
            logger.notice("study arm changed", metadata: ["arm": "\(arm.name)"])
        }
    }

    /// A note in the running session's log; false when no session is running.
    @discardableResult
    public func note(_ text: String) -> Bool {
        let clean = String(text.prefix(2000))
        guard
            state.withLock({ s -> Bool in
                s.session?.notes.append(clean)
                return s.session != nil
            })
        else { return false }
        write(.note(text: clean))
        return true
    }

    /// Every model answer: what the tablets were shown (when it changed) and time to plane.
    public func observe(_ p: Prediction, followed: Bool) {
        guard followed else { return }
        let arm = self.arm
        let shown = Self.shownState(p, arm: arm)
        state.withLock { s in
            guard var session = s.session else { return }
            if let r = session.ttp.observe(plane: p.plane, status: p.status, ptsNanos: p.ptsNanos) {
                Self.append(.planeReached(plane: r.plane, seconds: (r.seconds * 1000).rounded() / 1000, seq: p.seq), to: session)
            }
            if shown != session.lastShown {
                session.lastShown = shown
                Self.append(.shown(seq: p.seq, ptsNanos: p.ptsNanos, model: p.model, shown: shown), to: session)
            }
            s.session = session
        }
    }

    /// What the tablets show of `p` in `arm`, in the arm's terms.
    static func shownState(_ p: Prediction, arm: StudyArm) -> ShownState {
        var shown = ShownState()
        if arm.shows.contains(.banner) {
            shown.plane = .some(p.plane)
            shown.status = .some(p.status)
        }
        if arm.shows.contains(.concepts), let concepts = JSONValue(parsing: p.resultJSON)?["concepts"]?.arrayValue {
            shown.conceptsPresent = concepts.compactMap { c in c["present"] == .bool(true) ? c["name"]?.stringValue : nil }
        }
        if shown == ShownState() { shown.nothing = true }
        return shown
    }

    /// A snapshot was saved: counted for the plane the model showed, logged with its files.
    public func snapshot(png: String, json: String, plane: String?, status: String?) {
        state.withLock { s in
            guard s.session != nil else { return }
            s.session!.snapshots += 1
            s.session!.ttp.snapshot(plane: status == "standard" ? plane : nil)
            Self.append(
                .snapshot(png: (png as NSString).lastPathComponent, json: (json as NSString).lastPathComponent, plane: plane, status: status),
                to: s.session!)
        }
    }

    /// Model state changes during a session (from the status ticks).
    public func modelStates(_ states: [String: String]) {
        state.withLock { s in
            guard s.session != nil else { return }
            for (name, st) in states.sorted(by: { $0.key < $1.key }) where s.session!.modelStates[name] != st {
                s.session!.modelStates[name] = st
                Self.append(.modelState(model: name, state: st), to: s.session!)
            }
        }
    }

    public var currentFolder: String? { state.withLock { $0.session?.folder } }

    /// Appends one event line to the running session; under the lock, so a line never goes to a closed file.
    private func write(_ event: SessionEvent) {
        state.withLock { s in
            guard let session = s.session else { return }
            Self.append(event, to: session)
        }
    }

    private static func append(_ event: SessionEvent, to session: Session) {
        let now = Date().timeIntervalSince1970
        let line = SessionLogLine(
            t: Date(timeIntervalSince1970: now).formatted(.iso8601), tS: ((now - session.startWall) * 1000).rounded() / 1000,
            event: event)
        session.log.append(JSONWire.string(line))
    }
}
