import BedsideCore
import Foundation
import Logging
import Recording
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Study sessions: the arm every tablet follows, the session log (`study.jsonl`) in the session's recording
/// folder, time to plane, snapshots and notes.
///
/// The arm is applied here, on the server: `message(for:)` gives the prediction a tablet may receive in the
/// current arm, or nil (control arm: nothing at all). The model keeps running and every answer is still
/// recorded in predictions.jsonl.
final class StudyController: Sendable {
    struct Session {
        var participant: String
        var arm: String
        var targets: [String]
        var startWall: Double
        var folder: String
        var log: Int32
        var ttp: TimeToPlane
        var lastShown: String?
        var modelStates: [String: String] = [:]
        var snapshots = 0
        var notes: [String] = []
    }

    private struct State {
        var arm: StudyArm
        var session: Session?
        /// The last session's summary, JSON (shown until the next session starts).
        var lastJSON: String?
    }

    let config: StudyConfig
    private let state: Mutex<State>
    private let recorder: Recorder?
    private let recordingDirectory: String
    private let logger: Logger

    init(config: StudyConfig, recorder: Recorder?, recordingDirectory: String, logger: Logger) {
        self.config = config
        self.recorder = recorder
        self.recordingDirectory = recordingDirectory
        self.logger = logger
        let arm = config.arm(named: config.defaultArm) ?? StudyArm.builtIn[0]
        state = Mutex(State(arm: arm, session: nil))
    }

    var arm: StudyArm { state.withLock { $0.arm } }

    /// The current study state for `/api/status` and the page (`study` key).
    var statusObject: [String: Any] {
        state.withLock { s in
            var o: [String: Any] = [
                "arm": s.arm.name, "show": s.arm.shows.map(\.rawValue), "arms": config.arms.map(\.name),
                "active": s.session != nil,
            ]
            if let ss = s.session {
                o["participant"] = ss.participant
                o["targets"] = ss.targets
                o["folder"] = ss.folder
                o["elapsed_s"] = (Date().timeIntervalSince1970 - ss.startWall).rounded()
                o["time_to_plane"] = ss.ttp.summary
                o["snapshots"] = ss.snapshots
            } else if let last = s.lastJSON, let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8)) {
                o["last_session"] = obj
            }
            return o
        }
    }

    /// The prediction message a tablet may receive now (the arm's part of the result), or nil.
    func message(for p: Prediction, crop: CropRect?, build: (Prediction, CropRect?) -> String) -> String? {
        let arm = self.arm
        if arm.showsNothing { return nil }
        var shown = p
        guard let filtered = arm.filter(resultJSON: p.resultJSON) else { return nil }
        shown.resultJSON = filtered
        // The phantom's ground truth is the answer key: only an arm that shows everything gets it.
        let full = Set(arm.shows) == Set(ShownPart.allCases)
        if !full { shown.truth = nil }
        return build(shown, crop)
    }

    // MARK: sessions

    enum StudyError: Error, CustomStringConvertible {
        case already(String)
        case noSession
        case unknownArm(String, [String])
        case badParticipant
        case folder(String)

        var description: String {
            switch self {
            case .already(let p): "a study session is running (participant \(p)): end it first"
            case .noSession: "no study session is running: start one first"
            case .unknownArm(let a, let arms): "`\(a)` is not an arm of this study (arms: \(arms.joined(separator: ", ")))"
            case .badParticipant: "participant id missing or not pseudonymous: use letters, digits, - and _ (e.g. P07), never a name"
            case .folder(let f): "cannot create the study folder: \(f)"
            }
        }
    }

    /// Starts a session: a fresh recording session (its folder holds everything of this session), the arm,
    /// and the log's first line. Returns the folder.
    func start(participant: String, arm armName: String?, targets: [String]?, notes: String?) throws -> String {
        let participant = participant.trimmingCharacters(in: .whitespaces)
        guard !participant.isEmpty, participant.count <= 32,
            participant.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else { throw StudyError.badParticipant }
        let name = armName ?? config.defaultArm
        guard let arm = config.arm(named: name) else { throw StudyError.unknownArm(name, config.arms.map(\.name)) }
        if let running = state.withLock({ $0.session?.participant }) { throw StudyError.already(running) }
        let targets = targets ?? config.targets
        let folder = try openFolder(participant: participant)
        let fd = open(folder + "/study.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StudyError.folder("\(folder)/study.jsonl: \(String(cString: strerror(errno)))") }
        let now = Date().timeIntervalSince1970
        let session = Session(
            participant: participant, arm: arm.name, targets: targets, startWall: now, folder: folder, log: fd,
            ttp: TimeToPlane(targets: targets, startNanos: Clock.monotonicNanos()))
        state.withLock { s in
            s.arm = arm
            s.session = session
        }
        write([
            "event": "start", "participant": participant, "arm": arm.name, "shows": arm.shows.map(\.rawValue),
            "targets": targets, "notes": notes ?? "", "recording": recorder != nil,
        ])
        if let notes, !notes.isEmpty { note(notes, logged: false) }
        logger.notice("study session started", metadata: ["participant": "\(participant)", "arm": "\(arm.name)", "folder": "\(folder)"])
        return folder
    }

    /// A new recording session for the study (the recorder makes the folder); without recording, a folder of
    /// its own under the recordings directory.
    private func openFolder(participant: String) throws -> String {
        if let recorder {
            let before = recorder.status.sessionDirectory
            recorder.stopSession()
            let deadline = Date().addingTimeInterval(10)
            while !recorder.startSession() {  // the old session is still finishing its file
                guard Date() < deadline else { throw StudyError.folder("the recorder did not start a new session") }
                usleep(20_000)
            }
            while Date() < deadline {
                let st = recorder.status
                if let d = st.sessionDirectory, d != before, st.stateName != "idle" { return d }
                if case .failed(let m) = st.state { throw StudyError.folder(m) }
                usleep(20_000)
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
    func end() throws -> [String: Any] {
        guard let session = state.withLock({ s -> Session? in
            let ss = s.session
            s.session = nil
            return ss
        }) else { throw StudyError.noSession }
        let duration = Date().timeIntervalSince1970 - session.startWall
        let summary: [String: Any] = [
            "participant": session.participant, "arm": session.arm, "folder": session.folder,
            "duration_s": (duration * 10).rounded() / 10, "time_to_plane": session.ttp.summary,
            "snapshots": session.snapshots,
        ]
        write(["event": "end"].merging(summary) { $1 }, session: session)
        close(session.log)
        let json = (try? JSONSerialization.data(withJSONObject: summary)).map { String(decoding: $0, as: UTF8.self) }
        state.withLock { $0.lastJSON = json }
        if let recorder {
            recorder.stopSession()
            if recorder.config.mode == "always" {
                let deadline = Date().addingTimeInterval(10)
                while !recorder.startSession() && Date() < deadline { usleep(20_000) }
            }
        }
        logger.notice("study session ended", metadata: ["participant": "\(session.participant)", "folder": "\(session.folder)"])
        return summary
    }

    /// Switches every tablet to `name` (the caller broadcasts the new status at once).
    func setArm(_ name: String) throws {
        guard let arm = config.arm(named: name) else { throw StudyError.unknownArm(name, config.arms.map(\.name)) }
        let changed = state.withLock { s -> Bool in
            defer { s.arm = arm; s.session?.arm = arm.name; s.session?.lastShown = nil }
            return s.arm != arm
        }
        if changed {
            write(["event": "arm", "arm": arm.name, "shows": arm.shows.map(\.rawValue)])
            logger.notice("study arm changed", metadata: ["arm": "\(arm.name)"])
        }
    }

    func note(_ text: String, logged: Bool = true) {
        let clean = String(text.prefix(2000))
        state.withLock { $0.session?.notes.append(clean) }
        write(["event": "note", "text": clean])
    }

    /// Every model answer: what the tablets were shown (when it changed) and time to plane.
    func observe(_ p: Prediction, followed: Bool) {
        guard followed else { return }
        let arm = self.arm
        var events: [[String: Any]] = []
        state.withLock { s in
            guard s.session != nil else { return }
            if let r = s.session!.ttp.observe(plane: p.plane, status: p.status, ptsNanos: p.ptsNanos) {
                events.append(["event": "plane_reached", "plane": r.plane, "seconds": (r.seconds * 1000).rounded() / 1000, "seq": p.seq])
            }
            // What the tablets showed: logged when it changes, in the arm's terms.
            var shown: [String: Any] = [:]
            if arm.shows.contains(.banner) {
                shown["plane"] = p.plane ?? NSNull()
                shown["status"] = p.status ?? NSNull()
            }
            if arm.shows.contains(.concepts),
                let obj = (try? JSONSerialization.jsonObject(with: Data(p.resultJSON.utf8))) as? [String: Any],
                let concepts = obj["concepts"] as? [[String: Any]]
            {
                shown["concepts_present"] = concepts.filter { ($0["present"] as? Bool) == true }.compactMap { $0["name"] as? String }
            }
            let key = (try? JSONSerialization.data(withJSONObject: shown, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if key != s.session!.lastShown {
                s.session!.lastShown = key
                let what: [String: Any] = shown.isEmpty ? ["nothing": true] : shown
                let e: [String: Any] = ["event": "shown", "seq": p.seq, "pts_ns": p.ptsNanos, "model": p.model, "shown": what]
                events.append(e)
            }
        }
        for e in events { write(e) }
    }

    /// A snapshot was saved: counted for the plane the model showed, logged with its files.
    func snapshot(png: String, json: String, plane: String?, status: String?) {
        let inSession = state.withLock { s -> Bool in
            guard s.session != nil else { return false }
            s.session!.snapshots += 1
            s.session!.ttp.snapshot(plane: status == "standard" ? plane : nil)
            return true
        }
        if inSession {
            write(["event": "snapshot", "png": (png as NSString).lastPathComponent, "json": (json as NSString).lastPathComponent,
                   "plane": plane ?? NSNull(), "status": status ?? NSNull()])
        }
    }

    /// Model state changes during a session (from the status ticks).
    func modelStates(_ states: [String: String]) {
        var changes: [(String, String)] = []
        state.withLock { s in
            guard s.session != nil else { return }
            for (name, st) in states where s.session!.modelStates[name] != st {
                s.session!.modelStates[name] = st
                changes.append((name, st))
            }
        }
        for (name, st) in changes { write(["event": "model_state", "model": name, "state": st]) }
    }

    var currentFolder: String? { state.withLock { $0.session?.folder } }

    /// Appends one event line; under the lock, so a line never goes to a descriptor `end()` has closed.
    private func write(_ event: [String: Any], session given: Session? = nil) {
        state.withLock { s in
            guard let session = given ?? s.session else { return }
            var e = event
            let now = Date().timeIntervalSince1970
            e["t"] = Date(timeIntervalSince1970: now).formatted(.iso8601)
            e["t_s"] = ((now - session.startWall) * 1000).rounded() / 1000
            guard let json = try? JSONSerialization.data(withJSONObject: e, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return }
            let line = [UInt8](json) + [0x0A]
            _ = line.withUnsafeBytes { Glibc.write(session.log, $0.baseAddress, $0.count) }
        }
    }
}
