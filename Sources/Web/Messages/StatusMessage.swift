import BedsideCore
import Capture
import Foundation
import ModelBridge
import Recording
import Study

/// The status's `source`: what the capture sees now.
public struct SourceStatus: Codable, Sendable, Equatable {
    public var description: String
    /// `ok`, `connecting`, `no signal`, `disconnected`, `in use`, `ended`, `failed`.
    public var state: String
    public var detail: String?
    public var mode: String?
    public var error: String?
    public var framesCaptured: UInt64
    public var fps: Double
    public var width: Int
    public var height: Int
    public var renegotiations: Int
    /// Privacy mask rectangles covering the current input size, and the warning when none does.
    public var privacyMasks: Int
    public var privacyWarning: String?

    enum CodingKeys: String, CodingKey {
        case description, state, detail, mode, error, fps, width, height, renegotiations
        case framesCaptured = "frames_captured", privacyMasks = "privacy_masks", privacyWarning = "privacy_warning"
    }

    public init(
        description: String, state: String, detail: String? = nil, mode: String? = nil, error: String? = nil,
        framesCaptured: UInt64, fps: Double, width: Int, height: Int, renegotiations: Int = 0, privacyMasks: Int = 0,
        privacyWarning: String? = nil
    ) {
        self.description = description
        self.state = state
        self.detail = detail
        self.mode = mode
        self.error = error
        self.framesCaptured = framesCaptured
        self.fps = fps
        self.width = width
        self.height = height
        self.renegotiations = renegotiations
        self.privacyMasks = privacyMasks
        self.privacyWarning = privacyWarning
    }

    /// The capture's state, health and masks now. An ended source (a file) or a failed one wins over its health.
    public init(_ capture: CaptureService) {
        let c = capture.snapshot
        let health = capture.source.health
        let masks = capture.mask.rects(width: c.width, height: c.height).count
        self.init(
            description: capture.source.description, state: c.ended ? "ended" : (c.error != nil ? "failed" : health.state),
            detail: health.detail, mode: health.mode, error: c.error, framesCaptured: c.framesCaptured,
            fps: (c.fps * 10).rounded() / 10, width: c.width, height: c.height, renegotiations: health.renegotiations,
            privacyMasks: masks,
            privacyWarning: Self.privacyWarning(masks: masks, width: c.width, height: c.height, allowUnmasked: capture.mask.allowUnmasked))
    }

    /// What the page says when no mask covers the input: recording waits, or records everything (opt-out).
    public static func privacyWarning(masks: Int, width: Int, height: Int, allowUnmasked: Bool) -> String? {
        guard masks == 0, width > 0 else { return nil }
        return allowUnmasked
            ? "No privacy mask covers \(width)x\(height): recordings contain everything on the scanner's screen (privacy.allow_unmasked is set)."
            : "No privacy mask covers \(width)x\(height): recording waits. Draw the masks on the admin page (Privacy masks and crop)."
    }
}

/// `status` (about once a second on the WebSocket, and `GET /api/status`): everything the page and the admin
/// page show about the source, the models, the recording, the study and the viewers.
public struct StatusMessage: Encodable, Sendable {
    public static let type = "status"
    public var version: String
    public var uptimeS: Double
    public var source: SourceStatus
    public var models: [ModelStatus]
    public var recording: RecordingStatusMessage
    public var viewers: Int
    public var study: StudyStatus?
    public var viewersLatency: ViewerLatencyStatus

    public init(
        version: String, uptimeS: Double, source: SourceStatus, models: [ModelStatus], recording: RecorderStatus?,
        viewers: Int, study: StudyStatus?, viewersLatency: ViewerLatencyStatus
    ) {
        self.version = version
        self.uptimeS = (uptimeS * 10).rounded() / 10
        self.source = source
        self.models = models
        self.recording = RecordingStatusMessage(recording)
        self.viewers = viewers
        self.study = study
        self.viewersLatency = viewersLatency
    }

    enum CodingKeys: String, CodingKey {
        case type, version, source, models, recording, viewers, study
        case uptimeS = "uptime_s", viewersLatency = "viewers_latency"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.type, forKey: .type)
        try c.encode(version, forKey: .version)
        try c.encode(uptimeS, forKey: .uptimeS)
        try c.encode(source, forKey: .source)
        try c.encode(models, forKey: .models)
        try c.encode(recording, forKey: .recording)
        try c.encode(viewers, forKey: .viewers)
        try c.encodeIfPresent(study, forKey: .study)
        try c.encode(viewersLatency, forKey: .viewersLatency)
    }
}
