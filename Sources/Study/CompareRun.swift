import BedsideCore
import Foundation

/// `bedside compare` over one session folder or a folder of many: each session compared on its own (in
/// parallel, one per core), a session whose inputs have not changed since the last run read from the cache
/// beside the report instead of compared again, a progress line on stderr.
public struct CompareRun: Sendable {
    public var paths: [String]
    /// Sources to compare, in order (the first is the reference); empty: every source of each session.
    public var only: [String]
    public var html: String
    public var json: String
    public var jobs: Int
    public var progress: Bool

    public init(paths: [String], only: [String], html: String, json: String, jobs: Int, progress: Bool) {
        self.paths = paths
        self.only = only
        self.html = html
        self.json = json
        self.jobs = max(1, jobs)
        self.progress = progress
    }

    public struct Outcome: Sendable {
        public var sessions: Int
        public var fromCache: Int
        public var seconds: Double
        public var summary: CompareReport.Summary
        /// Sessions left out, each with why.
        public var skipped: [String]
    }

    /// The session folders under the paths: a folder with `predictions.jsonl`, or its subfolders that have one.
    public static func sessions(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        for p in paths {
            let path = URL(fileURLWithPath: p).standardizedFileURL.path
            var dir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &dir), dir.boolValue else {
                throw CompareError("\(p) is not a folder: give a session folder (with predictions.jsonl) or a folder of them")
            }
            if CompareSession.isSession(path) {
                out.append(path)
                continue
            }
            let subs = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
            let found = subs.filter(CompareSession.isSession)
            guard !found.isEmpty else { throw CompareError("\(p) holds no session (no predictions.jsonl in it or its subfolders)") }
            out += found
        }
        return out
    }

    /// What identifies a session's inputs (paths, sizes, modification times) and the sources asked for.
    static func key(_ folder: String, only: [String]) -> String {
        var text = "\(BedsideVersion.string)|v2|\(folder)|\(only.joined(separator: ","))"
        for f in CompareSession.inputs(folder) {
            let a = try? FileManager.default.attributesOfItem(atPath: f)
            let size = (a?[.size] as? NSNumber)?.intValue ?? -1
            let time = (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            text += "|\(f)|\(size)|\(time)"
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    static func compare(_ folder: String, only: [String]) throws -> Comparison {
        let (all, choices) = try CompareSession.load(folder)
        var sources = all
        if !only.isEmpty {
            sources = try only.map { name in
                guard let s = all.first(where: { $0.name == name }) else {
                    throw CompareError(
                        "\(folder) has no answers from \(name); it has \(all.map(\.name).joined(separator: ", ")). Fix: name sources as listed (a replay's are model@replay-file)"
                    )
                }
                return s
            }
        }
        return Comparison.make(session: (folder as NSString).lastPathComponent, sources: sources, choices: choices)
    }

    public func run() async throws -> Outcome {
        let started = Date()
        let folders = try Self.sessions(paths)
        let cache = (html as NSString).deletingPathExtension + ".cache"
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let only = self.only
        var results = [Comparison?](repeating: nil, count: folders.count)
        var cached = 0, done = 0
        let showProgress = progress
        func tick() {
            guard showProgress else { return }
            let w = 30, filled = folders.isEmpty ? w : done * w / folders.count
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: w - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(folders.count) sessions\(done == folders.count ? "\n" : "")".utf8))
        }
        // One task per session, `jobs` at a time.
        @Sendable func work(_ i: Int) -> (Int, Result<Comparison, CompareError>, Bool) {
            let folder = folders[i]
            let file = "\(cache)/\(Self.key(folder, only: only)).json"
            if let d = FileManager.default.contents(atPath: file), let c = try? JSONDecoder().decode(Comparison.self, from: d) {
                return (i, .success(c), true)
            }
            do {
                let c = try Self.compare(folder, only: only)
                if let d = try? JSONEncoder().encode(c) { try? d.write(to: URL(fileURLWithPath: file), options: .atomic) }
                return (i, .success(c), false)
            } catch let e as CompareError {
                return (i, .failure(e), false)
            } catch {
                return (i, .failure(CompareError("\(folder): \(error)")), false)
            }
        }
        var skipped: [String] = []
        await withTaskGroup(of: (Int, Result<Comparison, CompareError>, Bool).self) { group in
            var next = 0
            while next < min(jobs, folders.count) {
                let i = next
                group.addTask { work(i) }
                next += 1
            }
            while let (i, r, hit) = await group.next() {
                switch r {
                case .success(let c): results[i] = c
                case .failure(let e): skipped.append(e.description)
                }
                done += 1
                if hit { cached += 1 }
                tick()
                if next < folders.count {
                    let j = next
                    group.addTask { work(j) }
                    next += 1
                }
            }
        }
        let comparisons = results.compactMap { $0 }
        // A session that cannot be compared is skipped and named; none at all is an error.
        if comparisons.isEmpty, let first = skipped.first {
            throw CompareError(skipped.count == 1 ? first : "no session could be compared; the first: \(first)")
        }
        let summary = CompareReport.summary(comparisons)
        let seconds = Date().timeIntervalSince(started)
        let title = comparisons.count == 1 ? "Bedside compare: \(comparisons[0].session)" : "Bedside compare: \(comparisons.count) sessions"
        do {
            try CompareReport.html(summary, title: title, seconds: seconds, cores: jobs).write(toFile: html, atomically: true, encoding: .utf8)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            try enc.encode(summary).write(to: URL(fileURLWithPath: json), options: .atomic)
        } catch {
            throw CompareError("cannot write the report (\(html), \(json)): \(error.localizedDescription)")
        }
        return Outcome(sessions: comparisons.count, fromCache: cached, seconds: seconds, summary: summary, skipped: skipped)
    }
}
