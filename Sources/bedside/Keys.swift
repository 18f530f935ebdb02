import ArgumentParser
import Foundation
import ModelBridge

/// Makes the keys for a remote worker (a GPU box) to join over TCP with CURVE encryption and authentication.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make CURVE keys for remote model workers (Bedside's key pair and one worker's).")

    @Option(help: "Folder for the keys (created; the secret files are mode 600).") var out = "bedside-keys"
    @Option(help: "Name of the worker key file to add.") var worker = "worker"

    func run() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let serverKey = out + "/server.key", serverPub = out + "/server.pub"
        if !fm.fileExists(atPath: serverKey) {
            let s = try CurveKeys.generate()
            try write("# Bedside's secret key: stays on the clinic box\n\(s.secret)\n", to: serverKey, mode: 0o600)
            try write("\(s.public)\n", to: serverPub, mode: 0o644)
        }
        let w = try CurveKeys.generate()
        let workerFile = out + "/\(worker).key"
        try write(
            "# \(worker): public key, then secret key. Copy this file to the worker machine only.\n\(w.public)\n\(w.secret)\n", to: workerFile, mode: 0o600)
        let authorized = out + "/authorized_workers"
        let old = (try? String(contentsOfFile: authorized, encoding: .utf8)) ?? "# public keys of workers allowed to connect, one per line\n"
        try write(old + "\(w.public)\n", to: authorized, mode: 0o644)
        let server = try CurveKeys.lines(ofFile: serverPub).first ?? "?"
        print(
            """
            Keys in \(out)/. In bedside.yaml:

                models:
                  - name: my-model
                    entry: infer.py:predict
                    remote: {bind: "tcp://0.0.0.0:5555", keys: \(out)}

            On the worker machine (with this repository's bridge/ and your model), copy \(workerFile) and \(serverPub)
            there and run:

                python -m bridge --endpoint tcp://<clinic-box>:5555 --entry infer.py:predict \\
                    --server-key server.pub --key-file \(worker).key

            (or --server-key='\(server)': quoted, since Z85 keys hold characters the shell reads).

            Only workers listed in \(authorized) are let in; remove a line to revoke one.
            """)
    }

    func write(_ text: String, to path: String, mode: Int) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
