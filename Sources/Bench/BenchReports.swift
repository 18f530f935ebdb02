import BedsideCore
import Capture
import Foundation
import Recording

#if canImport(Glibc)
import Glibc
#endif

extension BenchReports {
    public static func encode(sizes: String, frames: Int, fps: Double) throws -> String {
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

public enum Report {
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
    public static func machineLine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "?"
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ram = ProcessInfo.processInfo.physicalMemory / 1_073_741_824
        let date = Date().formatted(.iso8601)
        return "Machine: \(model), \(cores) cores, \(ram) GiB; \(date); Bedside \(BedsideVersion.string)"
    }
}

/// `bedside bench`'s measurements, each a Markdown section (docs/performance.md quotes them). Not tests: a noisy
/// machine changes the numbers, never the outcome. The commands in the executable only pick the options.
public enum BenchReports {}

/// A benchmark that could not run (no answer, no free port, a baseline that failed): the reason and the fix.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `1280x720` -> (1280, 720).
public func parseSize(_ s: String) throws -> (Int, Int) {
    let p = s.lowercased().split(separator: "x").compactMap { Int($0) }
    guard p.count == 2, p[0] > 0, p[1] > 0 else { throw BenchError("size must look like 1280x720, got \(s)") }
    return (p[0], p[1])
}
