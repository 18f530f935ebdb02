import ArgumentParser
import Foundation
import Study

/// `bedside compare`: answer sources on the same scans, aligned by the frame's time, into an HTML report and a
/// JSON summary (docs/validation.md).
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare models' answers (live, silent, bedside replay outputs) on recorded sessions: HTML report + JSON.")

    @Argument(help: "Session folders (with predictions.jsonl), or folders of them.") var paths: [String]
    @Option(help: "Sources to compare, comma-separated, the reference first (default: every one; a replay's are model@replay-file).")
    var models: String?
    @Option(name: .shortAndLong, help: "The HTML report to write.") var out = "compare.html"
    @Option(help: "The JSON summary to write (default: beside the report).") var json: String?
    @Option(help: "Sessions compared at once (default: every core).") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "No progress bar.") var quiet = false

    func run() async throws {
        let only = (models ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let jsonPath = json ?? (out as NSString).deletingPathExtension + ".json"
        let run = CompareRun(paths: paths, only: only, html: out, json: jsonPath, jobs: jobs, progress: !quiet)
        do {
            let o = try await run.run()
            print(
                "Compared \(o.sessions) session(s) in \(String(format: "%.1f", o.seconds)) s on \(jobs) core(s)"
                    + "\(o.fromCache > 0 ? " (\(o.fromCache) unchanged, from the cache)" : ""): \(out), \(jsonPath)")
            for why in o.skipped { print("  skipped: \(why)") }
            for (pair, v) in o.summary.overall.sorted(by: { $0.key < $1.key }) {
                print("  \(pair): \(String(format: "%.1f", v.agreement * 100)) % of \(v.frames) frames agree, \(v.disagreementSpans) disagreement span(s)")
            }
        } catch let e as CompareError {
            throw ValidationError(e.description)
        }
    }
}
