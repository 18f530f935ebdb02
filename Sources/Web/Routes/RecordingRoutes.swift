import BedsideCore
import Foundation
import Hummingbird
import Logging
import Recording

/// Starting and stopping the recording by hand (`recording.mode: manual`, or a pause in `always`).
public protocol RecordingControl: Sendable {
    /// Opens a session and answers once it is open or refused, within a few seconds.
    func startRecording() async -> RecordingStartReply
    func stopRecording() -> RecordingStopReply
}

public struct RecordingStartReply: Codable, Sendable, Equatable {
    public var started: Bool
    public var state: String
    /// Set when the session could not open (a folder that cannot be made, a full disk).
    public var error: String?
    public var fix: String?

    public init(started: Bool, state: String, error: String? = nil, fix: String? = nil) {
        self.started = started
        self.state = state
        self.error = error
        self.fix = fix
    }
}

public struct RecordingStopReply: Codable, Sendable, Equatable {
    public var stopped: Bool
    public init(stopped: Bool) { self.stopped = stopped }
}

extension Recorder: RecordingControl {
    public func startRecording() async -> RecordingStartReply {
        let before = status
        let started = startSession()
        // Answer with what happened: the session open, or refused at once (a folder that cannot be made).
        let deadline = ContinuousClock.now + .seconds(3)
        var now = status
        while started, now.sessions == before.sessions, now.failures == before.failures, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            now = status
        }
        if started, now.failures > before.failures, case .failed(let message) = now.state {
            return RecordingStartReply(
                started: false, state: now.stateName, error: message,
                fix: "make the recording folder writable (or free the disk), then start again")
        }
        return RecordingStartReply(started: started, state: now.stateName)
    }

    public func stopRecording() -> RecordingStopReply { RecordingStopReply(stopped: stopSession()) }
}

/// `POST /api/recording/start|stop` (admin). Without a recorder both answer 409 with the config fix.
struct RecordingRoutes {
    let recording: (any RecordingControl)?
    let logger: Logger

    func add(admin api: RouterGroup<BedsideRequestContext>) {
        let recording = self.recording, log = logger
        let off = APIError(.conflict, "recording is off in this config", fix: "set `recording: {enabled: true}` and restart Bedside")
        api.post("recording/start") { _, _ -> Response in
            guard let recording else { throw off }
            let reply = await recording.startRecording()
            log.info("recording start requested", metadata: ["started": "\(reply.started)"])
            return JSONReply.response(reply, status: reply.error == nil ? .ok : .internalServerError)
        }
        api.post("recording/stop") { _, _ -> Response in
            guard let recording else { throw off }
            let reply = recording.stopRecording()
            log.info("recording stop requested", metadata: ["stopped": "\(reply.stopped)"])
            return JSONReply.response(reply)
        }
    }
}
