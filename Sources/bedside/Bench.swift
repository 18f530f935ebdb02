import ArgumentParser
import BedsideCore
import Capture
import Foundation
import Recording

#if canImport(Glibc)
import Glibc
#endif

/// `bedside bench`: measurements that print numbers (docs/performance.md quotes them). Not tests: a noisy
/// machine changes the numbers, never the outcome.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure what Bedside costs on this machine and print a Markdown report.",
        subcommands: [
            BenchAll.self, BenchOverhead.self, BenchNaive.self, BenchStaleness.self, BenchReplicas.self, BenchStartup.self,
            BenchEncode.self,
        ])
}

/// Encoding cost of the recorder: phantom frames in the capture box's usual format (YUYV) through the same
/// Mp4Writer the recorder uses, as fast as it goes, one thread submitting (as the recorder does).
struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Recording cost per frame (H.264 fragmented mp4) at given sizes.")

    @Option(help: "Sizes, comma separated.") var sizes = "1280x720,1920x1080"
    @Option(help: "Frames per size.") var frames = 300
    @Option(help: "Nominal frame rate (rate control, keyframes, and the real-time budget).") var fps = 30.0

    func run() throws {
        AVLog.quiet()
        print(Report.machineLine() + "\n")
        print(try Self.report(sizes: sizes, frames: frames, fps: fps))
    }

    static func report(sizes: String, frames: Int, fps: Double) throws -> String {
        var out = "## Recording cost (`bedside bench encode`)\n\n"
        out += "Phantom frames in YUYV through the recorder's own writer (libx264 ultrafast/zerolatency, CRF 23, fragmented mp4).\n\n"
        out += "| size | encoder | frames | ms/frame p50 | p99 | max | CPU ms/frame | share of one core at \(Int(fps)) fps | MB/min |\n"
        out += "|---|---|---|---|---|---|---|---|---|\n"
        for spec in sizes.split(separator: ",") {
            let (w, h) = try parseSize(String(spec))
            let renderer = PhantomRenderer(width: w, height: h)
            // 30 distinct frames, cycled: rendering is not what is measured.
            let yuyv: [[UInt8]] = (0..<30).map { i in
                let (gray, _) = renderer.render(time: Double(i) / fps, index: UInt64(i))
                var out = [UInt8](repeating: 128, count: w * h * 2)
                for p in 0..<(w * h) { out[2 * p] = gray[p] }
                return out
            }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-bench-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("bench.mp4").path
            let writer = try Mp4Writer(path: path, width: w, height: h, fps: fps)
            var times: [Double] = []
            let cpu0 = Report.cpuSeconds()
            for i in 0..<frames {
                let f = Frame(
                    seq: UInt64(i), ptsNanos: 1_000_000_000 + UInt64(Double(i) / fps * 1e9), wallClock: 0, width: w,
                    height: h, format: .yuyv422, pixels: yuyv[i % yuyv.count])
                let t0 = Clock.monotonicNanos()
                try writer.write(f)
                times.append(Double(Clock.monotonicNanos() - t0) / 1e6)
            }
            try writer.finish()
            let cpu = Report.cpuSeconds() - cpu0
            let size = Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0)
            let cpuPerFrame = cpu / Double(frames) * 1000
            let share = cpuPerFrame * fps / 1000 * 100
            let mbPerMin = size / 1_048_576 / (Double(frames) / fps) * 60
            let s = times.sorted()
            out +=
                "| \(w)x\(h) | \(writer.codecName) | \(frames) | \(Report.f(Report.pct(s, 50))) | \(Report.f(Report.pct(s, 99))) | \(Report.f(s.last ?? 0)) | \(Report.f(cpuPerFrame)) | \(Report.f(share))% | \(Report.f(mbPerMin)) |\n"
        }
        return out + "\nCPU time counts every thread of the process (x264 uses several), so it can exceed wall time.\n"
    }
}

enum Report {
    static func pct(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p / 100).rounded()))]
    }

    static func f(_ v: Double) -> String { String(format: v < 10 ? "%.2f" : "%.1f", v) }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
            + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// "Machine: CPU model, N cores, RAM; date; Bedside version" for report headers.
    static func machineLine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "?"
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ram = ProcessInfo.processInfo.physicalMemory / 1_073_741_824
        let date = Date().formatted(.iso8601)
        return "Machine: \(model), \(cores) cores, \(ram) GiB; \(date); Bedside \(BedsideVersion.string)"
    }
}
