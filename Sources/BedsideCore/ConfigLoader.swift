import Foundation
import Yams

/// A configuration problem, with where it is and how to fix it.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var key: String
    public var problem: String
    public var fix: String

    public init(file: String, line: Int?, key: String, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let at = line.map { "\(file):\($0)" } ?? file
        return "\(at): `\(key)`: \(problem). \(fix)"
    }
}

/// Reads `bedside.yaml`, rejecting unknown keys and wrong types with the key and line.
public enum ConfigLoader {
    public static func load(path: String) throws -> BedsideConfig {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw ConfigError(
                file: path, line: nil, key: "(file)", problem: isDir.boolValue ? "this is a folder, not a config file" : "no such file",
                fix: "Check the path (researcher-template/bedside.yaml is an example); `bedside demo` runs without a config.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                file: path, line: nil, key: "(file)", problem: "the file cannot be read (permissions)",
                fix: "Make it readable by the user Bedside runs as.")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            // Where the first byte that is not UTF-8 is, so the editor can find it (a Latin-1 umlaut in a comment).
            let (line, offset) = firstInvalidUTF8(Array(data))
            throw ConfigError(
                file: path, line: line, key: "(file)",
                problem: "the file is not UTF-8 text (byte \(offset): 0x\(String(data[data.startIndex + offset], radix: 16, uppercase: true)))",
                fix: "Save it as UTF-8 in your editor (often a character such as ä or µ written as Latin-1).")
        }
        // Paths in the file are relative to the file, made absolute here so a worker's chdir cannot change them.
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let base = (absolute as NSString).deletingLastPathComponent
        var config = try parse(yaml: text, file: path, baseDirectory: base.isEmpty ? "/" : base)
        // The region editor's masks and crops (the config itself stays as written): a file beside the config
        // first, then the one the editor saves in the state folder.
        for regionsFile in [Regions.besidePath(forConfig: path), Regions.path(forConfig: path)].compactMap({ $0 }) {
            guard let data = FileManager.default.contents(atPath: regionsFile), let yaml = String(data: data, encoding: .utf8)
            else { continue }
            let regions = try parseRegions(yaml: yaml, file: regionsFile, models: config.models.map(\.name))
            regions.apply(to: &config)
        }
        return config
    }

    public static func parse(yaml: String, file: String = "bedside.yaml", baseDirectory: String = ".") throws
        -> BedsideConfig
    {
        let root = try compose(yaml, file: file, fix: "Fix the YAML syntax (indentation uses spaces).")
        var config = BedsideConfig()
        guard let root else { return config }
        let r = Reader(file: file, base: baseDirectory)
        let top = try r.mapping(root, "(top level)", allowed: ["source", "models", "model", "recording", "web", "study", "privacy"])
        if let pv = top["privacy"] { config.privacy = try r.privacy(pv) }
        if let st = top["study"] { config.study = try r.study(st) }
        if let s = top["source"] { config.source = try r.source(s) }
        var modelNodes: [Node] = []
        if let m = top["model"] {
            config.models = [try r.model(m, index: 0)]
            modelNodes = [m]
        }
        if let ms = top["models"] {
            guard case .sequence(let seq) = ms else {
                throw r.error(ms, "models", "must be a list of models", "Write `models:` followed by `- name: ...` items.")
            }
            config.models = try seq.enumerated().map { try r.model($0.element, index: $0.offset) }
            modelNodes = Array(seq)
        }
        /// The line of a model's key (its item when the key is not written).
        func line(_ index: Int, _ key: String) -> Int? {
            guard index < modelNodes.count else { return nil }
            return (modelNodes[index][key] ?? modelNodes[index]).mark?.line
        }
        let names = config.models.map(\.name)
        for (i, name) in names.enumerated() {
            if let first = names.firstIndex(of: name), first < i {
                throw ConfigError(
                    file: file, line: line(i, "name"), key: "models[\(i)].name",
                    problem: "`\(name)` is already the name of models[\(first)]\(line(first, "name").map { " (line \($0))" } ?? "")",
                    fix: "Give every model a distinct `name` (it names its status, its predictions and its log lines).")
            }
        }
        // Pipelines: every `upstream` names another model, and following them never comes back (no cycle).
        let byName = Dictionary(uniqueKeysWithValues: config.models.map { ($0.name, $0) })
        for (i, m) in config.models.enumerated() {
            guard let up = m.upstream else { continue }
            guard byName[up] != nil, up != m.name else {
                throw ConfigError(
                    file: file, line: line(i, "upstream"), key: "models[\(i)].upstream",
                    problem: up == m.name ? "a model cannot be its own upstream" : "there is no model named `\(up)`",
                    fix: "Name another model of this file (\(names.filter { $0 != m.name }.joined(separator: ", "))), or remove `upstream`.")
            }
            // A shown model built on a silent one's answers would show what the silent one said.
            if m.show, byName[up]?.show == false {
                throw ConfigError(
                    file: file, line: line(i, "upstream"), key: "models[\(i)].upstream",
                    problem: "`\(m.name)` is shown but its upstream `\(up)` is silent (show: false): the tablets would see answers built on a silent model's",
                    fix: "Make `\(m.name)` silent too (show: false), or show `\(up)`.")
            }
            var seen: Set<String> = [m.name]
            var cur = up
            while let next = byName[cur]?.upstream {
                seen.insert(cur)
                if seen.contains(next) {
                    throw ConfigError(
                        file: file, line: line(i, "upstream"), key: "models[\(i)].upstream",
                        problem: "the upstream models form a cycle (\(([m.name] + Array(seen.subtracting([m.name])).sorted()).joined(separator: " -> ")) ...)",
                        fix: "A pipeline must start at a model without `upstream`: remove `upstream` from one of them.")
                }
                cur = next
            }
            if byName[up]?.trigger == "freeze" && m.trigger == "freeze" {
                throw ConfigError(
                    file: file, line: line(i, "trigger"), key: "models[\(i)].trigger", problem: "a pipeline model cannot wait for a freeze itself",
                    fix: "Leave `trigger` out: it runs whenever `\(up)` answers.")
            }
        }
        if let rec = top["recording"] { config.recording = try r.recording(rec) }
        if let w = top["web"] { config.web = try r.web(w) }
        return config
    }
}

extension ConfigLoader {
    /// The line (from 1) and byte offset of the first byte that does not belong to valid UTF-8.
    static func firstInvalidUTF8(_ b: [UInt8]) -> (line: Int, offset: Int) {
        var i = 0, line = 1
        while i < b.count {
            let c = b[i]
            let n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0
            guard n > 0, i + n <= b.count, b[(i + 1)..<(i + n)].allSatisfy({ $0 & 0xC0 == 0x80 }) else { return (line, i) }
            // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
            if n > 1 {
                let second = b[i + 1]
                let bad =
                    (c == 0xE0 && second < 0xA0) || (c == 0xED && second > 0x9F) || (c == 0xF0 && second < 0x90)
                    || (c == 0xF4 && second > 0x8F)
                if bad { return (line, i) }
            }
            if c == 0x0A { line += 1 }
            i += n
        }
        return (line, max(0, b.count - 1))
    }

    /// The YAML parser recurses once per level: a file nested thousands of levels deep (a broken generator, a
    /// fuzzer) would overflow the stack and crash. A config needs a handful of levels; refuse beyond 64.
    static let maxNesting = 64

    /// The YAML tree of a config or regions file, after the nesting check; a syntax error names the file and `fix`.
    static func compose(_ yaml: String, file: String, fix: String) throws -> Node? {
        try checkNesting(yaml, file: file)
        do {
            return try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, line: nil, key: "(syntax)", problem: "not valid YAML: \(error)", fix: fix)
        }
    }

    static func checkNesting(_ text: String, file: String) throws {
        var depth = 0, line = 1
        var quote: UInt8? = nil
        var escaped = false, comment = false, atLineStart = true, indent = 0
        for c in text.utf8 {
            if c == 0x0A {
                line += 1
                comment = false
                atLineStart = true
                indent = 0
                if quote == 0x27 { quote = nil }  // a single-quoted scalar on one line
                continue
            }
            if comment { continue }
            if atLineStart {
                if c == 0x20 || c == 0x2D {  // spaces and list dashes open block levels
                    indent += 1
                    if indent / 2 > maxNesting * 4 { break }
                    continue
                }
                atLineStart = false
            }
            if let q = quote {
                if escaped { escaped = false } else if c == 0x5C && q == 0x22 { escaped = true } else if c == q { quote = nil }
                continue
            }
            switch c {
            case 0x22, 0x27: quote = c
            case 0x23: comment = true
            case 0x5B, 0x7B:
                depth += 1
                if depth > maxNesting {
                    throw ConfigError(
                        file: file, line: line, key: "(syntax)", problem: "brackets nested more than \(maxNesting) levels deep",
                        fix: "A Bedside config needs a few levels: look for unbalanced [ or { around this line.")
                }
            case 0x5D, 0x7D: depth = max(0, depth - 1)
            default: break
            }
        }
        if indent / 2 > maxNesting * 4 {
            throw ConfigError(
                file: file, line: line, key: "(syntax)", problem: "indented more than \(maxNesting * 4) levels deep",
                fix: "A Bedside config needs a few levels of indentation: check this line.")
        }
    }
}

struct Reader {
    var file: String
    var base: String

    func error(_ node: Node, _ key: String, _ problem: String, _ fix: String) -> ConfigError {
        ConfigError(file: file, line: node.mark.map { $0.line }, key: key, problem: problem, fix: fix)
    }

    func mapping(_ node: Node, _ key: String, allowed: [String]) throws -> [String: Node] {
        guard case .mapping(let m) = node else {
            throw error(node, key, "must be a mapping of keys", "Indent its keys under `\(key):`.")
        }
        var out: [String: Node] = [:]
        for (k, v) in m {
            let name = k.string ?? "?"
            guard allowed.contains(name) else {
                let name = name.isEmpty ? "\"\"" : name  // an empty key, shown as one
                let guess = allowed.min { editDistance($0, name) < editDistance($1, name) }
                let hint = guess.map { editDistance($0, name) <= 3 ? "Did you mean `\($0)`? " : "" } ?? ""
                throw error(
                    k, key == "(top level)" ? name : "\(key).\(name)", "unknown key",
                    "\(hint)Allowed here: \(allowed.joined(separator: ", ")).")
            }
            out[name] = v
        }
        return out
    }

    func string(_ n: Node, _ key: String) throws -> String {
        guard case .scalar(let s) = n else { throw error(n, key, "must be a text value", "Write `\(key): value`.") }
        return s.string
    }

    func int(_ n: Node, _ key: String, range: ClosedRange<Int>) throws -> Int {
        guard let v = n.int else {
            throw error(n, key, "must be a whole number", "Write a number between \(range.lowerBound) and \(range.upperBound).")
        }
        guard range.contains(v) else {
            throw error(n, key, "\(v) is out of range", "Use a value between \(range.lowerBound) and \(range.upperBound).")
        }
        return v
    }

    func double(_ n: Node, _ key: String, range: ClosedRange<Double>) throws -> Double {
        guard let v = n.float ?? n.int.map(Double.init) else {
            throw error(n, key, "must be a number", "Write a number between \(range.lowerBound) and \(range.upperBound).")
        }
        guard range.contains(v) else {
            throw error(n, key, "\(v) is out of range", "Use a value between \(range.lowerBound) and \(range.upperBound).")
        }
        return v
    }

    func bool(_ n: Node, _ key: String) throws -> Bool {
        guard let v = n.bool else { throw error(n, key, "must be true or false", "Write `\(key): true` or `false`.") }
        return v
    }

    func path(_ n: Node, _ key: String) throws -> String {
        let p = try string(n, key)
        if p.hasPrefix("/") || p.hasPrefix("~") { return (p as NSString).expandingTildeInPath }
        return (base as NSString).appendingPathComponent(p)
    }

    /// A model's `output:` block (docs/researchers.md, "Raw outputs").
    func output(_ node: Node, _ key: String) throws -> ModelOutput {
        let m = try mapping(node, key, allowed: ["segmentation", "concepts", "plane", "guidance"])
        // `part: where` is `part: {from: where}`.
        func block(_ part: String, _ allowed: [String]) throws -> (node: Node, keys: [String: Node], from: String)? {
            guard let n = m[part] else { return nil }
            let k = "\(key).\(part)"
            if case .scalar = n { return (n, [:], try string(n, k)) }
            let b = try mapping(n, k, allowed: ["from"] + allowed)
            guard let f = b["from"] else {
                throw error(
                    n, "\(k).from", "missing", "Write where the value is in what the model returns: a key (`seg`), an index (`0`) or a path (`out.seg`).")
            }
            return (n, b, try string(f, "\(k).from"))
        }
        func names(_ n: Node, _ k: String) throws -> [String] {
            guard case .sequence(let items) = n, !items.isEmpty else {
                throw error(n, k, "must be a list of names", "Write one name per index: `[background, skull, ...]`.")
            }
            return try items.enumerated().map { try string($0.element, "\(k)[\($0.offset)]") }
        }
        var out = ModelOutput()
        if let b = try block("segmentation", ["classes"]) {
            out.segmentation = .init(from: b.from, classes: try b.keys["classes"].map { try names($0, "\(key).segmentation.classes") })
        }
        if let b = try block("concepts", ["names", "scale", "mask", "planes"]) {
            let k = "\(key).concepts"
            guard let nn = b.keys["names"] else {
                throw error(b.node, "\(k).names", "missing", "List the concept names, one per value the model returns.")
            }
            var c = ModelOutput.Concepts(from: b.from, names: try names(nn, "\(k).names"))
            if let s = b.keys["scale"] {
                let text = try string(s, "\(k).scale")
                guard let scale = ModelOutput.Scale(rawValue: text) else {
                    throw error(s, "\(k).scale", "`\(text)` is not a scale", "Use `probability` (0 to 1) or `score` (0 to 10).")
                }
                c.scale = scale
            }
            if let mk = b.keys["mask"] { c.mask = try string(mk, "\(k).mask") }
            if let p = b.keys["planes"] {
                guard case .sequence(let items) = p, items.count == c.names.count else {
                    throw error(p, "\(k).planes", "must list one plane per concept name", "Write `planes: [head, head, abdomen, ~, ...]` (`~`: no plane).")
                }
                c.planes = try items.enumerated().map { i, n in
                    if n.null != nil { return nil }
                    return try string(n, "\(k).planes[\(i)]")
                }
            }
            out.concepts = c
        }
        if let b = try block("plane", ["kind", "classes"]) {
            let k = "\(key).plane"
            var kind = ModelOutput.Kind.logits
            if let kn = b.keys["kind"] {
                let text = try string(kn, "\(k).kind")
                guard let v = ModelOutput.Kind(rawValue: text) else {
                    throw error(kn, "\(k).kind", "`\(text)` is not a kind", "Use `logits`, `probabilities` or `index`.")
                }
                kind = v
            }
            guard let cn = b.keys["classes"], case .sequence(let items) = cn, !items.isEmpty else {
                throw error(
                    b.keys["classes"] ?? b.node, "\(k).classes", "missing",
                    "List per class index its plane and status: `[[head, standard], [head, non-standard], ...]`.")
            }
            let classes = try items.enumerated().map { i, n -> ModelOutput.PlaneClass in
                let ck = "\(k).classes[\(i)]"
                guard case .sequence(let pair) = n, pair.count == 2 else {
                    throw error(n, ck, "must be [plane, status]", "Write `[head, standard]` or `[head, non-standard]`.")
                }
                let status = try string(pair[1], ck)
                guard let st = ModelOutput.PlaneClass.Status(rawValue: status) else {
                    throw error(pair[1], ck, "`\(status)` is not a plane status", "Use `standard`, `non-standard` or `unknown`.")
                }
                return .init(plane: try string(pair[0], ck), status: st)
            }
            out.plane = .init(from: b.from, kind: kind, classes: classes)
        }
        if let b = try block("guidance", []) { out.guidance = .init(from: b.from) }
        return out
    }

    func source(_ node: Node) throws -> SourceConfig {
        let m = try mapping(
            node, "source",
            allowed: ["kind", "width", "height", "fps", "path", "loop", "device", "format", "sweep_seconds"])
        var s = SourceConfig()
        if let k = m["kind"] {
            let v = try string(k, "source.kind")
            guard let kind = SourceConfig.Kind(rawValue: v) else {
                throw error(
                    k, "source.kind", "`\(v)` is not a source kind",
                    "Use one of: \(SourceConfig.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            s.kind = kind
        }
        if let v = m["width"] { s.width = try int(v, "source.width", range: 64...7680) }
        if let v = m["height"] { s.height = try int(v, "source.height", range: 64...4320) }
        if let v = m["fps"] { s.fps = try double(v, "source.fps", range: 1...240) }
        if let v = m["path"] { s.path = try path(v, "source.path") }
        if let v = m["loop"] { s.loop = try bool(v, "source.loop") }
        if let v = m["device"] { s.device = try string(v, "source.device") }
        if let v = m["format"] {
            let f = try string(v, "source.format").lowercased()
            let known = ["yuyv", "uyvy", "nv12", "rgb24", "bgr24", "grey", "gray", "mjpeg", "mjpg"]
            guard known.contains(f) else {
                throw error(v, "source.format", "`\(f)` is not a capture format Bedside reads", "Use one of: yuyv, uyvy, nv12, rgb24, bgr24, grey, mjpeg.")
            }
            s.format = f
        }
        s.sizeGiven = m["width"] != nil || m["height"] != nil
        if let v = m["sweep_seconds"] { s.sweepSeconds = try double(v, "source.sweep_seconds", range: 2...3600) }
        if s.kind == .file && s.path == nil {
            throw error(node, "source.path", "a file source needs a path", "Add `path: your-video.mp4` under `source:`.")
        }
        if s.width % 2 != 0 || s.height % 2 != 0 {
            throw error(node, "source.width", "width and height must be even", "Use an even size such as 1280x720.")
        }
        return s
    }

    func model(_ node: Node, index: Int) throws -> ModelConfig {
        let key = "models[\(index)]"
        let m = try mapping(
            node, key,
            allowed: [
                "name", "python", "command", "entry", "setup", "workdir", "env", "input", "timeout_s", "show", "startup_timeout_s", "replicas", "sandbox",
                "trigger",
                "freeze_s", "remote", "upstream", "max_memory_mb", "network", "cache", "output", "threads",
            ])
        guard let entryNode = m["entry"] else {
            throw error(node, "\(key).entry", "missing", "Add `entry: path/to/script.py:predict` (the function called per frame).")
        }
        let entry = try string(entryNode, "\(key).entry")
        guard entry.contains(":") else {
            throw error(
                entryNode, "\(key).entry", "`\(entry)` does not name a function",
                "Write `file.py:function` or `package.module:function`.")
        }
        let name = try m["name"].map { try string($0, "\(key).name") } ?? "model\(index)"
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !name.isEmpty else {
            throw error(node, "\(key).name", "`\(name)` has characters other than letters, digits, - and _", "Rename the model.")
        }
        var c = ModelConfig(name: name, entry: resolveEntry(entry))
        if let v = m["network"] {
            let n = try string(v, "\(key).network")
            guard ["deny", "allow"].contains(n) else {
                throw error(
                    v, "\(key).network", "`\(n)` is neither deny nor allow",
                    "Use `deny` in the clinic (run `bedside prepare` once to fetch downloads) or `allow` in the lab.")
            }
            c.network = n
        }
        if let v = m["cache"] { c.cacheDirectory = try path(v, "\(key).cache") }
        if let v = m["python"] {
            let p = try string(v, "\(key).python")
            c.python = p.contains("/") ? try path(v, "\(key).python") : p
        }
        if let v = m["command"] {
            if m["python"] != nil {
                throw error(v, "\(key).command", "`python` and `command` both given", "Keep one: `command` is for a launcher such as `conda run`.")
            }
            var words: [String] = []
            switch v {
            case .sequence(let seq): words = try seq.map { try string($0, "\(key).command") }
            default: words = try string(v, "\(key).command").split(separator: " ").map(String.init)
            }
            guard !words.isEmpty else {
                throw error(v, "\(key).command", "empty", "Write e.g. `command: [conda, run, -n, myenv, --no-capture-output, python]`.")
            }
            c.command = words
        }
        if let v = m["setup"] { c.setup = resolveEntry(try string(v, "\(key).setup")) }
        c.workdir = try m["workdir"].map { try path($0, "\(key).workdir") } ?? base
        if let v = m["env"] {
            guard case .mapping(let em) = v else {
                throw error(v, "\(key).env", "must be a mapping", "Write `NAME: value` lines under `env:`.")
            }
            for (k, val) in em { c.env[k.string ?? ""] = val.string ?? "" }
        }
        if let v = m["output"] { c.output = try output(v, "\(key).output") }
        if let v = m["input"] {
            let im = try mapping(v, "\(key).input", allowed: ["width", "height", "format", "crop"])
            if let cr = im["crop"] {
                let cm = try mapping(cr, "\(key).input.crop", allowed: ["x", "y", "width", "height"])
                func req(_ k: String) throws -> Int {
                    guard let n = cm[k] else {
                        throw error(cr, "\(key).input.crop.\(k)", "missing", "A crop needs x, y, width and height in source pixels.")
                    }
                    return try int(n, "\(key).input.crop.\(k)", range: 0...7680)
                }
                c.input.crop = CropRect(x: try req("x"), y: try req("y"), width: try req("width"), height: try req("height"))
            }
            if let w = im["width"] { c.input.width = try int(w, "\(key).input.width", range: 8...7680) }
            if let h = im["height"] { c.input.height = try int(h, "\(key).input.height", range: 8...4320) }
            if let f = im["format"] {
                let s = try string(f, "\(key).input.format")
                let aliases: [String: PixelFormat] = [
                    "gray": .gray8, "grey": .gray8, "gray8": .gray8, "rgb": .rgb24, "rgb24": .rgb24, "bgr": .bgr24,
                    "bgr24": .bgr24,
                ]
                guard let pf = aliases[s] else {
                    throw error(f, "\(key).input.format", "`\(s)` is not a model input format", "Use `gray`, `rgb` or `bgr` (OpenCV order).")
                }
                c.input.format = pf
            }
            if (c.input.width == nil) != (c.input.height == nil) {
                throw error(v, "\(key).input", "give both width and height, or neither", "Add the missing one.")
            }
        }
        if let v = m["timeout_s"] { c.timeoutSeconds = try double(v, "\(key).timeout_s", range: 0.05...600) }
        if let v = m["show"] { c.show = try bool(v, "\(key).show") }
        if let v = m["remote"] {
            let rm = try mapping(v, "\(key).remote", allowed: ["bind", "keys"])
            guard let b = rm["bind"], let k = rm["keys"] else {
                throw error(
                    v, "\(key).remote", "needs `bind` and `keys`",
                    "Write `remote: {bind: tcp://0.0.0.0:5555, keys: bedside-keys}`; make the keys with `bedside keys`.")
            }
            let bind = try string(b, "\(key).remote.bind")
            guard bind.hasPrefix("tcp://") else {
                throw error(
                    b, "\(key).remote.bind", "`\(bind)` is not a tcp:// address", "Use e.g. tcp://0.0.0.0:5555 (all interfaces) or tcp://10.0.0.2:5555.")
            }
            c.remoteBind = bind
            c.remoteKeys = try path(k, "\(key).remote.keys")
        }
        if let v = m["trigger"] {
            let t = try string(v, "\(key).trigger")
            guard ["live", "freeze"].contains(t) else {
                throw error(v, "\(key).trigger", "`\(t)` is not a trigger", "Use `live` (default) or `freeze`.")
            }
            c.trigger = t
        }
        if let v = m["freeze_s"] { c.freezeSeconds = try double(v, "\(key).freeze_s", range: 0.1...60) }
        if let v = m["sandbox"] { c.sandbox = try bool(v, "\(key).sandbox") }
        if let v = m["upstream"] { c.upstream = try string(v, "\(key).upstream") }
        if let v = m["max_memory_mb"] { c.maxMemoryMB = try int(v, "\(key).max_memory_mb", range: 64...1_048_576) }
        if let v = m["replicas"] { c.replicas = try int(v, "\(key).replicas", range: 1...32) }
        if let v = m["threads"] { c.threads = try int(v, "\(key).threads", range: 1...256) }
        if let v = m["startup_timeout_s"] {
            c.startupTimeoutSeconds = try double(v, "\(key).startup_timeout_s", range: 1...3600)
        }
        return c
    }

    /// A `file.py:function` entry is made absolute against the config's folder; a module path is kept.
    func resolveEntry(_ entry: String) -> String {
        guard let colon = entry.lastIndex(of: ":") else { return entry }
        let target = String(entry[..<colon])
        guard target.hasSuffix(".py"), !target.hasPrefix("/") else { return entry }
        return (base as NSString).appendingPathComponent(target) + String(entry[colon...])
    }

    /// `{x, y, width, height}` in source pixels, not empty.
    func rect(_ item: Node, _ k: String) throws -> CropRect {
        let rm = try mapping(item, k, allowed: ["x", "y", "width", "height"])
        func req(_ f: String) throws -> Int {
            guard let v = rm[f] else { throw error(item, "\(k).\(f)", "missing", "A rectangle needs x, y, width and height in source pixels.") }
            return try int(v, "\(k).\(f)", range: 0...7680)
        }
        let r = CropRect(x: try req("x"), y: try req("y"), width: try req("width"), height: try req("height"))
        guard r.width > 0, r.height > 0 else {
            throw error(item, k, "an empty rectangle", "Give the rectangle a width and a height above 0.")
        }
        return r
    }

    func privacy(_ node: Node) throws -> PrivacyMask {
        let m = try mapping(node, "privacy", allowed: ["masks", "masks_by_size", "allow_unmasked"])
        func rects(_ n: Node, _ key: String) throws -> [CropRect] {
            guard case .sequence(let seq) = n else {
                throw error(n, key, "must be a list of rectangles", "Write e.g. `masks: [{x: 0, y: 0, width: 1920, height: 60}]` (source pixels).")
            }
            return try seq.enumerated().map { i, item in try rect(item, "\(key)[\(i)]") }
        }
        var mask = PrivacyMask()
        if let v = m["masks"] { mask.rects = try rects(v, "privacy.masks") }
        if let v = m["allow_unmasked"] { mask.allowUnmasked = try bool(v, "privacy.allow_unmasked") }
        if let v = m["masks_by_size"] {
            guard case .mapping(let bm) = v else {
                throw error(
                    v, "privacy.masks_by_size", "must map a size to rectangles",
                    "Write e.g. `masks_by_size: {1920x1080: [{x: 0, y: 0, width: 1920, height: 60}]}`.")
            }
            for (k, list) in bm {
                let size = try string(k, "privacy.masks_by_size")
                let parts = size.split(separator: "x")
                guard parts.count == 2, Int(parts[0]) != nil, Int(parts[1]) != nil else {
                    throw error(k, "privacy.masks_by_size", "`\(size)` is not WIDTHxHEIGHT", "Use the input size, e.g. 1920x1080.")
                }
                mask.bySize[size] = try rects(list, "privacy.masks_by_size.\(size)")
            }
        }
        return mask
    }

    func study(_ node: Node) throws -> StudyConfig {
        let m = try mapping(node, "study", allowed: ["arms", "default_arm", "targets"])
        var st = StudyConfig()
        if let a = m["arms"] {
            guard case .mapping(let am) = a else {
                throw error(
                    a, "study.arms", "must be a mapping of arm name to what it shows",
                    "Write e.g. `arms: {full: [banner, concepts, overlay, guidance], status: [banner], control: []}`.")
            }
            st.arms = []
            for (k, v) in am {
                let name = try string(k, "study.arms")
                guard case .sequence(let parts) = v else {
                    throw error(v, "study.arms.\(name)", "must be a list", "List what the arm shows: banner, concepts, overlay, guidance (or [] for none).")
                }
                let shows = try parts.map { p -> ShownPart in
                    let s = try string(p, "study.arms.\(name)")
                    guard let part = ShownPart(rawValue: s) else {
                        throw error(p, "study.arms.\(name)", "`\(s)` is not something an arm can show", "Use banner, concepts, overlay or guidance.")
                    }
                    return part
                }
                st.arms.append(StudyArm(name: name, shows: shows))
            }
            guard !st.arms.isEmpty else {
                throw error(a, "study.arms", "no arms", "Define at least one arm, or leave `arms` out for full / status / control.")
            }
        }
        if let d = m["default_arm"] {
            st.defaultArm = try string(d, "study.default_arm")
        } else if st.arm(named: st.defaultArm) == nil {
            st.defaultArm = st.arms[0].name
        }
        if st.arm(named: st.defaultArm) == nil {
            throw error(
                m["default_arm"] ?? node, "study.default_arm", "`\(st.defaultArm)` is not one of the arms",
                "Use one of: \(st.arms.map(\.name).joined(separator: ", ")).")
        }
        if let t = m["targets"] {
            guard case .sequence(let seq) = t else {
                throw error(t, "study.targets", "must be a list of plane names", "Write e.g. `targets: [head, abdomen, femur]`.")
            }
            st.targets = try seq.map { try string($0, "study.targets") }
        }
        return st
    }

    func recording(_ node: Node) throws -> RecordingConfig {
        let m = try mapping(
            node, "recording",
            allowed: ["enabled", "directory", "queue_frames", "mode", "segment_s", "segment_mb", "min_free_mb", "keep_gb"])
        var r = RecordingConfig()
        if let v = m["enabled"] { r.enabled = try bool(v, "recording.enabled") }
        if let v = m["directory"] { r.directory = try path(v, "recording.directory") }
        if let v = m["queue_frames"] { r.queueFrames = try int(v, "recording.queue_frames", range: 2...10_000) }
        if let v = m["mode"] {
            let mode = try string(v, "recording.mode")
            guard ["always", "manual"].contains(mode) else {
                throw error(
                    v, "recording.mode", "`\(mode)` is not a recording mode", "Use `always` (from start-up) or `manual` (start and stop from the page).")
            }
            r.mode = mode
        }
        if let v = m["segment_s"] { r.segmentSeconds = try double(v, "recording.segment_s", range: 5...86_400) }
        if let v = m["segment_mb"] { r.segmentMB = try int(v, "recording.segment_mb", range: 1...1_000_000) }
        if let v = m["min_free_mb"] { r.minFreeMB = try int(v, "recording.min_free_mb", range: 0...10_000_000) }
        if let v = m["keep_gb"] { r.keepGB = try double(v, "recording.keep_gb", range: 0.1...1_000_000) }
        return r
    }

    func web(_ node: Node) throws -> WebConfig {
        let m = try mapping(
            node, "web",
            allowed: ["bind", "port", "token", "admin_pin", "display_width", "jpeg_quality", "stale_ms", "tls", "names", "video"])
        var tlsSetting = TLSSetting.auto
        if let t = m["tls"], case .scalar = t {
            switch try string(t, "web.tls") {
            case "auto": tlsSetting = .auto
            case "off": tlsSetting = .off
            case let other:
                throw error(
                    t, "web.tls", "`\(other)` is not a TLS setting",
                    "Leave it out (or `auto`) for HTTPS with Bedside's own certificate beyond loopback, give "
                        + "`tls: {cert: /etc/bedside/cert.pem, key: /etc/bedside/key.pem}` for your own, or `off` for plain HTTP "
                        + "on the network (patient images then cross it unencrypted).")
            }
        } else if let t = m["tls"] {
            let tm = try mapping(t, "web.tls", allowed: ["cert", "key"])
            guard let c = tm["cert"], let k = tm["key"] else {
                throw error(t, "web.tls", "needs `cert` and `key`", "Write `tls: {cert: /etc/bedside/cert.pem, key: /etc/bedside/key.pem}` (PEM files).")
            }
            let certPath = try path(c, "web.tls.cert"), keyPath = try path(k, "web.tls.key")
            for (node, key, p) in [(c, "web.tls.cert", certPath), (k, "web.tls.key", keyPath)]
            where !FileManager.default.isReadableFile(atPath: p) {
                throw error(node, key, "\(p) does not exist or cannot be read", "Give the path of a PEM file Bedside's user can read.")
            }
        }
        var w = WebConfig()
        if let v = m["bind"] { w.bind = try string(v, "web.bind") }
        if let t = m["tls"], case .mapping(let tm) = t {
            var cert = "", key = ""
            for (k, v) in tm {
                if k.string == "cert" { cert = try path(v, "web.tls.cert") }
                if k.string == "key" { key = try path(v, "web.tls.key") }
            }
            tlsSetting = .files(certificate: cert, key: key)
        }
        w.tls = tlsSetting
        if let v = m["port"] { w.port = try int(v, "web.port", range: 0...65535) }
        if let v = m["token"] {
            let t = try string(v, "web.token")
            guard t.count >= 8 else {
                throw error(v, "web.token", "too short", "Use at least 8 characters, or leave it out to get a random one.")
            }
            w.token = t
        }
        if let v = m["admin_pin"] { w.adminPIN = try string(v, "web.admin_pin") }
        if let v = m["display_width"] { w.displayWidth = try int(v, "web.display_width", range: 160...3840) }
        if let v = m["jpeg_quality"] { w.jpegQuality = try int(v, "web.jpeg_quality", range: 10...100) }
        if let v = m["stale_ms"] { w.staleMs = try int(v, "web.stale_ms", range: 50...600_000) }
        if let t = m["names"] {
            let fix = "Write e.g. `names: [192.168.50.2, bedside-room3.local]`: the addresses and names tablets use for this box."
            guard case .sequence(let seq) = t else { throw error(t, "web.names", "must be a list of addresses and names", fix) }
            w.names = try seq.map { n in
                let v = try string(n, "web.names")
                var v4 = in_addr(), v6 = in6_addr()
                let isIP = inet_pton(AF_INET, v, &v4) == 1 || inet_pton(AF_INET6, v, &v6) == 1
                guard !v.isEmpty, v.count <= 253, isIP || v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.".contains($0)) })
                else {
                    throw error(n, "web.names", "`\(v)` is not an address or host name (no port, no scheme)", fix)
                }
                let name = v.lowercased()
                // Bedside's own CA may only vouch for .local names, plain names and addresses (its name constraints).
                if !isIP, name.contains("."), !name.hasSuffix(".local"), m["tls"].map({ if case .mapping = $0 { false } else { true } }) ?? true {
                    throw error(
                        n, "web.names", "`\(v)` is a name under another domain, which Bedside's own CA may not vouch for",
                        "Use a .local name (e.g. bedside-room3.local) or the address, or give web.tls your own certificate for that name.")
                }
                return name
            }
        }
        if let v = m["video"] {
            let vm = try mapping(v, "web.video", allowed: ["codec", "max_kbps", "crf", "keyframe_s"])
            if let c = vm["codec"] {
                let name = try string(c, "web.video.codec")
                guard let codec = LiveVideoConfig.Codec(rawValue: name) else {
                    throw error(
                        c, "web.video.codec", "`\(name)` is not a codec Bedside sends",
                        "Write `auto` (H.264 where the tablet can decode it, else JPEG), `h264` or `jpeg`.")
                }
                w.video.codec = codec
            }
            if let x = vm["max_kbps"] { w.video.maxrateKbps = try int(x, "web.video.max_kbps", range: 200...100_000) }
            if let x = vm["crf"] { w.video.crf = try int(x, "web.video.crf", range: 10...45) }
            if let x = vm["keyframe_s"] { w.video.keyframeSeconds = try double(x, "web.video.keyframe_s", range: 0.25...60) }
        }
        return w
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}
