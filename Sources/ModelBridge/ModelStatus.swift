/// What `/api/status` and the page say about one model.
public struct ModelStatus: Sendable, Codable, Equatable {
    public var name: String
    /// starting (process started), loading (research code importing / setting up), running, restarting,
    /// failing (crash loop: retried slowly), stopped. With replicas: the best state of any replica.
    public var state: ModelState = .starting
    public var framesSent: UInt64 = 0
    public var predictions: UInt64 = 0
    /// Frames the model answered with an error (its exception, or an unusable result).
    public var errors: UInt64 = 0
    public var restarts: Int = 0
    public var lastError: String?
    /// Answers per second over the last minute (at most 60 answers); falls towards 0 while no answer comes.
    public var rateHz: Double = 0
    /// The usual time between answers, ms (the median gap of the last minute; 0 before two answers). With
    /// `latency_ms` it is the model's cadence: the page calls an answer stale only when it is older than that
    /// cadence explains (docs/protocol.md, "Freshness").
    public var intervalMs: Double = 0
    /// Answers in a row that were errors (the model's exception, or a result Bedside refused); 0 after a good
    /// answer. The page says the model's answers are refused while this is not 0 (docs/protocol.md).
    public var failingAnswers = 0
    /// What to do about `last_error` when the model's answers fail (shown on the admin page).
    public var lastErrorFix: String?
    /// Bedside's round trip (dispatch to answer), smoothed, ms.
    public var latencyMs: Double = 0
    /// Time inside the researcher's function, smoothed, ms.
    public var modelMs: Double = 0
    /// Captured frames never given to the model because a newer one came first.
    public var skippedFrames: UInt64 = 0
    public var pid: Int32?
    public var crop: CropBox?
    public var replicas = 1
    /// `show: false`: runs and is recorded, never shown on a tablet (the admin page marks it).
    public var silent = false
    public var replicasReady = 0
    /// Answers that came back after a newer one was shown (replicas finishing out of order): logged, not shown.
    public var lateResults: UInt64 = 0
    /// The last lines the research code wrote to stderr before it failed.
    public var stderrTail: [String] = []
    /// Import + setup time of the last worker start, measured by the bridge.
    public var setupMs: Double?
    /// What the research code declares about itself (sent by the bridge when it is ready).
    public var info: Info?
    /// Resident memory of the (first) worker and its children, MB; restarted above `max_memory_mb`.
    public var memoryMB: Int?
    /// A pipeline model's source of frames and upstream answers.
    public var upstream: String?
    /// Remote workers refused at the CURVE handshake (a key not in authorized_workers).
    public var refusedWorkers = 0
    /// `deny` or `allow` (the model's `network:`).
    public var network = "deny"
    /// The research code's network attempts the bridge saw (distinct host, port, URL and code line; counted).
    public var networkAttempts: [NetworkAttempt] = []

    public struct NetworkAttempt: Sendable, Codable, Equatable {
        public var host: String
        public var port: Int?
        public var url: String?
        public var event: String?
        /// `file:line` in the research code that made the attempt.
        public var location: String?
        public var function: String?
        public var count: Int
        public var denied: Bool

        enum CodingKeys: String, CodingKey {
            case host, port, url, event, function, count, denied
            case location = "where"
        }

        /// One attempt is one (host, port, URL, code line); later reports update its count.
        var key: String { "\(host)|\(port ?? -1)|\(url ?? "")|\(location ?? "")" }
    }

    public struct Info: Sendable, Codable, Equatable {
        public var version: String?
        public var classes: [String]?
        public var concepts: [String]?
        public var planes: [String]?
    }

    public struct CropBox: Sendable, Codable, Equatable {
        public var x: Int, y: Int, width: Int, height: Int
    }

    public init(name: String) { self.name = name }

    /// The fix for an answer that came back as an error, by whose fault it was (the bridge's `fault`).
    public static func answerFix(fault: String) -> String {
        switch fault {
        case "result":
            "Bedside could not use the model's return value: return the result object of docs/researchers.md (plane, concepts, segmentation, guidance) from the entry function; `bedside check --config <bedside.yaml>` shows one answer and what is wrong with it"
        case "researcher":
            "the research code raised an exception: its traceback is in Bedside's log (and `bedside check --config <bedside.yaml>` prints it)"
        default:
            "see Bedside's log for the worker's traceback"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, state, errors, restarts, pid, crop, predictions, silent
        case framesSent = "frames_sent"
        case lastError = "last_error"
        case lastErrorFix = "last_error_fix"
        case rateHz = "rate_hz"
        case intervalMs = "interval_ms"
        case failingAnswers = "failing_answers"
        case latencyMs = "latency_ms"
        case modelMs = "model_ms"
        case skippedFrames = "skipped_frames"
        case replicas
        case replicasReady = "replicas_ready"
        case lateResults = "late_results"
        case stderrTail = "stderr_tail"
        case setupMs = "setup_ms"
        case info
        case memoryMB = "memory_mb"
        case upstream
        case refusedWorkers = "refused_workers"
        case network
        case networkAttempts = "network_attempts"
    }
}
