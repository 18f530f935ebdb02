import Foundation

/// The review page's data: study sessions on disk, their snapshots with the explanation shown at that moment,
/// the best image per plane as the reviewer marks it (`review.json`), and an export of that selection.
///
/// Only folders directly under the recordings directory that hold a `study.jsonl` are sessions, and only
/// `snapshot-*.png` / `.json` files inside them are ever read: no path from a request reaches the filesystem.
struct Review: Sendable {
    let directory: String

    private func sessionFolder(_ name: String?) -> String? {
        guard let name, !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { return nil }
        let folder = (directory as NSString).appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: folder + "/study.jsonl") ? folder : nil
    }

    private static func events(_ folder: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: folder + "/study.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func sessions() -> [[String: Any]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().reversed().compactMap { name in
            guard let folder = sessionFolder(name) else { return nil }
            let ev = Self.events(folder)
            let start = ev.first { $0["event"] as? String == "start" }
            let end = ev.last { $0["event"] as? String == "end" }
            return [
                "name": name, "participant": start?["participant"] ?? "", "arm": start?["arm"] ?? "",
                "started": start?["t"] ?? "", "ended": end?["t"] ?? NSNull(),
                "snapshots": ev.filter { $0["event"] as? String == "snapshot" }.count,
            ]
        }
    }

    func session(_ name: String?) -> [String: Any]? {
        guard let folder = sessionFolder(name) else { return nil }
        let ev = Self.events(folder)
        let selection = Self.selection(folder)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        let snapshots: [[String: Any]] = files.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") }.compactMap { f in
            guard let data = FileManager.default.contents(atPath: folder + "/" + f),
                var obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            else { return nil }
            let png = String(f.dropLast(5)) + ".png"
            obj["png"] = png
            obj["selected_for"] = selection.filter { $0.value == png }.map(\.key).sorted()
            return obj
        }
        let end = ev.last { $0["event"] as? String == "end" }
        let start = ev.first { $0["event"] as? String == "start" }
        return [
            "name": name ?? "", "participant": start?["participant"] ?? "", "arm": start?["arm"] ?? "",
            "targets": start?["targets"] ?? [], "time_to_plane": end?["time_to_plane"] ?? NSNull(),
            "snapshots": snapshots, "selection": selection,
            "notes": ev.filter { $0["event"] as? String == "note" }.compactMap { $0["text"] },
        ]
    }

    private static func selection(_ folder: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: folder + "/review.json"),
            let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return [:] }
        return (obj["best"] as? [String: String]) ?? [:]
    }

    enum ReviewError: Error, CustomStringConvertible {
        case noSession, noSnapshot, write(String)
        var description: String {
            switch self {
            case .noSession: "no such study session"
            case .noSnapshot: "no such snapshot in that session"
            case .write(let m): m
            }
        }
    }

    /// Marks `file` the best image of `plane` (one per plane); an empty file clears the mark.
    func select(session name: String?, plane: String?, file: String?) throws -> [String: String] {
        guard let folder = sessionFolder(name) else { throw ReviewError.noSession }
        guard let plane, !plane.isEmpty, plane.count <= 40 else { throw ReviewError.noSnapshot }
        var best = Self.selection(folder)
        if let file, !file.isEmpty {
            guard snapshotFile(folder, file) != nil else { throw ReviewError.noSnapshot }
            best[plane] = file
        } else {
            best[plane] = nil
        }
        let data = try JSONSerialization.data(withJSONObject: ["best": best], options: [.prettyPrinted, .sortedKeys])
        do { try data.write(to: URL(fileURLWithPath: folder + "/review.json"), options: .atomic) } catch {
            throw ReviewError.write("cannot save the selection: \(error)")
        }
        return best
    }

    /// Copies the selected images and their explanations to `<session>/selected/<plane>.png|.json`.
    func export(session name: String?) throws -> String {
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
    func image(session name: String?, file: String?) -> [UInt8]? {
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
