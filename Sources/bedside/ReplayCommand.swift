import ArgumentParser
import Foundation
import Replay

/// `bedside replay`: the arguments; the work is `ReplayRun` (Sources/Replay).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the configured model(s) over a recording and write their predictions as JSON Lines.",
        discussion: """
            RECORDING is a session folder (recordings/<yyyyMMdd-HHmmss>: video-000.mp4 ..., session.json) or one \
            video file. By default the model gets every frame and each answer is awaited (--every-frame); with \
            --realtime frames are offered at the recording's pace and the model skips the frames it cannot keep up \
            with, as it did live. The output has the live predictions.jsonl format; `pts_s` is the frame's time in \
            the recording, so the two files can be compared line by line.
            """)

    enum Pace: String, EnumerableFlag {
        case everyFrame
        case realtime

        static func help(for value: Pace) -> ArgumentHelp? {
            switch value {
            case .everyFrame: "Give the model every frame and wait for each answer."
            case .realtime: "Offer frames at the recording's pace; the model skips what it cannot keep up with, as live."
            }
        }
    }

    @Argument(help: "A session folder (video-000.mp4 ..., session.json) or a video file.") var recording: String
    @Option(name: .shortAndLong, help: "The config file with the model(s).") var config: String
    @Option(help: "Python interpreter for every model (overrides `python:` in the config).") var python: String?
    @Option(help: "Replay only this model (default: every model in the config).") var model: String?
    @Flag var pace: Pace = .everyFrame
    @Option(
        name: .shortAndLong,
        help: "Where to write the predictions (default: replay-<yyyyMMdd-HHmmss>.jsonl next to the recording).")
    var output: String?

    func run() async throws {
        let replay = ReplayRun(
            recording: recording, config: config, python: python, model: model,
            pace: pace == .realtime ? .realtime : .everyFrame, output: output)
        do {
            try await replay.run()
        } catch ReplayError.invalid(let text) {
            throw ValidationError(text)
        } catch ReplayError.interrupted(let path) {
            FileHandle.standardError.write(Data("Interrupted: the predictions so far are in \(path)\n".utf8))
            throw ExitCode(130)
        }
    }
}
