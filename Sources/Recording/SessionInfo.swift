import BedsideCore
import Foundation

/// The contents of a session's `session.json`: what was recorded, from what, with what.
///
/// Written by the recorder (snake_case keys, pretty, sorted); read back with `load(folder:)` (replay, the next
/// Bedside). Fields an older Bedside did not write decode as their defaults.
public struct SessionInfo: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case recording, finished, failed
        /// Set by the next Bedside when the one recording it was killed or lost power: the video plays up to its
        /// last fragment.
        case interrupted
    }

    public var bedsideVersion: String
    public var source: String
    public var state = State.recording
    /// The Bedside process writing the session: a later Bedside tells a killed session from a live one by it.
    public var pid: Int32?
    public var error: String?
    /// When a later Bedside found the session interrupted (ISO 8601 UTC).
    public var interruptedFoundWall: String?
    /// ISO 8601 UTC, and seconds since 1970.
    public var startWall: String
    public var startEpoch: Double
    public var endWall: String?
    public var endEpoch: Double?
    public var width: Int?
    public var height: Int?
    /// The source's nominal frame rate.
    public var fps: Double
    public var codec: String?
    public var models: [String]
    /// Model name -> the version it declared (when it declared one).
    public var modelVersions: [String: String] = [:]
    /// `always` or `manual`.
    public var mode = "always"
    /// SHA-256 of the config file the session ran with.
    public var configSha256: String?
    public var configFile: String?
    /// The video files in order, each with where it starts on the session's timeline.
    public var segments: [Segment] = []
    /// Times recording was paused (low disk, unmasked frames, a deleted folder), and why.
    public var pauses: [Pause] = []
    public var framesWritten: UInt64 = 0
    public var framesDropped: UInt64 = 0
    public var framesSkippedForDisk: UInt64 = 0
    /// Frames not recorded because no privacy mask covered their size (and `allow_unmasked` is off).
    public var framesSkippedUnmasked: UInt64 = 0
    /// What was blacked out at the capture edge during this session, and every change (the region editor):
    /// a dataset curator sees exactly what was removed from which part of the session.
    public var privacy: Privacy?
    /// Capture time (monotonic ns) of the video's first frame; `pts_s` in predictions.jsonl counts from it.
    public var firstFramePtsNs: UInt64?
    /// Video length in seconds.
    public var durationS: Double?
    public var videoFiles: [String] = []
    public var predictionsFile = "predictions.jsonl"

    public struct Segment: Codable, Sendable, Equatable {
        public var file: String
        /// Seconds from the session's first frame to this file's first frame (its video time 0).
        public var startS: Double
        public var firstPtsNs: UInt64?
        public var frames: UInt64 = 0
        public var durationS: Double = 0

        public init(file: String, startS: Double, firstPtsNs: UInt64?) {
            self.file = file
            self.startS = startS
            self.firstPtsNs = firstPtsNs
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            file = try c.decode(String.self, forKey: .file)
            startS = try c.decodeIfPresent(Double.self, forKey: .startS) ?? 0
            firstPtsNs = try c.decodeIfPresent(UInt64.self, forKey: .firstPtsNs)
            frames = try c.decodeIfPresent(UInt64.self, forKey: .frames) ?? 0
            durationS = try c.decodeIfPresent(Double.self, forKey: .durationS) ?? 0
        }
    }

    public struct Pause: Codable, Sendable, Equatable {
        public var atWall: String
        public var reason: String
        public var resumedWall: String?

        public init(atWall: String, reason: String, resumedWall: String? = nil) {
            self.atWall = atWall
            self.reason = reason
            self.resumedWall = resumedWall
        }
    }

    public struct Privacy: Codable, Sendable, Equatable {
        public var allowUnmasked: Bool
        public var changes: [MaskSet]

        public init(allowUnmasked: Bool, changes: [MaskSet]) {
            self.allowUnmasked = allowUnmasked
            self.changes = changes
        }
    }

    public struct MaskSet: Codable, Sendable, Equatable {
        public var atWall: String
        public var masks: [CropRect]
        public var masksBySize: [String: [CropRect]]

        public init(atWall: String, masks: [CropRect], masksBySize: [String: [CropRect]]) {
            self.atWall = atWall
            self.masks = masks
            self.masksBySize = masksBySize
        }
    }

    public init(bedsideVersion: String, source: String, startWall: String, startEpoch: Double, fps: Double, models: [String]) {
        self.bedsideVersion = bedsideVersion
        self.source = source
        self.startWall = startWall
        self.startEpoch = startEpoch
        self.fps = fps
        self.models = models
    }

    enum CodingKeys: String, CodingKey {
        case bedsideVersion, source, state, pid, error, interruptedFoundWall, startWall, startEpoch, endWall, endEpoch
        case width, height, fps, codec, models, modelVersions, mode, configSha256, configFile, segments, pauses
        case framesWritten, framesDropped, framesSkippedForDisk, framesSkippedUnmasked, privacy, firstFramePtsNs
        case durationS, videoFiles, predictionsFile
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        bedsideVersion = try value(.bedsideVersion, "")
        source = try value(.source, "")
        state = try value(.state, .recording)
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        interruptedFoundWall = try c.decodeIfPresent(String.self, forKey: .interruptedFoundWall)
        startWall = try value(.startWall, "")
        startEpoch = try value(.startEpoch, 0)
        endWall = try c.decodeIfPresent(String.self, forKey: .endWall)
        endEpoch = try c.decodeIfPresent(Double.self, forKey: .endEpoch)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
        fps = try value(.fps, 0)
        codec = try c.decodeIfPresent(String.self, forKey: .codec)
        models = try value(.models, [])
        modelVersions = try value(.modelVersions, [:])
        mode = try value(.mode, "always")
        configSha256 = try c.decodeIfPresent(String.self, forKey: .configSha256)
        configFile = try c.decodeIfPresent(String.self, forKey: .configFile)
        segments = try value(.segments, [])
        pauses = try value(.pauses, [])
        framesWritten = try value(.framesWritten, 0)
        framesDropped = try value(.framesDropped, 0)
        framesSkippedForDisk = try value(.framesSkippedForDisk, 0)
        framesSkippedUnmasked = try value(.framesSkippedUnmasked, 0)
        privacy = try c.decodeIfPresent(Privacy.self, forKey: .privacy)
        firstFramePtsNs = try c.decodeIfPresent(UInt64.self, forKey: .firstFramePtsNs)
        durationS = try c.decodeIfPresent(Double.self, forKey: .durationS)
        videoFiles = try value(.videoFiles, [])
        predictionsFile = try value(.predictionsFile, "predictions.jsonl")
    }

    /// The file's name in a session folder.
    public static let fileName = "session.json"

    public static func iso8601(_ epoch: Double) -> String {
        Date(timeIntervalSince1970: epoch).formatted(.iso8601)
    }

    /// The session's JSON text as written to disk: pretty, sorted keys, snake_case, a final newline.
    public func encoded() throws -> Data {
        let encoder = JSONWire.encoder(pretty: true)
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Parses `session.json` text.
    public static func decode(_ data: Data) throws -> SessionInfo {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SessionInfo.self, from: data)
    }

    /// Reads `<folder>/session.json`; nil when there is none, throws when it is not a session file.
    public static func load(folder: String) throws -> SessionInfo? {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try decode(data)
    }

    /// Writes the file atomically (temp file + rename).
    public func write(to path: String) throws {
        try encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
