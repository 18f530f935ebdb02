import ArgumentParser
import BedsideApp
import BedsideCore
import Bench
import Capture
import Foundation
import Logging
import ModelBridge
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct BenchOverhead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overhead",
        abstract: "Bedside's cost per frame on top of the model (the seed's Table 1), shared memory and TCP.")

    @Option(help: "Frame sizes (RGB), comma separated.") var sizes = "640x480,1280x720,1920x1080"
    @Option(help: "Frames per case for the no-op model.") var frames = 1000
    @Option(help: "Frames per case for the 50 ms model.") var slowFrames = 200
    @Option(help: "Transports: shm (local worker), tcp (a worker over TCP with CURVE, on loopback).") var transports = "shm,tcp"
    @Option(help: "The interpreter for the bench models (needs the bridge's packages).") var python = "python3"
    @Flag(help: "A short run (seconds): the report's shape, not its numbers.") var quick = false

    func run() async throws {
        AVLog.quiet()
        print(
            try await BenchReports.overhead(
                sizes: sizes, frames: quick ? 30 : frames, slowFrames: quick ? 10 : slowFrames, transports: transports,
                python: python))
    }
}

struct BenchStaleness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staleness", abstract: "Age of the frame at dispatch and of the result, a 300 ms model at 30 and 60 fps.")

    @Option var seconds = 10.0
    @Option var python = "python3"
    @Flag var quick = false

    func run() async throws {
        print(try await BenchReports.staleness(seconds: quick ? 2 : seconds, python: python))
    }
}

struct BenchReplicas: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicas", abstract: "Predictions per second of a 1 s model with 1, 2 and 4 replicas.")

    @Option var seconds = 10.0
    @Option var python = "python3"
    @Flag var quick = false

    func run() async throws {
        print(try await BenchReports.replicas(seconds: quick ? 3 : seconds, python: python))
    }
}

struct BenchStartup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup", abstract: "From starting a model to its first answer, minus the model's own load time.")

    @Option var python = "python3"
    @Option(help: "Runs to average.") var runs = 5
    @Flag var quick = false

    func run() async throws {
        print(try await BenchReports.startup(runs: quick ? 2 : runs, python: python))
    }
}

/// Everything at once, as one Markdown report (`--quick` for CI: seconds, the report's shape only).
struct BenchAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "all", abstract: "All benchmarks, one Markdown report.")

    @Option var python = "python3"
    @Option(help: "Write the report here too.") var out: String?
    @Flag var quick = false

    func run() async throws {
        AVLog.quiet()
        var report = "# Bedside benchmark report\n\n\(Report.machineLine())\(quick ? " (quick mode: the numbers are not meaningful)" : "")\n\n"
        report +=
            try await BenchReports.overhead(
                sizes: quick ? "640x480,1920x1080" : "640x480,1280x720,1920x1080", frames: quick ? 30 : 1000,
                slowFrames: quick ? 10 : 200, transports: "shm,tcp", python: python) + "\n"
        report += try await BenchReports.staleness(seconds: quick ? 2 : 10, python: python) + "\n"
        report += try await BenchReports.replicas(seconds: quick ? 3 : 10, python: python) + "\n"
        report += try await BenchReports.startup(runs: quick ? 2 : 5, python: python) + "\n"
        report += try BenchReports.encode(sizes: quick ? "640x480" : "1280x720,1920x1080", frames: quick ? 30 : 300, fps: 30) + "\n"
        report += try BenchReports.naive(quick: quick, python: python) + "\n"
        print(report)
        if let out { try report.write(toFile: out, atomically: true, encoding: .utf8) }
    }
}
