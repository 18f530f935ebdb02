import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Recording

/// Starts one model, feeds it a phantom frame until it answers (or fails), and explains the outcome.
public final class ModelCheck {
    let model: ModelConfig
    let width: Int
    let height: Int
    /// The model's status at the end of the check.
    public private(set) var status: ModelStatus?

    public init(model: ModelConfig, width: Int, height: Int) {
        self.model = model
        self.width = width
        self.height = height
    }

    public func run() async throws -> Bool {
        let runtime = try ModelRuntime.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        var logger = Logger(label: "check")
        logger.logLevel = .critical
        let harness = ModelHarness(ModelRunner(config: model, runtimeDirectory: runtime, logger: logger) { _ in })
        let runner = harness.runner
        let renderer = PhantomRenderer(width: width & ~1, height: height & ~1)
        let (pixels, truth) = renderer.render(time: 5, index: 0)
        let frame = Frame(
            seq: 0, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: renderer.width, height: renderer.height,
            format: .gray8, pixels: pixels, truth: truth)
        // What went wrong when no answer is the outcome; an answer (or an error answer) is read from the status.
        var outcome: String?
        var timed: [Double] = []
        switch await harness.waitUntilRunning(timeout: .seconds(model.startupTimeoutSeconds + 5), failFast: true, poll: .milliseconds(20)) {
        case .running:
            switch await harness.answer(frame, resend: .milliseconds(500), poll: .milliseconds(5)) {
            case .lost(let why): outcome = why
            case .answered(let first):
                // The first answer warms the model up; a few more (up to 4, within about 8 s) give its cadence.
                var next = frame
                next.seq = first.seq + 1
                let budget = ContinuousClock.now + .seconds(max(3, min(8, first.modelMs / 1000 * 5)))
                while timed.count < 4, ContinuousClock.now < budget {
                    next.ptsNanos = Clock.monotonicNanos()
                    guard case .answered(let p) = await harness.answer(next, poll: .milliseconds(2)) else { break }
                    timed.append(p.modelMs)
                    next.seq = p.seq + 1
                }
            default: break
            }
        case .failed(let why): outcome = why
        case .timedOut(let why): outcome = why ?? "not ready within \(Int(model.startupTimeoutSeconds + 5)) s"
        case .interrupted: break
        }
        await harness.stop()
        let s = runner.status
        status = s
        reportNetwork(s)
        if let p = runner.lastPrediction {
            print("  ✓ loaded in \(fmt(s.setupMs)) ms (import + setup), predict took \(fmt(p.modelMs)) ms, round trip \(fmt(p.roundTripMs)) ms")
            print("  returned: \(summary(p.resultJSON))")
            let times = (timed.isEmpty ? [p.modelMs] : timed).sorted()
            let threads = ModelThreads.environment(
                configured: model.threads, cores: ProcessInfo.processInfo.activeProcessorCount, replicas: model.replicas,
                inherited: ProcessInfo.processInfo.environment, modelEnv: [:])
            let threadCount = model.env["OMP_NUM_THREADS"].flatMap { Int($0) } ?? threads.threads
            let source = model.env["OMP_NUM_THREADS"] != nil ? "OMP_NUM_THREADS in the model's env" : threads.source
            for line in CadenceAdvice.lines(
                medianMs: times[times.count / 2], frames: times.count, replicas: model.replicas, trigger: model.trigger,
                threads: threadCount, threadsSource: source)
            {
                print("  \(line)")
            }
            if let i = s.info {
                var parts: [String] = []
                if let v = i.version { parts.append("version \(v)") }
                func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }
                if let c = i.classes { parts.append(count(c.count, "segmentation class", "segmentation classes")) }
                if let c = i.concepts { parts.append(count(c.count, "concept", "concepts")) }
                if let c = i.planes { parts.append(count(c.count, "plane", "planes")) }
                if !parts.isEmpty { print("  declares: \(parts.joined(separator: ", "))") }
            }
            return true
        }
        if s.errors > 0, let e = s.lastError {
            print("  ✗ the model started (\(fmt(s.setupMs)) ms) but its answer was an error: \(e)")
            print(
                "    \(e.contains("(researcher)") ? "The exception came from your code; its traceback is in Bedside's log when it runs." : "Return a dict like the one in docs/protocol.md (Result object).")"
            )
            return false
        }
        print("  ✗ \(outcome ?? s.lastError ?? "no answer within \(Int(model.startupTimeoutSeconds + model.timeoutSeconds)) s")")
        for line in s.stderrTail.suffix(8) { print("    | \(line)") }
        return false
    }

    /// The research code's network attempts, and what to do about them in the clinic.
    func reportNetwork(_ s: ModelStatus) {
        guard !s.networkAttempts.isEmpty else { return }
        print("  network: \(s.networkAttempts.count) attempt(s) by the research code (network: \(s.network)):")
        for a in s.networkAttempts.prefix(10) {
            let target = a.url ?? "\(a.host)\(a.port.map { ":\($0)" } ?? "")"
            print(
                "    \(a.denied ? "✗ denied" : "→ allowed") \(target) from \(a.location ?? "?")\(a.function.map { " (\($0))" } ?? "")\(a.count > 1 ? ", \(a.count) times" : "")"
            )
        }
        if s.network == "deny" && s.networkAttempts.contains(where: { $0.denied }) {
            print(
                "    The clinic box has no internet: run `bedside prepare --config \(model.configFile ?? "<bedside.yaml>")` once on a machine with internet to fetch downloads into the model's cache (\(model.cacheDirectory ?? "?"))."
            )
        }
    }

    func fmt(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "?" }

    /// One line a researcher can read: the keys, the plane, how many concepts, the label map size.
    func summary(_ json: String) -> String {
        guard let result = JSONValue(parsing: json), let keys = result.objectValue?.keys else { return json }
        func text(_ v: JSONValue?) -> String { v.map { $0.stringValue ?? $0.text } ?? "?" }
        var parts: [String] = []
        if let plane = result["plane"] { parts.append("plane \(text(plane["name"])) (\(text(plane["status"])))") }
        if let c = result["concepts"]?.arrayValue { parts.append("\(c.count) concepts") }
        if let seg = result["segmentation"] {
            parts.append("segmentation \(text(seg["width"]))x\(text(seg["height"])) with \(seg["classes"]?.arrayValue?.count ?? 0) classes")
        }
        if let t = result["guidance"]?["text"] { parts.append("guidance \"\(text(t))\"") }
        parts.append("keys: \(keys.sorted().joined(separator: ", "))")
        return parts.joined(separator: "; ")
    }
}

/// `<cache>/manifest.json`, written by `bedside prepare`: what the model fetched and what its cache holds.
struct PrepareManifest: Codable {
    struct Fetch: Codable {
        var url: String?
        var host: String?
        var port: JSONValue?
        var `where`: String?
        var function: String?
        var event: String?
    }
    struct File: Codable {
        var path: String
        var size: Int64
        var sha256: String?
    }
    var model: String
    var preparedAt: String
    var config: String?
    var bedsideVersion: String
    var answered: Bool
    var urls: [Fetch]
    /// What arrived in this run (new, or changed in size), and its bytes.
    var fetched: [File]
    var fetchedBytes: Int64
    /// Everything in the cache now (what the clinic box needs), and its bytes.
    var files: [File]
    var bytes: Int64

    enum CodingKeys: String, CodingKey {
        case model, config, answered, urls, fetched, files, bytes
        case preparedAt = "prepared_at", bedsideVersion = "bedside_version", fetchedBytes = "fetched_bytes"
    }
}

/// `bedside prepare` for one model: the check with the network allowed and every attempt logged, then a
/// manifest of the URLs fetched and the files now in the model's cache (size, SHA-256), and what arrived.
public struct ModelPrepare {
    let model: ModelConfig
    let cache: String
    let width: Int
    let height: Int

    public init(model: ModelConfig, cache: String, width: Int, height: Int) {
        self.model = model
        self.cache = cache
        self.width = width
        self.height = height
    }

    /// The cache's files (relative path -> size), leaving out prepare's own.
    func cachedFiles(_ root: String) -> [PrepareVerdict.File] {
        var out: [PrepareVerdict.File] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
        for case let rel as String in walker {
            if rel == "manifest.json" || rel == "network-log.jsonl" { continue }
            let path = root + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
            out.append(.init(path: rel, size: size))
        }
        return out.sorted { $0.path < $1.path }
    }

    public func run() async throws -> Bool {
        var m = model
        m.network = "allow"
        m.sandbox = false  // the sandbox has no network at all
        m.cacheDirectory = cache
        m.env["BEDSIDE_PREPARE"] = "1"  // the bridge clears inherited offline switches (HF_HUB_OFFLINE=1 fetches nothing)
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let root = URL(fileURLWithPath: cache).standardizedFileURL.path
        let log = root + "/network-log.jsonl"
        try? FileManager.default.removeItem(atPath: log)
        m.networkLog = log
        let environment = ProcessInfo.processInfo.environment.merging(model.env) { $1 }
        let cleared = PrepareVerdict.offlineSwitches.filter { environment[$0] != nil }
        let before = Dictionary(cachedFiles(root).map { ($0.path, $0.size) }) { a, _ in a }
        var hub = ""
        if let endpoint = environment["HF_ENDPOINT"] { hub = "; Hugging Face hub downloads from HF_ENDPOINT=\(endpoint)" }
        print("\nmodel \(m.name): starting it with the network allowed, downloads into \(root)\(hub)...")
        let check = ModelCheck(model: m, width: width, height: height)
        let ok = try await check.run()
        var urls: [PrepareManifest.Fetch] = []
        if let text = try? String(contentsOfFile: log, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let fetch = try? JSONWire.decode(PrepareManifest.Fetch.self, from: String(line)) { urls.append(fetch) }
            }
        }
        let cached = cachedFiles(root)
        let arrived = PrepareVerdict.arrived(before: before, after: cached)
        let verdict = PrepareVerdict.judge(
            answered: ok, attempts: urls.map { $0.url ?? $0.host ?? "?" }, arrived: arrived, cached: cached,
            error: ok ? nil : check.status?.lastError, cleared: cleared)
        func manifestFiles(_ files: [PrepareVerdict.File]) -> [PrepareManifest.File] {
            files.map { .init(path: $0.path, size: $0.size, sha256: Digest.sha256(file: root + "/" + $0.path)) }
        }
        let manifest = PrepareManifest(
            model: m.name, preparedAt: Date().formatted(.iso8601), config: m.configFile, bedsideVersion: BedsideVersion.string,
            answered: ok, urls: urls, fetched: manifestFiles(arrived), fetchedBytes: arrived.reduce(0) { $0 + $1.size },
            files: manifestFiles(cached), bytes: cached.reduce(0) { $0 + $1.size })
        try JSONWire.data(manifest, pretty: true).write(to: URL(fileURLWithPath: root + "/manifest.json"), options: .atomic)
        for (i, line) in verdict.lines.enumerated() {
            print("  \(!verdict.ready && i == verdict.lines.count - 1 ? "✗ " : "")\(line)")
        }
        print("  the cache holds \(cached.count) file(s), \(PrepareVerdict.size(manifest.bytes)); manifest: \(root)/manifest.json")
        if verdict.ready {
            print(
                "  ✓ ready for the clinic: with `network: deny` the model finds these files in its cache. Copy \(root) to the same place on the box (the offline bundle does)."
            )
        }
        return verdict.ready
    }
}
