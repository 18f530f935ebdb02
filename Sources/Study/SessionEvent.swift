import BedsideCore
import Foundation

/// One line of a session's `study.jsonl`: when (`t`, ISO 8601; `t_s`, seconds since the session's start) and
/// what happened. Written by `StudyController`, read back by `Review` and `bedside compare`-style tools.
public struct SessionLogLine: Sendable, Equatable, Codable {
    public var t: String
    public var tS: Double
    public var event: SessionEvent

    public init(t: String, tS: Double, event: SessionEvent) {
        self.t = t
        self.tS = tS
        self.event = event
    }

    enum CodingKeys: String, CodingKey { case t, tS = "t_s" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        t = try c.decode(String.self, forKey: .t)
        tS = try c.decode(Double.self, forKey: .tS)
        event = try SessionEvent(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(t, forKey: .t)
        try c.encode(tS, forKey: .tS)
        try event.encode(to: encoder)
    }
}

/// What the tablets were shown, in the arm's terms (logged when it changes).
public struct ShownState: Sendable, Equatable, Codable {
    /// The banner's plane and status (arms with the banner; null values when the model named none).
    public var plane: String??
    public var status: String??
    /// Names of the concepts shown as present (arms with the checklist).
    public var conceptsPresent: [String]?
    /// Control arm: nothing was shown.
    public var nothing: Bool?

    public init(plane: String?? = nil, status: String?? = nil, conceptsPresent: [String]? = nil, nothing: Bool? = nil) {
        self.plane = plane
        self.status = status
        self.conceptsPresent = conceptsPresent
        self.nothing = nothing
    }

    enum CodingKeys: String, CodingKey { case plane, status, conceptsPresent = "concepts_present", nothing }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        plane = c.contains(.plane) ? .some(try c.decodeIfPresent(String.self, forKey: .plane)) : nil
        status = c.contains(.status) ? .some(try c.decodeIfPresent(String.self, forKey: .status)) : nil
        conceptsPresent = try c.decodeIfPresent([String].self, forKey: .conceptsPresent)
        nothing = try c.decodeIfPresent(Bool.self, forKey: .nothing)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let plane { try c.encode(plane, forKey: .plane) }
        if let status { try c.encode(status, forKey: .status) }
        try c.encodeIfPresent(conceptsPresent, forKey: .conceptsPresent)
        try c.encodeIfPresent(nothing, forKey: .nothing)
    }
}

/// The session's end: its summary (also the answer to `POST /api/study/end` and the status's `last_session`).
public struct SessionSummary: Sendable, Equatable, Codable {
    public var participant: String
    public var arm: String
    public var folder: String
    public var durationS: Double
    public var timeToPlane: [String: PlaneTime]
    public var snapshots: Int

    public init(participant: String, arm: String, folder: String, durationS: Double, timeToPlane: [String: PlaneTime], snapshots: Int) {
        self.participant = participant
        self.arm = arm
        self.folder = folder
        self.durationS = durationS
        self.timeToPlane = timeToPlane
        self.snapshots = snapshots
    }

    enum CodingKeys: String, CodingKey {
        case participant, arm, folder, durationS = "duration_s", timeToPlane = "time_to_plane", snapshots
    }
}

/// The events of `study.jsonl` (docs/study.md), keyed by `event`.
public enum SessionEvent: Sendable, Equatable, Codable {
    case start(participant: String, arm: String, shows: [ShownPart], targets: [String], notes: String, recording: Bool)
    case arm(arm: String, shows: [ShownPart])
    case note(text: String)
    case planeReached(plane: String, seconds: Double, seq: UInt64)
    case shown(seq: UInt64, ptsNanos: UInt64, model: String, shown: ShownState)
    case snapshot(png: String, json: String, plane: String?, status: String?)
    case modelState(model: String, state: String)
    case end(SessionSummary)

    public var name: String {
        switch self {
        case .start: "start"
        case .arm: "arm"
        case .note: "note"
        case .planeReached: "plane_reached"
        case .shown: "shown"
        case .snapshot: "snapshot"
        case .modelState: "model_state"
        case .end: "end"
        }
    }

    enum Key: String, CodingKey {
        case event, participant, arm, shows, targets, notes, recording, text, plane, seconds, seq
        case ptsNanos = "pts_ns", model, shown, png, json, status, state
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let event = try c.decode(String.self, forKey: .event)
        switch event {
        case "start":
            self = .start(
                participant: try c.decode(String.self, forKey: .participant), arm: try c.decode(String.self, forKey: .arm),
                shows: try c.decodeIfPresent([ShownPart].self, forKey: .shows) ?? [],
                targets: try c.decodeIfPresent([String].self, forKey: .targets) ?? [],
                notes: try c.decodeIfPresent(String.self, forKey: .notes) ?? "",
                recording: try c.decodeIfPresent(Bool.self, forKey: .recording) ?? false)
        case "arm":
            self = .arm(arm: try c.decode(String.self, forKey: .arm), shows: try c.decodeIfPresent([ShownPart].self, forKey: .shows) ?? [])
        case "note": self = .note(text: try c.decode(String.self, forKey: .text))
        case "plane_reached":
            self = .planeReached(
                plane: try c.decode(String.self, forKey: .plane), seconds: try c.decode(Double.self, forKey: .seconds),
                seq: try c.decode(UInt64.self, forKey: .seq))
        case "shown":
            self = .shown(
                seq: try c.decode(UInt64.self, forKey: .seq), ptsNanos: try c.decode(UInt64.self, forKey: .ptsNanos),
                model: try c.decode(String.self, forKey: .model), shown: try c.decode(ShownState.self, forKey: .shown))
        case "snapshot":
            self = .snapshot(
                png: try c.decode(String.self, forKey: .png), json: try c.decode(String.self, forKey: .json),
                plane: try c.decodeIfPresent(String.self, forKey: .plane), status: try c.decodeIfPresent(String.self, forKey: .status))
        case "model_state":
            self = .modelState(model: try c.decode(String.self, forKey: .model), state: try c.decode(String.self, forKey: .state))
        case "end": self = .end(try SessionSummary(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown study event `\(event)`")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(name, forKey: .event)
        switch self {
        case .start(let participant, let arm, let shows, let targets, let notes, let recording):
            try c.encode(participant, forKey: .participant)
            try c.encode(arm, forKey: .arm)
            try c.encode(shows, forKey: .shows)
            try c.encode(targets, forKey: .targets)
            try c.encode(notes, forKey: .notes)
            try c.encode(recording, forKey: .recording)
        case .arm(let arm, let shows):
            try c.encode(arm, forKey: .arm)
            try c.encode(shows, forKey: .shows)
        case .note(let text): try c.encode(text, forKey: .text)
        case .planeReached(let plane, let seconds, let seq):
            try c.encode(plane, forKey: .plane)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(seq, forKey: .seq)
        case .shown(let seq, let pts, let model, let shown):
            try c.encode(seq, forKey: .seq)
            try c.encode(pts, forKey: .ptsNanos)
            try c.encode(model, forKey: .model)
            try c.encode(shown, forKey: .shown)
        case .snapshot(let png, let json, let plane, let status):
            try c.encode(png, forKey: .png)
            try c.encode(json, forKey: .json)
            try c.encode(plane, forKey: .plane)
            try c.encode(status, forKey: .status)
        case .modelState(let model, let state):
            try c.encode(model, forKey: .model)
            try c.encode(state, forKey: .state)
        case .end(let summary): try summary.encode(to: encoder)
        }
    }
}
