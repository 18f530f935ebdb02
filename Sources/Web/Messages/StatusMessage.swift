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
    /// How the live picture goes out: tablets per codec, the H.264 stream's counters.
    public var stream: StreamStatus?

    public init(
        version: String, uptimeS: Double, source: SourceStatus, models: [ModelStatus], recording: RecorderStatus?,
        viewers: Int, study: StudyStatus?, viewersLatency: ViewerLatencyStatus, stream: StreamStatus? = nil
    ) {
        self.stream = stream
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
        case stream
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
        try c.encodeIfPresent(stream, forKey: .stream)
    }
}

/// `status.stream`: the live picture's way to the tablets. Counters are totals since start (a rate is the
/// difference of two statuses): frames and bytes of the H.264 stream, its keyframes (those asked for by a
/// tablet that joined or fell behind among them), the time spent encoding, frames tablets did not get.
public struct StreamStatus: Encodable, Sendable, Equatable {
    public var codec: String
    public var h264Viewers: Int
    public var jpegViewers: Int
    public var h264Frames: UInt64
    public var h264Bytes: UInt64
    public var h264Keyframes: UInt64
    public var h264ForcedKeyframes: UInt64
    public var h264EncodeMsMean: Double?
    public var h264Skipped: UInt64
    public var jpegFrames: UInt64

    enum CodingKeys: String, CodingKey {
        case codec
        case h264Viewers = "h264_viewers", jpegViewers = "jpeg_viewers", h264Frames = "h264_frames", h264Bytes = "h264_bytes"
        case h264Keyframes = "h264_keyframes", h264ForcedKeyframes = "h264_forced_keyframes"
        case h264EncodeMsMean = "h264_encode_ms_mean", h264Skipped = "h264_skipped", jpegFrames = "jpeg_frames"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(codec, forKey: .codec)
        try c.encode(h264Viewers, forKey: .h264Viewers)
        try c.encode(jpegViewers, forKey: .jpegViewers)
        try c.encode(h264Frames, forKey: .h264Frames)
        try c.encode(h264Bytes, forKey: .h264Bytes)
        try c.encode(h264Keyframes, forKey: .h264Keyframes)
        try c.encode(h264ForcedKeyframes, forKey: .h264ForcedKeyframes)
        try c.encode(h264EncodeMsMean, forKey: .h264EncodeMsMean)  // null before the first H.264 frame
        try c.encode(h264Skipped, forKey: .h264Skipped)
        try c.encode(jpegFrames, forKey: .jpegFrames)
    }
}
