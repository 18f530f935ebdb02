import Foundation

/// What `bedside prepare` says about one model once it has run: what arrived in the cache, and, when nothing
/// did, why and what to do. Pure: the inputs are what the run saw, the output the lines to print and whether
/// the model is ready for the clinic.
public struct PrepareVerdict: Equatable, Sendable {
    /// A file in the model's cache, relative to it.
    public struct File: Equatable, Sendable {
        public var path: String
        public var size: Int64
        public init(path: String, size: Int64) {
            self.path = path
            self.size = size
        }
    }

    public var ready: Bool
    public var lines: [String]

    /// Switches that make every download fail, which `prepare` clears for the model when it inherits them.
    public static let offlineSwitches = ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "PIP_NO_INDEX", "YOLO_OFFLINE"]

    /// The files that arrived: new since `before`, or changed in size.
    public static func arrived(before: [String: Int64], after: [File]) -> [File] {
        after.filter { before[$0.path] != $0.size }
    }

    /// - Parameters:
    ///   - answered: the model started and answered a frame.
    ///   - attempts: the URLs (or hosts) of its network attempts, in order.
    ///   - arrived: the files new in the cache.
    ///   - cached: every file in the cache now.
    ///   - error: the model's error when it did not answer.
    ///   - cleared: offline switches inherited from the environment and cleared for the run.
    public static func judge(
        answered: Bool, attempts: [String], arrived: [File], cached: [File], error: String?, cleared: [String] = []
    ) -> PrepareVerdict {
        var lines: [String] = []
        if !cleared.isEmpty {
            lines.append("ignored \(cleared.joined(separator: ", ")) from the environment for this run (it would make every download fail)")
        }
        let bytes = arrived.reduce(Int64(0)) { $0 + $1.size }
        if !arrived.isEmpty {
            lines.append("fetched \(arrived.count) file(s), \(size(bytes)), through \(attempts.count) network attempt(s):")
            for f in arrived.sorted(by: { $0.size > $1.size }).prefix(20) { lines.append("  \(size(f.size))  \(f.path)") }
            if arrived.count > 20 { lines.append("  ... and \(arrived.count - 20) more (all in the manifest)") }
        }
        let attemptsText = attempts.prefix(3).joined(separator: ", ") + (attempts.count > 3 ? ", ..." : "")
        switch (answered, arrived.isEmpty, attempts.isEmpty) {
        case (true, false, _):
            return .init(ready: true, lines: lines)
        case (true, true, true):
            lines.append("nothing to fetch: the model made no network attempt while it started and answered; it starts offline as it is")
            return .init(ready: true, lines: lines)
        case (true, true, false) where !cached.isEmpty:
            lines.append(
                "nothing new arrived: the \(cached.count) file(s) it asked for (\(attemptsText)) were in its cache already, from an earlier prepare")
            return .init(ready: true, lines: lines)
        case (true, true, false):
            lines.append(
                "the model made \(attempts.count) network attempt(s) (\(attemptsText)) but nothing arrived in its cache: they look like checks or telemetry, not downloads. In the clinic (network: deny) they are refused; the model answered without them"
            )
            return .init(ready: true, lines: lines)
        case (false, true, false):
            lines.append(
                "nothing arrived: the model's \(attempts.count) network attempt(s) (\(attemptsText)) got no file\(error.map { " and it failed: \($0)" } ?? ""). Is this machine online (a proxy: HTTPS_PROXY; a hub mirror: HF_ENDPOINT)? Then run prepare again"
            )
        case (false, true, true):
            lines.append(
                "nothing arrived, and the model made no network attempt before it failed\(error.map { ": \($0)" } ?? ""). The failure is not a download: `bedside check` shows it the same way"
            )
        case (false, false, _):
            lines.append("the files above arrived, but the model still did not answer\(error.map { ": \($0)" } ?? "")")
        }
        return .init(ready: false, lines: lines)
    }

    static func size(_ bytes: Int64) -> String {
        if bytes >= 10_000_000 { return "\(bytes / 1_000_000) MB" }
        if bytes >= 1_000_000 { return String(format: "%.1f MB", Double(bytes) / 1e6) }
        if bytes >= 10_000 { return "\(bytes / 1000) kB" }
        return "\(bytes) B"
    }
}
