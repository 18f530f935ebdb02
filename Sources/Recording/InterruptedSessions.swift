import BedsideCore
import Foundation

extension SessionInfo {
    /// Marks sessions left in state `recording` by a Bedside that no longer runs as `interrupted` (state, error,
    /// `interrupted_found_wall`); the rest of each file is kept as it is (read as a `JSONValue`, so fields this
    /// version does not know survive). A session whose writer still runs (another Bedside on the same folder) is
    /// left alone; so is one without a `pid` (older versions) whose file changed in the last 30 s (it is
    /// rewritten every 10 s while recording). Returns the folders marked.
    static func markInterrupted(in directory: String, now: Double, isAlive: (Int32) -> Bool) -> [String] {
        let fm = FileManager.default
        var marked: [String] = []
        for name in ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
            let folder = (directory as NSString).appendingPathComponent(name)
            let path = (folder as NSString).appendingPathComponent(fileName)
            guard let data = fm.contents(atPath: path),
                var object = (try? JSONWire.decode(JSONValue.self, from: data))?.objectValue,
                object["state"]?.stringValue == State.recording.rawValue
            else { continue }
            if case .int(let pid)? = object["pid"], let pid = Int32(exactly: pid) {
                if isAlive(pid) { continue }
            } else {
                let modified = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                if now - modified < 30 { continue }
            }
            object["state"] = .string(State.interrupted.rawValue)
            object["error"] = .string(
                "Bedside stopped without finishing this session (killed, crashed or the power went); "
                    + "the video plays up to its last fragment, frames_written and the segments' lengths are from the last update")
            object["interrupted_found_wall"] = .string(iso8601(now))
            guard var out = try? JSONWire.data(JSONValue.object(object), pretty: true) else { continue }
            out.append(0x0A)
            if (try? out.write(to: URL(fileURLWithPath: path), options: .atomic)) != nil {
                marked.append(folder)
            }
        }
        return marked
    }
}
