import ArgumentParser
import BedsideCore
import Bench
import Foundation

struct BenchNaive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "naive", abstract: "The naive Python baseline (pickled numpy over HTTP POST), for the ratio.")

    @Option var python = "python3"
    @Flag var quick = false

    func run() throws { print(try BenchReports.naive(quick: quick, python: python)) }
}
