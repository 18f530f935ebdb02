import Foundation
import Yams

/// What a config names that must exist on this machine: files, folders, keys, and crops inside the frame.
///
/// `ConfigLoader.parse` checks the file's shape; these check the world it points at, so that `bedside check
/// --no-run` finds a missing video, working folder or key folder before the clinic session does. `run` refuses
/// a source problem (nothing could be captured) and warns about a model's (capture and recording go on; the model
/// shows its error on the page).
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var error: ConfigError
    /// The model it concerns; nil for the source and the rest of the file.
    public var model: String?
    public var description: String { error.description }

    public init(error: ConfigError, model: String?) {
        self.error = error
        self.model = model
    }
}

extension ConfigLoader {
    /// Every problem found, in file order. `file` is the config's path (for the lines of the keys).
    public static func checkReferences(_ config: BedsideConfig, file: String) -> [ConfigProblem] {
        let lines = keyLines(path: file)
        func problem(_ key: String, _ text: String, _ fix: String, model: String? = nil) -> ConfigProblem {
            ConfigProblem(error: ConfigError(file: file, line: line(of: key, in: lines), key: key, problem: text, fix: fix), model: model)
        }
        var out: [ConfigProblem] = []
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let s = config.source
        if s.kind == .file, let path = s.path {
            if !fm.fileExists(atPath: path, isDirectory: &isDir) || isDir.boolValue {
                out.append(
                    problem("source.path", "no video file at \(path)", "Give the path of a video file (relative paths are relative to the config file)."))
            } else if !fm.isReadableFile(atPath: path) {
                out.append(problem("source.path", "\(path) cannot be read (permissions)", "Make it readable by the user Bedside runs as."))
            }
        }
        // The frame size a crop must fit: known for the phantom, and for a capture device when the config asks a size.
        let frame: (w: Int, h: Int)? = s.kind == .phantom || (s.kind == .v4l2 && s.sizeGiven) ? (s.width, s.height) : nil
        for (i, m) in config.models.enumerated() {
            let key = "models[\(i)]"
            if let wd = m.workdir, !(fm.fileExists(atPath: wd, isDirectory: &isDir) && isDir.boolValue) {
                out.append(
                    problem(
                        "\(key).workdir", "no folder at \(wd)", "Give the research repo's folder (relative to the config file), or leave `workdir` out.",
                        model: m.name))
            }
            let entryFile = String(m.entry[..<(m.entry.lastIndex(of: ":") ?? m.entry.endIndex)])
            if m.remoteBind == nil, entryFile.hasSuffix(".py") {
                let full = entryFile.hasPrefix("/") ? entryFile : ((m.workdir ?? ".") as NSString).appendingPathComponent(entryFile)
                if !fm.fileExists(atPath: full) {
                    out.append(
                        problem(
                            "\(key).entry", "no file \(full)",
                            "Check the file name before the `:` (relative to `workdir`, which defaults to the config's folder).", model: m.name))
                }
            }
            if m.remoteBind == nil, m.command == nil, m.python.contains("/"), !fm.isExecutableFile(atPath: m.python) {
                out.append(
                    problem(
                        "\(key).python", "interpreter \(m.python) does not exist or is not executable",
                        "Set `python:` to your venv's python (e.g. /path/to/venv/bin/python).", model: m.name))
            }
            if m.remoteBind != nil {
                let keys = m.remoteKeys ?? "."
                for name in ["server.key", "authorized_workers"] where !fm.isReadableFile(atPath: "\(keys)/\(name)") {
                    out.append(
                        problem(
                            "\(key).remote.keys", "no \(name) in \(keys)",
                            "Run `bedside keys --out \(keys)` on this machine and put each worker's public key in authorized_workers.", model: m.name))
                }
            }
            if let crop = m.input.crop, let frame {
                if crop.x < 0 || crop.y < 0 || crop.width <= 0 || crop.height <= 0 || crop.x + crop.width > frame.w || crop.y + crop.height > frame.h {
                    out.append(
                        problem(
                            "\(key).input.crop", "x \(crop.x), y \(crop.y), \(crop.width)x\(crop.height) is not inside the \(frame.w)x\(frame.h) frame",
                            "Keep the crop inside the frame (x + width <= \(frame.w), y + height <= \(frame.h)), or draw it on the admin page's region editor.",
                            model: m.name))
                }
            }
        }
        return out
    }

    /// The line of `key` in `lines` (from `keyLines`), else of the nearest enclosing key that has one.
    public static func line(of key: String, in lines: [String: Int]) -> Int? {
        var k = key
        while true {
            if let line = lines[k] { return line }
            guard let cut = k.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            k = String(k[..<cut])
        }
    }

    /// Line numbers of the keys of a config file: `source.path`, `models[1].workdir`, `models[0].input.crop`.
    /// Empty when the file cannot be read or parsed (the loader reports that).
    public static func keyLines(path: String) -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
            let root = try? compose(text, file: path, fix: "")
        else { return [:] }
        var out: [String: Int] = [:]
        func walk(_ node: Node, _ key: String) {
            switch node {
            case .mapping(let m):
                for (k, v) in m {
                    let name = k.string ?? "?"
                    let sub = key.isEmpty ? name : "\(key).\(name)"
                    out[sub] = k.mark?.line
                    walk(v, sub)
                }
            case .sequence(let seq):
                for (i, v) in seq.enumerated() {
                    out["\(key)[\(i)]"] = v.mark?.line
                    walk(v, "\(key)[\(i)]")
                }
            default: break
            }
        }
        walk(root, "")
        // `model:` (a single model) reads as models[0].
        for (k, v) in out where k.hasPrefix("model.") { out["models[0]." + k.dropFirst("model.".count)] = v }
        return out
    }
}
