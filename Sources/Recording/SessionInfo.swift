import Foundation
import BedsideCore

/// The contents of a session's `session.json`: what was recorded, from what, with what.
struct SessionInfo: Codable, Sendable {
    var bedsideVersion: String
    var source: String
    /// `recording`, `finished`, `failed`, or `interrupted` (set by the next Bedside when the one recording it was
    /// killed or lost power: the video plays up to its last fragment).
    var state = "recording"
    /// The Bedside process writing the session: a later Bedside tells a killed session from a live one by it.
    var pid: Int32?
    var error: String?
    /// ISO 8601 UTC, and seconds since 1970.
    var startWall: String
    var startEpoch: Double
    var endWall: String?
    var endEpoch: Double?
    var width: Int?
    var height: Int?
    /// The source's nominal frame rate.
    var fps: Double
    var codec: String?
    var models: [String]
    /// Model name -> the version it declared (when it declared one).
    var modelVersions: [String: String] = [:]
    /// `always` or `manual`.
    var mode = "always"
    /// SHA-256 of the config file the session ran with.
    var configSha256: String?
    var configFile: String?
    /// The video files in order, each with where it starts on the session's timeline.
    var segments: [Segment] = []
    /// Times recording was paused for low disk space, and why.
    var pauses: [Pause] = []

    struct Segment: Codable, Sendable {
        var file: String
        /// Seconds from the session's first frame to this file's first frame (its video time 0).
        var startS: Double
        var firstPtsNs: UInt64
        var frames: UInt64 = 0
        var durationS: Double = 0
    }

    struct Pause: Codable, Sendable {
        var atWall: String
        var reason: String
        var resumedWall: String?
    }
    var framesWritten: UInt64 = 0
    var framesDropped: UInt64 = 0
    var framesSkippedForDisk: UInt64 = 0
    /// Frames not recorded because no privacy mask covered their size (and `allow_unmasked` is off).
    var framesSkippedUnmasked: UInt64 = 0
    /// What was blacked out at the capture edge during this session, and every change (the region editor):
    /// a dataset curator sees exactly what was removed from which part of the session.
    var privacy: Privacy?

    struct Privacy: Codable, Sendable {
        var allowUnmasked: Bool
        var changes: [MaskSet]
    }

    struct MaskSet: Codable, Sendable {
        var atWall: String
        var masks: [CropRect]
        var masksBySize: [String: [CropRect]]
    }
    /// Capture time (monotonic ns) of the video's first frame; `pts_s` in predictions.jsonl counts from it.
    var firstFramePtsNs: UInt64?
    /// Video length in seconds.
    var durationS: Double?
    var videoFiles: [String] = []
    var predictionsFile = "predictions.jsonl"

    static func iso8601(_ epoch: Double) -> String {
        Date(timeIntervalSince1970: epoch).formatted(.iso8601)
    }

    /// Writes the file atomically (temp file + rename), pretty and with sorted keys.
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Marks sessions left in state `recording` by a Bedside that no longer runs as `interrupted` (state, error,
    /// `interrupted_found_wall`); the rest of each file is kept as it is. A session whose writer still runs (another
    /// Bedside on the same folder) is left alone; so is one without a `pid` (older versions) whose file changed in
    /// the last 30 s (it is rewritten every 10 s while recording). Returns the folders marked.
    static func markInterrupted(in directory: String, now: Double, isAlive: (Int32) -> Bool) -> [String] {
        let fm = FileManager.default
        var marked: [String] = []
        for name in ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
            let path = (directory as NSString).appendingPathComponent(name) + "/session.json"
            guard let data = fm.contents(atPath: path),
                var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                object["state"] as? String == "recording"
            else { continue }
            if let pid = (object["pid"] as? NSNumber)?.int32Value {
                if isAlive(pid) { continue }
            } else {
                let modified = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                if now - modified < 30 { continue }
            }
            object["state"] = "interrupted"
            object["error"] = "Bedside stopped without finishing this session (killed, crashed or the power went); "
                + "the video plays up to its last fragment, frames_written and the segments' lengths are from the last update"
            object["interrupted_found_wall"] = iso8601(now)
            guard var out = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            else { continue }
            out.append(0x0A)
            if (try? out.write(to: URL(fileURLWithPath: path), options: .atomic)) != nil {
                marked.append((directory as NSString).appendingPathComponent(name))
            }
        }
        return marked
    }
}
