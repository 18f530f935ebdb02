import Foundation

/// What a study arm lets a tablet see of the model's output. The server applies it before anything is sent.
public enum ShownPart: String, Sendable, CaseIterable, Codable {
    /// The plane status banner: standard / close / unknown and the plane name.
    case banner
    /// The property concepts checklist.
    case concepts
    /// The segmentation overlay.
    case overlay
    /// The model's guidance hint (text, arrow).
    case guidance
}

public struct StudyArm: Sendable, Equatable {
    public var name: String
    public var shows: [ShownPart]

    public init(name: String, shows: [ShownPart]) {
        self.name = name
        self.shows = shows
    }

    /// No model output at all reaches a tablet in this arm (the model still runs and is logged).
    public var showsNothing: Bool { shows.isEmpty }

    /// The reference study's arms: the full explanation, the plane status only, and a control arm.
    public static let builtIn: [StudyArm] = [
        StudyArm(name: "full", shows: ShownPart.allCases),
        StudyArm(name: "status", shows: [.banner]),
        StudyArm(name: "control", shows: []),
    ]

    /// The result key each part is shown through.
    public static let resultKey: [ShownPart: String] = [
        .banner: "plane", .concepts: "concepts", .overlay: "segmentation", .guidance: "guidance",
    ]

    /// Shows every part (and so also the model's `extra` and the phantom's ground truth).
    public var showsEverything: Bool { Set(shows) == Set(ShownPart.allCases) }

    /// The result object a tablet in this arm may receive; nil when it may receive nothing.
    /// Keys the arm does not show are removed (`extra` only goes to an arm that shows everything).
    public func filter(result: JSONValue) -> JSONValue? {
        if showsNothing { return nil }
        if showsEverything { return result }
        guard let object = result.objectValue else { return nil }
        var out: [String: JSONValue] = [:]
        for part in shows { if let k = Self.resultKey[part], let v = object[k] { out[k] = v } }
        return .object(out)
    }

    /// `filter(result:)` on JSON text: the text unchanged for an arm that shows everything.
    public func filter(resultJSON: String) -> String? {
        if showsNothing { return nil }
        if showsEverything { return resultJSON }
        return JSONValue(parsing: resultJSON).flatMap(filter(result:))?.text
    }
}

public struct StudyConfig: Sendable, Equatable {
    public var arms: [StudyArm] = StudyArm.builtIn
    public var defaultArm = "full"
    /// Planes a session scans for (time to plane is measured for each).
    public var targets: [String] = ["head", "abdomen", "femur"]

    public init() {}

    public func arm(named name: String) -> StudyArm? { arms.first { $0.name == name } }
}

/// Time to plane: for each target plane, seconds from the session's start to the first frame the model called
/// standard for it; snapshots counted per plane. Pure: fed with predictions and snapshots, no clock of its own.
public struct TimeToPlane: Sendable, Equatable {
    public let targets: [String]
    public let startNanos: UInt64
    public private(set) var reached: [String: Double] = [:]
    public private(set) var snapshots: [String: Int] = [:]

    public init(targets: [String], startNanos: UInt64) {
        self.targets = targets
        self.startNanos = startNanos
    }

    /// A model answer for a frame captured at `ptsNanos`. Returns the plane if this is its first standard frame.
    public mutating func observe(plane: String?, status: String?, ptsNanos: UInt64) -> (plane: String, seconds: Double)? {
        guard let plane, status == "standard", targets.contains(plane), reached[plane] == nil, ptsNanos >= startNanos
        else { return nil }
        let s = Double(ptsNanos - startNanos) / 1e9
        reached[plane] = s
        return (plane, s)
    }

    public mutating func snapshot(plane: String?) {
        snapshots[plane ?? "none", default: 0] += 1
    }

    /// `{plane: {"seconds": s or null, "snapshots": n}}` for every target.
    public var summary: [String: PlaneTime] {
        var out: [String: PlaneTime] = [:]
        for t in targets {
            out[t] = PlaneTime(seconds: reached[t].map { ($0 * 1000).rounded() / 1000 }, snapshots: snapshots[t] ?? 0)
        }
        return out
    }
}

/// One target plane's time to plane: seconds from the start (null until reached) and snapshots taken of it.
public struct PlaneTime: Sendable, Equatable, Codable {
    public var seconds: Double?
    public var snapshots: Int

    public init(seconds: Double?, snapshots: Int) {
        self.seconds = seconds
        self.snapshots = snapshots
    }

    enum CodingKeys: String, CodingKey { case seconds, snapshots }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seconds, forKey: .seconds)  // null until reached: the page shows "not yet"
        try c.encode(snapshots, forKey: .snapshots)
    }
}
