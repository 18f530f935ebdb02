import ArgumentParser
import BedsideTools

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Install Bedside as a service on this Debian/Ubuntu box: the program, the research code and its Python environment, an unprivileged user in the video group, and a systemd unit that starts at boot and restarts on failure.",
        discussion: """
            Needs root. Offline: pass --wheels (a folder of wheels, e.g. from `bedside bundle`); pip then never
            touches the network. Logs go to the journal: journalctl -u bedside -f. Undo with `bedside uninstall`.
            """)

    @Option(name: .shortAndLong, help: "The config file; its folder (the research repo) is copied to <prefix>/site.")
    var config: String
    @Option(help: "Where the program goes.") var prefix = "/opt/bedside"
    @Option(help: "The unprivileged user the service runs as (created, in the video group).") var user = "bedside"
    @Option(help: "Folder for the unit file.") var unitDir = "/etc/systemd/system"
    @Option(help: "Bedside's state (paired tablets, model caches): the unit's StateDirectory.") var stateDir = "/var/lib/bedside"
    @Option(help: "A folder of wheels to install the Python environment from, without network (pip --no-index).")
    var wheels: String?
    @Option(help: "Use this Python (a venv the service user can read) instead of making <prefix>/venv.") var python: String?
    @Option(help: "Model caches to copy into the state folder (a model-cache folder from `bedside prepare`).")
    var modelCache: String?
    @Option(help: "Where the service records (default: <state-dir>/recordings).") var recordings: String?
    @Flag(help: "Write everything but do not enable or start the unit.") var noStart = false

    func run() throws {
        do {
            try Installer(
                config: config, prefix: prefix, user: user, unitDir: unitDir, stateDir: stateDir, wheels: wheels, python: python, modelCache: modelCache,
                recordings: recordings, noStart: noStart
            ).install()
        } catch let e as InstallError { throw ValidationError(e.description) }
    }
}

struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Remove what `bedside install` put on this box: the service, the program, the research copy, the environment, the user and its state. Recordings are kept unless --remove-recordings."
    )

    @Option(help: "Where Bedside was installed.") var prefix = "/opt/bedside"
    @Flag(help: "Also delete the recordings folder (research data!).") var removeRecordings = false

    func run() throws {
        do { try Uninstaller(prefix: prefix, removeRecordings: removeRecordings).uninstall() } catch let e as InstallError {
            throw ValidationError(e.description)
        }
    }
}

struct MakeBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract:
            "On a machine with internet: pack everything a clinic box needs to install Bedside offline: the program, the research code, wheels for its Python packages and the bridge, and the model caches from `bedside prepare`.",
        discussion: """
            The wheels are for this machine's Python version and CPU: build the bundle with the same Python (e.g.
            Debian 12's 3.11) as the box. On the box: tar xzf bedside-bundle.tar.gz && sudo bedside-bundle/install.sh
            """)

    @Option(name: .shortAndLong, help: "The config file; its folder (the research repo) goes into the bundle.") var config: String
    @Option(help: "The bundle folder (a .tar.gz of it is written beside it).") var out = "bedside-bundle"
    @Option(help: "Python used to fetch the wheels (same version as the box's).") var python = "python3"

    func run() throws {
        do { try BundleMaker(config: config, out: out, python: python).make() } catch let e as InstallError { throw ValidationError(e.description) }
    }
}
