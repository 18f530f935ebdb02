import ArgumentParser

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the phantom scan with the demo model.")
    func run() async throws {}
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run from a config file.")
    func run() async throws {}
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config file.")
    func run() async throws {}
}
