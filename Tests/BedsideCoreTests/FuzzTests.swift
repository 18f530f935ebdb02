import BedsideCore
import Foundation
import TestSupport
import Testing

/// Property-based fuzzing of the config loader (issue 9): seeded mutations of valid configs must either parse or
/// be refused with a `ConfigError` that names a key and a fix; never a crash, never another error type.
///
/// CI runs a fixed number of cases (5000, a few seconds); a long run by hand:
///
///     BEDSIDE_FUZZ_CASES=200000 swift test --filter FuzzTests
///
/// `BEDSIDE_FUZZ_SEED` picks another seed (the default is fixed, so CI is reproducible); `BEDSIDE_FUZZ_TRACE=FILE`
/// writes each input to FILE before it is parsed, so the input that crashed the process is left in FILE.
/// Each test prints `FUZZ config cases=N parsed=.. refused=..` and appends a row to the reliability table
/// (`$BEDSIDE_RELIABILITY_OUT`, else artifacts/reliability.jsonl; same fields as Tests/e2e/faults.py's `record`).
@Suite("Config loader fuzzing", .serialized)
struct FuzzTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Nesting depth the generator stays under. Deeper flow collections overflow the stack inside Yams'
    /// recursive composer (a crash, reproduced against the real binary in Tests/e2e/test_faults_input.py).
    static let maxNesting = 200

    // MARK: the corpus: valid configs to start from

    static var corpus: [String] {
        var seeds = [
            "",
            "source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\nrecording: {enabled: false}\n",
            """
            source: {kind: file, path: scans/a.mp4, loop: false}
            models:
              - name: pcbm
                python: venv/bin/python
                entry: model/infer.py:predict
                setup: model/infer.py:load
                env: {OMP_NUM_THREADS: "2"}
                input: {format: gray, width: 288, height: 224, crop: {x: 10, y: 20, width: 300, height: 200}}
                timeout_s: 2.5
                startup_timeout_s: 60
                replicas: 2
                max_memory_mb: 2048
                network: allow
                cache: model-cache
            web: {bind: 0.0.0.0, port: 9000, token: abcdefgh123, admin_pin: "123456", display_width: 960, jpeg_quality: 75, stale_ms: 1000}
            """,
            """
            source:
              kind: v4l2
              device: /dev/video0
              format: yuyv
              width: 1920
              height: 1080
              fps: 60
            models:
              - name: detector
                entry: det.py:predict
                trigger: freeze
                freeze_s: 1.5
              - name: explainer
                command: [conda, run, -n, pcbm, --no-capture-output, python]
                entry: pkg.module:Model
                upstream: detector
                sandbox: true
              - name: gpu
                entry: slow_model.py:predict
                remote: {bind: 'tcp://127.0.0.1:5555', keys: keys}
                input: {format: rgb, width: 64, height: 48}
            recording:
              enabled: true
              directory: ../recordings
              mode: manual
              segment_s: 300
              segment_mb: 1024
              min_free_mb: 500
              keep_gb: 200
              queue_frames: 90
            """,
            """
            model: {entry: mypkg.infer:predict, name: single}
            privacy:
              masks: [{x: 0, y: 0, width: 7680, height: 40}]
              masks_by_size:
                1280x720: [{x: 0, y: 0, width: 1280, height: 28}]
                1920x1080: [{x: 0, y: 0, width: 1920, height: 40}]
              allow_unmasked: false
            study:
              arms:
                full: [banner, concepts, overlay, guidance]
                status: [banner]
                control: []
              default_arm: full
              targets: [head, abdomen, femur]
            """,
            "base: &base {name: a, entry: a.py:f}\n",  // refused (unknown key), but exercises anchors
            "models:\n  - &m {name: a, entry: a.py:f}\n  - {name: b, entry: b.py:f, upstream: a}\n",
        ]
        // The researcher template, every key Bedside reads (comment-only lines left out: mutating them finds nothing).
        if let text = try? String(contentsOfFile: repo + "/researcher-template/bedside.yaml", encoding: .utf8) {
            seeds.append(
                text.split(separator: "\n", omittingEmptySubsequences: false)
                    .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }.joined(separator: "\n"))
        }
        return seeds
    }

    // MARK: the mutator

    static let keys = [
        "source", "models", "model", "recording", "web", "study", "privacy", "kind", "width", "height", "fps", "path",
        "loop", "device", "format", "sweep_seconds", "name", "python", "command", "entry", "setup", "workdir", "env",
        "input", "crop", "x", "y", "timeout_s", "startup_timeout_s", "replicas", "sandbox", "trigger", "freeze_s",
        "remote", "bind", "keys", "upstream", "max_memory_mb", "network", "cache", "enabled", "directory",
        "queue_frames", "mode", "segment_s", "segment_mb", "min_free_mb", "keep_gb", "port", "token", "admin_pin",
        "display_width", "jpeg_quality", "stale_ms", "tls", "cert", "key", "masks", "masks_by_size", "allow_unmasked",
        "arms", "default_arm", "targets", "widht", "modles", "sоurce",  // the last with a Cyrillic o
    ]
    static let values = [
        "0", "-1", "-0", "1", "2", "63", "64", "65", "7681", "4321", "65535", "65536", "2147483648", "-2147483649",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "99999999999999999999999999999999", "1e308", "1e309", "-1e309", "1.5", "0.049", "0x7fffffffffffffff", "0o777",
        "0b101", "1_000", ".nan", ".NaN", ".inf", "-.inf", "+.inf", "~", "null", "Null", "true", "false", "yes", "no", "on",
        "off", "y", "n", "''", "\"\"", "\"\\u0000\"", "\"\\x00\\xff\"", "[]", "{}", "[1, 2]", "{a: 1}", "[[[]]]", "\"a:b\"",
        "a.py:f", "x.py", ":", "::", "/", "/dev/null", "/nonexistent/file", "../../../../etc/passwd", "~root/x", "~",
        "tcp://", "tcp://0.0.0.0:5555", "udp://x", "phantom", "file", "v4l2", "gray", "rgb", "bgr", "deny", "allow",
        "live", "freeze", "always", "manual", "!!binary aGVsbG8=", "!!int \"12\"", "!!float x", "!!str 5", "!!map {}",
        "!!seq []", "!custom x", "*undefined", "&anchor 5", "é", "日本語", "🩻", "\u{202E}evil", "e\u{301}",
        "\"\\ud800\"", "\u{FEFF}bom", "\u{0}", "\u{7}", String(repeating: "A", count: 3000),
    ]
    static let fragments = [
        "---", "...", "%YAML 1.1", "%TAG ! tag:x,2000:", "? complex key\n: value", "<<: *base", "- item", "  - item",
        "\t", "key: value: other", "'unterminated", "\"unterminated", "[unterminated", "{unterminated", "]", "}",
        "&a [*a]", "!!python/object:os.system ls", "# only a comment", "|\n  literal", ">\n  folded", "key: |-",
        "\r\n", "\r", "\u{85}", "\u{2028}", ":", "- - -", "? ", "@reserved", "`reserved",
    ]

    struct Mutator {
        var rng: SplitMix64
        let corpus: [String]

        mutating func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }

        /// One fuzz case: a corpus config with 1-5 mutations, cut where it would nest deeper than `maxNesting`.
        mutating func next() -> String {
            var text = pick(corpus)
            for _ in 0...int(4) { text = mutate(text) }
            return FuzzTests.capNesting(text)
        }

        mutating func mutate(_ text: String) -> String {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.isEmpty { lines = [""] }
            let i = int(lines.count)
            switch int(16) {
            case 0:  // delete a line
                lines.remove(at: i)
            case 1:  // duplicate a line (duplicate keys)
                lines.insert(lines[i], at: i)
            case 2:  // swap two lines
                lines.swapAt(i, int(lines.count))
            case 3, 4:  // a value replaced by a nasty one (numbers to huge/negative/strings, scalars to collections)
                lines[i] = replaceValue(lines[i])
            case 5:  // a number anywhere on the line changed
                lines[i] = replaceNumber(lines[i])
            case 6:  // a key replaced (misspelt, unknown, moved to another level)
                let v = lines[i].split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? " x"
                let indent = String(lines[i].prefix { $0 == " " })
                lines[i] = indent + pick(FuzzTests.keys) + ":" + v
            case 7:  // random bytes (as text: control characters, invalid surrogates escaped, any code point)
                var s = lines[i]
                let pos = s.index(s.startIndex, offsetBy: int(s.count + 1))
                s.insert(contentsOf: randomText(1 + int(12)), at: pos)
                lines[i] = s
            case 8:  // indentation broken
                let spaces = [0, 1, 2, 3, 4, 7, 8, 40][int(8)]
                lines[i] =
                    String(repeating: int(5) == 0 ? "\t" : " ", count: spaces)
                    + lines[i].drop { $0 == " " }
            case 9:  // deep nesting, flow or block (below the depth that overflows Yams' recursion)
                let depth = 1 + int(FuzzTests.maxNesting)
                switch int(3) {
                case 0: lines[i] = "source: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                case 1: lines[i] = "models: " + String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
                default:
                    lines.insert(
                        contentsOf: (0..<min(depth, 60)).map { String(repeating: " ", count: $0 * 2) + "k\($0):" },
                        at: i)
                }
            case 10:  // a YAML feature line inserted
                lines.insert(pick(FuzzTests.fragments), at: i)
            case 11:  // truncated anywhere
                let whole = lines.joined(separator: "\n")
                return String(whole.prefix(int(whole.count + 1)))
            case 12:  // spliced with another corpus config
                let other = pick(corpus).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let j = int(other.count)
                lines = Array(lines.prefix(i)) + Array(other.suffix(from: j))
            case 13:  // a key: value line made up from scratch, at some indentation
                lines.insert(
                    String(repeating: " ", count: 2 * int(4)) + pick(FuzzTests.keys) + ": " + pick(FuzzTests.values), at: i)
            case 14:  // a very long line or many lines
                if int(2) == 0 {
                    let unit = pick(["x", "[", "- ", "{a: ", "a: ", "é"])
                    let opens = unit == "[" || unit == "- " || unit == "{a: "  // nesting: kept under the limit
                    lines[i] += String(repeating: unit, count: 1 + int(opens ? FuzzTests.maxNesting : 3000))
                } else {
                    lines.insert(contentsOf: Array(repeating: lines[i], count: 1 + int(60)), at: i)
                }
            default:  // a list item added or a flow mapping/sequence turned into the other
                lines[i] = lines[i].replacingOccurrences(of: int(2) == 0 ? "{" : "[", with: int(2) == 0 ? "[" : "{")
            }
            return lines.joined(separator: "\n")
        }

        mutating func replaceValue(_ line: String) -> String {
            guard let colon = line.firstIndex(of: ":") else { return line + ": " + pick(FuzzTests.values) }
            return String(line[...colon]) + " " + pick(FuzzTests.values)
        }

        mutating func replaceNumber(_ line: String) -> String {
            let chars = Array(line)
            guard let start = chars.indices.filter({ chars[$0].isNumber }).randomElement(using: &rng) else {
                return replaceValue(line)
            }
            var end = start
            while end < chars.count && (chars[end].isNumber || chars[end] == ".") { end += 1 }
            let replacement = pick([
                "-1", "0", "-0", "99999999999999999999999", "9223372036854775808", "1e309", "-1e309", "1.5", ".nan",
                "'12'", "twelve", "[]", "{}", "~", "0x10", "-9223372036854775809", "4294967296", "NaN",
            ])
            return String(chars[..<start]) + replacement + String(chars[end...])
        }

        mutating func randomText(_ n: Int) -> String {
            var s = ""
            for _ in 0..<n {
                switch int(4) {
                case 0: s.unicodeScalars.append(Unicode.Scalar(UInt8(int(32))))  // control characters, NUL included
                case 1: s.unicodeScalars.append(Unicode.Scalar(UInt8(32 + int(95))))  // printable ASCII: YAML syntax
                case 2: s.unicodeScalars.append(Unicode.Scalar(UInt8(128 + int(128))))  // Latin-1 (C1 controls too)
                default:
                    // Any code point but surrogates (a Swift String cannot hold one: the bytes of an invalid
                    // UTF-8 file never reach `parse`, `load` refuses them first; see the e2e matrix).
                    var v = UInt32(rng.next() % 0x110000)
                    if (0xD800...0xDFFF).contains(v) { v = 0xFFFD }
                    s.unicodeScalars.append(Unicode.Scalar(v)!)
                }
            }
            return s
        }
    }

    /// `text` up to where its nesting could pass `maxNesting`: open flow brackets (quotes ignored, so it errs on
    /// the safe side) plus a line's indentation and leading `- ` items.
    static func capNesting(_ text: String) -> String {
        var flow = 0
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var block = 0
            var rest = Substring(line)
            while let c = rest.first, c == " " || c == "\t" || (c == "-" && rest.dropFirst().first == " ") {
                block += 1
                rest = rest.dropFirst()
            }
            var kept = ""
            for c in line {
                if c == "[" || c == "{" { flow += 1 } else if c == "]" || c == "}" { flow = max(0, flow - 1) }
                if flow + block > maxNesting { return out + kept }
                kept.append(c)
            }
            out += kept + "\n"
        }
        return String(out.dropLast())
    }

    // MARK: the properties

    struct Tally {
        var cases = 0, parsed = 0, refused = 0
        var other: [String] = []  // errors that are not ConfigError (must stay empty)
        var badErrors: [String] = []  // ConfigErrors without a problem or fix, or with a line past the end
        var emptyKey = 0  // ConfigErrors whose key is empty (a known finding)
        var byKey: [String: Int] = [:]
    }

    static func check(_ yaml: String, into t: inout Tally, trace: String?, parse: (String) throws -> Void) {
        if let trace { try? yaml.write(toFile: trace, atomically: false, encoding: .utf8) }
        t.cases += 1
        do {
            try parse(yaml)
            t.parsed += 1
        } catch let e as ConfigError {
            t.refused += 1
            t.byKey[e.key.split(separator: ".").first.map(String.init) ?? e.key, default: 0] += 1
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).count
            if e.key.isEmpty || e.key.hasSuffix(".") {
                // Finding (reported, not fixed here): an empty or null key (`"": 1`, `~: 1`, `? ` alone) is refused
                // as "unknown key" with an empty key name in the message ("``: unknown key").
                t.emptyKey += 1
            } else if e.problem.isEmpty || e.fix.isEmpty || (e.line.map { $0 < 0 || $0 > lines + 1 } ?? false) {
                if t.badErrors.count < 5 { t.badErrors.append("\(e) <- \(yaml.debugDescription.prefix(300))") } else { t.badErrors.append("") }
            }
        } catch {
            t.other.append("\(type(of: error)): \(error) <- \(yaml.debugDescription.prefix(300))")
        }
    }

    static var cases: Int { ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_CASES"].flatMap { Int($0) } ?? 5000 }
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x00BE_D51D_E0C0_F16
    }

    @Test("mutated configs parse or throw ConfigError with a key and a fix; never crash, never another error")
    func configLoader() throws {
        let corpus = Self.corpus
        #expect(corpus.count >= 7, "the researcher template was not found in \(Self.repo)")
        for c in corpus { _ = try? ConfigLoader.parse(yaml: c) }  // the seeds themselves
        var m = Mutator(rng: SplitMix64(seed: Self.seed), corpus: corpus)
        var t = Tally()
        let trace = ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_TRACE"]
        let start = Date()
        for _ in 0..<Self.cases {
            Self.check(m.next(), into: &t, trace: trace) { _ = try ConfigLoader.parse(yaml: $0, file: "fuzz.yaml", baseDirectory: "/fuzz") }
        }
        let seconds = Date().timeIntervalSince(start)
        let keys = t.byKey.sorted { $0.value > $1.value }.prefix(8).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print(
            "FUZZ config cases=\(t.cases) parsed=\(t.parsed) refused=\(t.refused) other=\(t.other.count) badErrors=\(t.badErrors.count) emptyKey=\(t.emptyKey) seconds=\(String(format: "%.1f", seconds)) seed=\(Self.seed) refusedBy: \(keys)"
        )
        #expect(t.other.isEmpty, "errors other than ConfigError:\n\(t.other.prefix(5).joined(separator: "\n"))")
        #expect(t.badErrors.isEmpty, "ConfigErrors without key/problem/fix or with a wrong line:\n\(t.badErrors.prefix(5).joined(separator: "\n"))")
        #expect(t.parsed > 0 && t.refused > 0, "the generator should produce both valid and invalid configs")
        Reliability.record(
            fault:
                "fuzzed bedside.yaml (ConfigLoader.parse: seeded mutations of the template and 6 other valid configs: lines deleted/duplicated/swapped, huge/negative/string numbers, random text, nesting to \(Self.maxNesting), YAML tags/anchors, truncation)",
            did:
                "\(t.parsed) parsed, \(t.refused) refused with a ConfigError naming the key and a fix, \(t.other.count) other errors, \(t.badErrors.count) errors without a problem/fix or with a wrong line, \(t.emptyKey) naming an empty key `` (finding: `\"\": 1`, `~: 1` or a bare `? `) (\(String(format: "%.1f", seconds)) s)",
            lost: "nothing (parsing only)", cases: t.cases, crashes: 0, test: "Tests/BedsideCoreTests/FuzzTests.swift::configLoader")
    }

    @Test("mutated region files (bedside.regions.yaml) parse or throw ConfigError")
    func regionsFile() throws {
        let seedText = Regions(
            masksBySize: ["1920x1080": [CropRect(x: 0, y: 0, width: 1920, height: 40)], "640x480": [CropRect(x: 0, y: 0, width: 640, height: 14)]],
            crops: ["pcbm-demo": CropRect(x: 248, y: 72, width: 784, height: 610), "other": nil]
        ).yaml(configFile: "bedside.yaml", savedAt: "2026-01-01T00:00:00Z")
        var m = Mutator(rng: SplitMix64(seed: Self.seed &+ 1), corpus: [seedText, "crops: {pcbm-demo: null}\n", ""])
        var t = Tally()
        let n = max(1, Self.cases / 5)
        let start = Date()
        for _ in 0..<n {
            Self.check(m.next(), into: &t, trace: nil) {
                _ = try ConfigLoader.parseRegions(yaml: $0, file: "bedside.regions.yaml", models: ["pcbm-demo", "other"])
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print(
            "FUZZ regions cases=\(t.cases) parsed=\(t.parsed) refused=\(t.refused) other=\(t.other.count) emptyKey=\(t.emptyKey) seconds=\(String(format: "%.1f", seconds))"
        )
        #expect(t.other.isEmpty, "errors other than ConfigError:\n\(t.other.prefix(5).joined(separator: "\n"))")
        #expect(t.badErrors.isEmpty, "\(t.badErrors.prefix(5).joined(separator: "\n"))")
        Reliability.record(
            fault: "fuzzed bedside.regions.yaml (ConfigLoader.parseRegions: seeded mutations of a region editor file)",
            did:
                "\(t.parsed) parsed, \(t.refused) refused with a ConfigError, \(t.other.count) other errors, \(t.emptyKey) naming an empty key `` (finding) (\(String(format: "%.1f", seconds)) s)",
            lost: "nothing (parsing only)", cases: t.cases, crashes: 0, test: "Tests/BedsideCoreTests/FuzzTests.swift::regionsFile")
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same cases on every machine.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
