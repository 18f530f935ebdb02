import BedsideCore
import Foundation

/// The review page's data: study sessions on disk, their snapshots with the explanation shown at that moment,
/// the best image per plane as the reviewer marks it (`review.json`), and an export of that selection.
///
/// Only folders directly under the recordings directory that hold a `study.jsonl` are sessions, and only
/// `snapshot-*.png` / `.json` files inside them are ever read: no path from a request reaches the filesystem.
public struct Review: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    func sessionFolder(_ name: String?) -> String? {
        guard let name, !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { return nil }
        let folder = (directory as NSString).appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: folder + "/study.jsonl") ? folder : nil
    }

    /// The session's log, line by line; a line Bedside cannot read (cut off by a crash) is skipped.
    static func events(_ folder: String) -> [SessionEvent] {
        guard let text = try? String(contentsOfFile: folder + "/study.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONWire.decode(SessionLogLine.self, from: String($0)) }.map(\.event)
    }

    static func lines(_ folder: String) -> [SessionLogLine] {
        guard let text = try? String(contentsOfFile: folder + "/study.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONWire.decode(SessionLogLine.self, from: String($0)) }
    }

    public func sessions() -> [ReviewSessionSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().reversed().compactMap { name in
            guard let folder = sessionFolder(name) else { return nil }
            let lines = Self.lines(folder)
            let start = lines.first { $0.event.name == "start" }
            let end = lines.last { $0.event.name == "end" }
            var participant = "", arm = ""
            if case .start(let p, let a, _, _, _, _) = start?.event {
                participant = p
                arm = a
            }
            return ReviewSessionSummary(
                name: name, participant: participant, arm: arm, started: start?.t ?? "", ended: end?.t,
                snapshots: lines.filter { $0.event.name == "snapshot" }.count)
        }
    }

    public func session(_ name: String?) -> ReviewSession? {
        guard let name, let folder = sessionFolder(name) else { return nil }
        let ev = Self.events(folder)
        let selection = Self.selection(folder)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        // A snapshot's metadata is the explanation as shown (the model's own objects): passed on as it is,
        // with its image's name and the planes it was chosen for.
        let snapshots: [JSONValue] = files.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") }.compactMap { f in
            guard let data = FileManager.default.contents(atPath: folder + "/" + f),
                var obj = (try? JSONWire.decode(JSONValue.self, from: data))?.objectValue
            else { return nil }
            let png = String(f.dropLast(5)) + ".png"
            obj["png"] = .string(png)
            obj["selected_for"] = .array(selection.filter { $0.value == png }.map(\.key).sorted().map(JSONValue.string))
            return .object(obj)
        }
        var session = ReviewSession(name: name)
        var armNow = ""
        var armAt: [String: String] = [:]  // snapshot image -> the arm it was taken in
        for e in ev {
            switch e {
            case .start(let p, let a, _, let targets, _, _) where session.participant.isEmpty:
                session.participant = p
                session.arm = a
                session.targets = targets
                armNow = a
                session.arms = [a]
            case .arm(let a, _):
                armNow = a
                if session.arms.last != a { session.arms.append(a) }  // full -> control -> full, as it went
            case .snapshot(let png, _, _, _): armAt[png] = armNow
            case .end(let summary): session.timeToPlane = summary.timeToPlane
            case .note(let text): session.notes.append(text)
            default: break
            }
        }
        session.snapshots = snapshots.map { snap in
            guard var obj = snap.objectValue, let png = obj["png"]?.stringValue, let arm = armAt[png] else { return snap }
            obj["arm"] = .string(arm)
            return .object(obj)
        }
        session.selection = selection
        return session
    }

    static func selection(_ folder: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: folder + "/review.json"),
            let file = try? JSONWire.decode(ReviewSelection.self, from: data)
        else { return [:] }
        return file.best
    }

    public enum ReviewError: Error, CustomStringConvertible {
        case noSession, noSnapshot, write(String)
        public var description: String {
            switch self {
            case .noSession: "no such study session"
            case .noSnapshot: "no such snapshot in that session"
            case .write(let m): m
            }
        }
    }

    /// Marks `file` the best image of `plane` (one per plane); an empty file clears the mark.
    public func select(session name: String?, plane: String?, file: String?) throws -> [String: String] {
        guard let folder = sessionFolder(name) else { throw ReviewError.noSession }
        guard let plane, !plane.isEmpty, plane.count <= 40 else { throw ReviewError.noSnapshot }
        var best = Self.selection(folder)
        if let file, !file.isEmpty {
            guard snapshotFile(folder, file) != nil else { throw ReviewError.noSnapshot }
            best[plane] = file
        } else {
            best[plane] = nil
        }
        do {
            let data = try JSONWire.data(ReviewSelection(best: best), pretty: true)
            try data.write(to: URL(fileURLWithPath: folder + "/review.json"), options: .atomic)
        } catch {
            throw ReviewError.write("cannot save the selection: \(error)")
        }
        return best
    }

    /// Copies the selected images and their explanations to `<session>/selected/<plane>.png|.json`.
    public func export(session name: String?) throws -> String {
        guard let folder = sessionFolder(name) else { throw ReviewError.noSession }
        let out = folder + "/selected"
        let fm = FileManager.default
        try? fm.removeItem(atPath: out)
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (plane, png) in Self.selection(folder) {
                guard let src = snapshotFile(folder, png) else { continue }
                try fm.copyItem(atPath: src, toPath: "\(out)/\(plane).png")
                try fm.copyItem(atPath: String(src.dropLast(4)) + ".json", toPath: "\(out)/\(plane).json")
            }
        } catch {
            throw ReviewError.write("cannot export to \(out): \(error)")
        }
        return out
    }

    /// The bytes of a session's snapshot image, for the review page.
    public func image(session name: String?, file: String?) -> [UInt8]? {
        guard let folder = sessionFolder(name), let file, let path = snapshotFile(folder, file),
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        return [UInt8](data)
    }

    private func snapshotFile(_ folder: String, _ file: String) -> String? {
        guard file.hasPrefix("snapshot-"), file.hasSuffix(".png"), !file.contains("/") else { return nil }
        let path = folder + "/" + file
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

/// `review.json`: the reviewer's best image per plane.
public struct ReviewSelection: Sendable, Equatable, Codable {
    public var best: [String: String]
    public init(best: [String: String]) { self.best = best }
}

/// One study session in the review page's list.
public struct ReviewSessionSummary: Sendable, Equatable, Codable {
    public var name: String
    public var participant: String
    public var arm: String
    public var started: String
    public var ended: String?
    public var snapshots: Int

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(participant, forKey: .participant)
        try c.encode(arm, forKey: .arm)
        try c.encode(started, forKey: .started)
        try c.encode(ended, forKey: .ended)  // null while the session runs
        try c.encode(snapshots, forKey: .snapshots)
    }
}

/// One study session as the review page shows it: its snapshots with the explanation shown with each.
public struct ReviewSession: Sendable, Equatable, Codable {
    public var name: String
    public var participant = ""
    public var arm = ""
    public var targets: [String] = []
    public var timeToPlane: [String: PlaneTime]?
    public var snapshots: [JSONValue] = []
    public var selection: [String: String] = [:]
    public var notes: [String] = []
    /// The arms in the order the session went through them (`arm` is the first).
    public var arms: [String] = []

    public init(name: String) { self.name = name }

    enum CodingKeys: String, CodingKey {
        case name, participant, arm, arms, targets, timeToPlane = "time_to_plane", snapshots, selection, notes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(participant, forKey: .participant)
        try c.encode(arm, forKey: .arm)
        try c.encode(arms, forKey: .arms)
        try c.encode(targets, forKey: .targets)
        try c.encode(timeToPlane, forKey: .timeToPlane)  // null until the session ended
        try c.encode(snapshots, forKey: .snapshots)
        try c.encode(selection, forKey: .selection)
        try c.encode(notes, forKey: .notes)
    }
}
