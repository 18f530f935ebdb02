import ArgumentParser
import BedsideCore
import Bench
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
        print(try BenchReports.encode(sizes: sizes, frames: frames, fps: fps))
    }
}
