import ArgumentParser
import BedsideCore

@main
struct Bedside: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bedside",
        abstract: "Run a research imaging model live on a medical device's video, with recording and a tablet page.",
        version: BedsideVersion.string,
        subcommands: [
            Demo.self, Run.self, Check.self, Prepare.self, Install.self, Uninstall.self, MakeBundle.self, ReplayCommand.self, Bench.self, Devices.self,
            Keys.self, PhantomDump.self, CompareCommand.self,
        ])
}
