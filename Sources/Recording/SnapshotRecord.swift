import BedsideCore

/// A snapshot's `.json` file: which frame the PNG is, and what the models had shown for it.
public struct SnapshotRecord: Codable, Sendable, Equatable {
    /// What the caller adds about the frame (the recorder's and the models' side).
    public struct Details: Sendable, Equatable {
        /// Model name -> the message the tablets were shown (JSON, or the text when it was not JSON).
        public var predictions: [String: JSONValue]
        /// The frame's time on the recording's timeline, when a session is open.
        public var ptsS: Double?
        /// The video file being recorded.
        public var recordingFile: String?

        public init(predictions: [String: JSONValue] = [:], ptsS: Double? = nil, recordingFile: String? = nil) {
            self.predictions = predictions
            self.ptsS = ptsS
            self.recordingFile = recordingFile
        }
    }

    /// The PNG's file name, next to this file.
    public var image: String
    public var seq: UInt64
    public var ptsNs: UInt64
    public var width: Int
    public var height: Int
    /// ISO 8601 UTC capture time.
    public var wallTime: String
    public var predictions: [String: JSONValue]
    public var ptsS: Double?
    public var recordingFile: String?

    enum CodingKeys: String, CodingKey {
        case image, seq, width, height, predictions
        case ptsNs = "pts_ns", wallTime = "wall_time", ptsS = "pts_s", recordingFile = "recording_file"
    }

    public init(image: String, frame: Frame, wallTime: String, details: Details) {
        self.image = image
        seq = frame.seq
        ptsNs = frame.ptsNanos
        width = frame.width
        height = frame.height
        self.wallTime = wallTime
        predictions = details.predictions
        ptsS = details.ptsS
        recordingFile = details.recordingFile
    }
}
