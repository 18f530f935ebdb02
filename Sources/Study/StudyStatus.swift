import BedsideCore
import Foundation

/// The study's part of the status (`study` in `/api/status` and the page's `status` message).
public struct StudyStatus: Sendable, Equatable, Codable {
    public var arm: String
    /// The parts of the explanation the current arm shows.
    public var show: [ShownPart]
    public var arms: [String]
    public var active: Bool
    public var participant: String?
    public var targets: [String]?
    public var folder: String?
    public var elapsedS: Double?
    public var timeToPlane: [String: PlaneTime]?
    public var snapshots: Int?
    /// The last session's summary, shown until the next session starts.
    public var lastSession: SessionSummary?

    public init(arm: StudyArm, arms: [String]) {
        self.arm = arm.name
        show = arm.shows
        self.arms = arms
        active = false
    }

    enum CodingKeys: String, CodingKey {
        case arm, show, arms, active, participant, targets, folder, elapsedS = "elapsed_s"
        case timeToPlane = "time_to_plane", snapshots, lastSession = "last_session"
    }
}

/// A study request that cannot be done, worded for the admin page (what is wrong; the route adds the fix).
public enum StudyError: Error, CustomStringConvertible, Equatable {
    case already(String)
    case noSession
    case unknownArm(String, [String])
    case badParticipant
    case folder(String)

    public var description: String {
        switch self {
        case .already(let p): "a study session is running (participant \(p)): end it first"
        case .noSession: "no study session is running: start one first"
        case .unknownArm(let a, let arms): "`\(a)` is not an arm of this study (arms: \(arms.joined(separator: ", ")))"
        case .badParticipant: "participant id missing or not pseudonymous: use letters, digits, - and _ (e.g. P07), never a name"
        case .folder(let f): "cannot create the study folder: \(f)"
        }
    }

    /// A participant id Bedside accepts: pseudonymous (letters, digits, `-`, `_`), at most 32 characters.
    public static func checkParticipant(_ raw: String) throws(StudyError) -> String {
        let participant = raw.trimmingCharacters(in: .whitespaces)
        guard !participant.isEmpty, participant.count <= 32,
            participant.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else { throw .badParticipant }
        return participant
    }
}
