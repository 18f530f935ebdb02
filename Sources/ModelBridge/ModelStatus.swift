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
    /// Answers per second, smoothed.
    public var rateHz: Double = 0
    /// Bedside's round trip (dispatch to answer), smoothed, ms.
    public var latencyMs: Double = 0
    /// Time inside the researcher's function, smoothed, ms.
    public var modelMs: Double = 0
    /// Captured frames never given to the model because a newer one came first.
    public var skippedFrames: UInt64 = 0
    public var pid: Int32?
    public var crop: CropBox?
    public var replicas = 1
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

    enum CodingKeys: String, CodingKey {
        case name, state, errors, restarts, pid, crop, predictions
        case framesSent = "frames_sent"
        case lastError = "last_error"
        case rateHz = "rate_hz"
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
