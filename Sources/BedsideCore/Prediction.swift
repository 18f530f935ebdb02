/// One model answer for one frame, as Bedside keeps, logs and shows it.
public struct Prediction: Sendable {
    public var model: String
    /// Sequence number of the frame the model saw.
    public var seq: UInt64
    /// Capture time of that frame (monotonic ns): the key into the recording.
    public var ptsNanos: UInt64
    /// When the frame was handed to the worker and when the answer came back (monotonic ns).
    public var dispatchedNanos: UInt64
    public var receivedNanos: UInt64
    /// Time inside the researcher's function, measured by the bridge.
    public var modelMs: Double
    /// The model's result object, JSON text as the bridge produced it (already validated there).
    public var resultJSON: String
    /// Summary fields read from the result, for status and logs.
    public var plane: String?
    public var status: String?
    /// What the source knew about the frame (the phantom does), for tests and demos.
    public var truth: GroundTruth?
    /// Pipelines: the model whose answer this model was given with the frame.
    public var upstreamModel: String?
    /// The bridge's own clock readings for this frame, when it sent them.
    public var worker: WorkerTimes?
    /// The crop the model's input was cut from (source pixels), nil for the whole frame: where its answer goes
    /// over the video, even when the region editor changed the crop while the frame was with the model.
    public var crop: CropRect?

    /// Monotonic ns inside the worker: frame message received, research function called, and returned.
    /// `sameClock` when the worker runs on this machine (CLOCK_MONOTONIC is shared); otherwise only the
    /// differences between the three mean anything.
    public struct WorkerTimes: Sendable, Equatable {
        public var receivedNanos: UInt64
        public var startNanos: UInt64
        public var endNanos: UInt64
        public var sameClock: Bool

        public init(receivedNanos: UInt64, startNanos: UInt64, endNanos: UInt64, sameClock: Bool) {
            self.receivedNanos = receivedNanos
            self.startNanos = startNanos
            self.endNanos = endNanos
            self.sameClock = sameClock
        }
    }

    public init(
        model: String, seq: UInt64, ptsNanos: UInt64, dispatchedNanos: UInt64, receivedNanos: UInt64,
        modelMs: Double, resultJSON: String, plane: String?, status: String?, truth: GroundTruth? = nil
    ) {
        self.truth = truth
        self.model = model
        self.seq = seq
        self.ptsNanos = ptsNanos
        self.dispatchedNanos = dispatchedNanos
        self.receivedNanos = receivedNanos
        self.modelMs = modelMs
        self.resultJSON = resultJSON
        self.plane = plane
        self.status = status
    }

    /// What Bedside and the bridge add to the model's own time (transport, conversion, scheduling), ms.
    public var overheadMs: Double { max(0, roundTripMs - modelMs) }

    /// Round trip seen by Bedside, in milliseconds.
    public var roundTripMs: Double { Double(receivedNanos &- dispatchedNanos) / 1e6 }
    /// Age of the frame when its answer arrived, in milliseconds.
    public var ageAtResultMs: Double { Double(receivedNanos &- ptsNanos) / 1e6 }
}
