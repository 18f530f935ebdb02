import BedsideCore
import Foundation
import Testing

@Suite("Config loading")
struct ConfigLoaderTests {
    @Test("an empty file gives the demo defaults")
    func emptyIsDefaults() throws {
        let c = try ConfigLoader.parse(yaml: "")
        #expect(c.source.kind == .phantom)
        #expect(c.source.width == 1280 && c.source.height == 720 && c.source.fps == 30)
        #expect(c.web.bind == "127.0.0.1")
        #expect(c.recording.enabled)
    }

    @Test("a full model entry is read, with paths relative to the config file")
    func fullModel() throws {
        let yaml = """
            source: {kind: file, path: scans/a.mp4, loop: false}
            models:
              - name: pcbm
                python: venv/bin/python
                entry: model/infer.py:predict
                setup: model/infer.py:load
                env: {OMP_NUM_THREADS: "2"}
                input: {format: gray, width: 288, height: 224, crop: {x: 10, y: 20, width: 300, height: 200}}
                timeout_s: 2.5
            web: {bind: 0.0.0.0, port: 9000, token: abcdefgh123}
            """
        let c = try ConfigLoader.parse(yaml: yaml, baseDirectory: "/repo")
        #expect(c.source.path == "/repo/scans/a.mp4")
        #expect(c.source.loop == false)
        let m = try #require(c.models.first)
        #expect(m.python == "/repo/venv/bin/python")
        #expect(m.entry == "/repo/model/infer.py:predict")
        #expect(m.setup == "/repo/model/infer.py:load")
        #expect(m.env["OMP_NUM_THREADS"] == "2")
        #expect(m.input.width == 288 && m.input.height == 224 && m.input.format == .gray8)
        #expect(m.input.crop == CropRect(x: 10, y: 20, width: 300, height: 200))
        #expect(m.timeoutSeconds == 2.5)
        #expect(c.web.port == 9000)
    }

    @Test("a pipeline and a memory limit are read; the limit defaults to a quarter of the memory, at least 1 GiB")
    func pipelineAndMemory() throws {
        let c = try ConfigLoader.parse(
            yaml: "models:\n  - {name: a, entry: a.py:f}\n  - {name: b, entry: b.py:f, upstream: a, max_memory_mb: 512}\n")
        #expect(c.models[0].upstream == nil && c.models[1].upstream == "a")
        #expect(c.models[1].maxMemoryMB == 512)
        #expect(c.models[0].maxMemoryMB >= 1024)
    }

    @Test("threads: is read (nil: all cores but one); a misspelling or 0 names the key")
    func threads() throws {
        let c = try ConfigLoader.parse(yaml: "models:\n  - {name: a, entry: a.py:f}\n  - {name: b, entry: b.py:f, threads: 3}\n")
        #expect(c.models[0].threads == nil && c.models[1].threads == 3)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "models:\n  - {name: a, entry: a.py:f, threads: 0}\n") }
        do {
            _ = try ConfigLoader.parse(yaml: "models:\n  - name: a\n    entry: a.py:f\n    thread: 2\n")
            Issue.record("a misspelt key was accepted")
        } catch let e as ConfigError {
            #expect(e.key == "models[0].thread" && e.line == 4 && e.fix.contains("`threads`"))
        }
    }

    @Test("a launcher command is read as a list or as words")
    func command() throws {
        let c = try ConfigLoader.parse(
            yaml: "models:\n  - {name: a, entry: a.py:f, command: [conda, run, -n, pcbm, python]}\n  - {name: b, entry: b.py:f, command: 'uv run python'}\n")
        #expect(c.models[0].command == ["conda", "run", "-n", "pcbm", "python"])
        #expect(c.models[1].command == ["uv", "run", "python"])
    }

    @Test("a module entry is kept as written")
    func moduleEntry() throws {
        let c = try ConfigLoader.parse(yaml: "model: {entry: mypkg.infer:predict}")
        #expect(c.models.first?.entry == "mypkg.infer:predict")
    }

    @Test("an output: block (PCBM's raw arrays) is read, and reaches the bridge as the JSON it reads")
    func outputBlock() throws {
        let yaml = """
            models:
              - name: pcbm
                entry: pcbm_entry.py:predict
                output:
                  segmentation: {from: seg, classes: [background, skull]}
                  concepts: {from: concepts, names: [a, b, c], scale: probability, mask: concept_mask, planes: [head, ~, femur]}
                  plane: {from: logits, kind: logits, classes: [[head, standard], [head, non-standard]]}
                  guidance: hint
            """
        let out = try #require(try ConfigLoader.parse(yaml: yaml).models.first?.output)
        #expect(out.segmentation == .init(from: "seg", classes: ["background", "skull"]))
        #expect(out.concepts == .init(from: "concepts", names: ["a", "b", "c"], scale: .probability, mask: "concept_mask", planes: ["head", nil, "femur"]))
        #expect(out.plane?.classes == [.init(plane: "head", status: .standard), .init(plane: "head", status: .nonStandard)])
        #expect(out.guidance == .init(from: "hint"))
        let json = JSONWire.string(out)
        #expect(json.contains(#""classes":[["head","standard"],["head","non-standard"]]"#), "\(json)")
        #expect(json.contains(#""guidance":{"from":"hint"}"#))
        #expect(try JSONWire.decode(ModelOutput.self, from: json) == out)
    }

    @Test(
        "a bad output: block names the key, the line and the fix",
        arguments: [
            ("output: {heatmap: h}", "models[0].output.heatmap", "segmentation"),
            ("output: {concepts: {from: c}}", "models[0].output.concepts.names", "concept names"),
            ("output: {concepts: {from: c, names: [a], scale: percent}}", "models[0].output.concepts.scale", "probability"),
            ("output: {plane: {from: p, classes: [[head, good]]}}", "models[0].output.plane.classes[0]", "non-standard"),
            ("output: {plane: {from: p, kind: argmax, classes: [[head, standard]]}}", "models[0].output.plane.kind", "logits"),
            ("output: {segmentation: {classes: [a]}}", "models[0].output.segmentation.from", "key"),
        ])
    func badOutputBlock(line: String, key: String, fix: String) throws {
        do {
            _ = try ConfigLoader.parse(yaml: "models:\n  - entry: m.py:predict\n    \(line)\n")
            Issue.record("\(line) was accepted")
        } catch let e as ConfigError {
            #expect(e.key == key, "\(e)")
            #expect(e.line == 3)
            #expect(e.fix.contains(fix), "\(e.fix)")
        }
    }

    @Suite("errors name the key, the line and the fix")
    struct Errors {
        func error(_ yaml: String) -> ConfigError? {
            do {
                _ = try ConfigLoader.parse(yaml: yaml)
                return nil
            } catch let e as ConfigError {
                return e
            } catch {
                return nil
            }
        }

        @Test func misspeltKeyGetsASuggestion() throws {
            let e = try #require(error("source:\n  kind: phantom\n  widht: 640\n"))
            #expect(e.key == "source.widht")
            #expect(e.line == 3)
            #expect(e.fix.contains("Did you mean `width`?"))
        }

        @Test func unknownTopLevelKey() throws {
            let e = try #require(error("modles: []\n"))
            #expect(e.key == "modles")
            #expect(e.fix.contains("models"))
        }

        @Test func wrongType() throws {
            let e = try #require(error("source:\n  fps: fast\n"))
            #expect(e.key == "source.fps")
            #expect(e.problem.contains("number"))
        }

        @Test("web.tls: auto (the default), off, your own files; anything else names the three")
        func tlsSetting() throws {
            #expect(try ConfigLoader.parse(yaml: "").web.tls == .auto)
            #expect(try ConfigLoader.parse(yaml: "web: {tls: auto}").web.tls == .auto)
            #expect(try ConfigLoader.parse(yaml: "web: {tls: off}").web.tls == .off)
            let e = try #require(error("web: {tls: yes-please}"))
            #expect(e.key == "web.tls" && e.problem.contains("yes-please"))
            #expect(e.fix.contains("auto") && e.fix.contains("cert") && e.fix.contains("off"))
            #expect(try ConfigLoader.parse(yaml: "web: {names: [192.168.50.2, Room3.local]}").web.names == ["192.168.50.2", "room3.local"])
            let silent = try ConfigLoader.parse(yaml: "models:\n  - {name: a, entry: a.py:f}\n  - {name: b, entry: b.py:f, show: false}\n")
            #expect(silent.models.map(\.show) == [true, false])
            let n = try #require(error("web: {names: ['bad name']}"))
            #expect(n.key == "web.names" && n.problem.contains("bad name"))
            #expect(try #require(error("web: {names: ['box:8080']}")).problem.contains("no port"))
            #expect(try #require(error("web: {names: [bedside.clinic.lan]}")).fix.contains(".local"))
            #expect(try ConfigLoader.parse(yaml: "web: {names: ['fe80::1', room3]}").web.names == ["fe80::1", "room3"])
            let up = try #require(
                error("models:\n  - {name: a, entry: a.py:f, show: false}\n  - {name: b, entry: b.py:f, upstream: a}\n"))
            #expect(up.key == "models[1].upstream" && up.fix.contains("show: false"))
        }

        @Test func outOfRange() throws {
            let e = try #require(error("web: {port: 70000}"))
            #expect(e.key == "web.port")
            #expect(e.problem.contains("70000"))
        }

        @Test func entryWithoutFunction() throws {
            let e = try #require(error("models:\n  - name: a\n    entry: infer.py\n"))
            #expect(e.key == "models[0].entry")
            #expect(e.fix.contains("file.py:function"))
        }

        @Test func missingEntry() throws {
            let e = try #require(error("models:\n  - name: a\n"))
            #expect(e.key == "models[0].entry")
        }

        @Test func fileSourceWithoutPath() throws {
            let e = try #require(error("source: {kind: file}"))
            #expect(e.key == "source.path")
        }

        @Test func unknownSourceKind() throws {
            let e = try #require(error("source: {kind: webcam}"))
            #expect(e.problem.contains("webcam"))
            #expect(e.fix.contains("v4l2"))
        }

        @Test func duplicateModelNames() throws {
            let e = try #require(error("models:\n  - {name: a, entry: a.py:f}\n  - {name: a, entry: b.py:f}\n"))
            #expect(e.key == "models[1].name" && e.line == 3)
            #expect(e.problem.contains("models[0] (line 2)"))
        }

        @Test func upstreamMustNameAnotherModel() throws {
            let e = try #require(error("models:\n  - {name: a, entry: a.py:f}\n  - {name: b, entry: b.py:f, upstream: c}\n"))
            #expect(e.key == "models[1].upstream" && e.line == 3)
            #expect(e.problem.contains("no model named `c`"))
            #expect(e.fix.contains("a"))
            let own = try #require(error("models:\n  - {name: a, entry: a.py:f, upstream: a}\n"))
            #expect(own.problem.contains("its own upstream"))
        }

        @Test func upstreamCycle() throws {
            let e = try #require(
                error("models:\n  - {name: a, entry: a.py:f, upstream: b}\n  - {name: b, entry: b.py:f, upstream: a}\n"))
            #expect(e.problem.contains("cycle") && e.key == "models[0].upstream" && e.line == 2)
        }

        @Test func aFileThatIsNotUTF8SaysWhereAndWhy() throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("latin1-\(UUID()).yaml").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(Array("source:\n  kind: phantom\n  # caf".utf8) + [0xE9, 0x0A]).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ConfigLoader.load(path: path)
                Issue.record("loaded")
            } catch let e as ConfigError {
                #expect(e.line == 3 && e.problem.contains("not UTF-8") && e.problem.contains("0xE9") && e.fix.contains("UTF-8"))
            }
        }

        @Test func whatTheConfigPointsAtIsChecked() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("refs-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("bedside.yaml").path
            try """
            source: {kind: phantom, width: 320, height: 240}
            models:
              - name: ok
                entry: ok.py:predict
                input: {crop: {x: 0, y: 0, width: 320, height: 240}}
              - name: bad
                entry: missing.py:predict
                workdir: nowhere
                input: {crop: {x: 300, y: 0, width: 100, height: 10}}
              - name: gpu
                entry: x.py:f
                remote: {bind: 'tcp://127.0.0.1:5555', keys: no-keys}
            """.write(toFile: file, atomically: true, encoding: .utf8)
            try "def predict(image):\n    return {}\n".write(toFile: dir.appendingPathComponent("ok.py").path, atomically: true, encoding: .utf8)
            let problems = ConfigLoader.checkReferences(try ConfigLoader.load(path: file), file: file)
            #expect(
                problems.map(\.error.key) == [
                    "models[1].workdir", "models[1].entry", "models[1].input.crop", "models[2].remote.keys", "models[2].remote.keys",
                ])
            #expect(problems.map(\.error.line) == [8, 7, 9, 12, 12])
            #expect(problems.allSatisfy { $0.model != nil && !$0.error.fix.isEmpty })
            #expect(problems[2].error.problem.contains("not inside the 320x240 frame"))

            try "source: {kind: file, path: gone.mp4}\n".write(toFile: file, atomically: true, encoding: .utf8)
            let source = ConfigLoader.checkReferences(try ConfigLoader.load(path: file), file: file)
            #expect(source.count == 1 && source[0].model == nil && source[0].error.key == "source.path" && source[0].error.line == 1)
        }

        @Test func commandAndPythonTogether() throws {
            let e = try #require(error("models:\n  - {name: a, entry: a.py:f, python: /x/python, command: [conda, run]}\n"))
            #expect(e.key == "models[0].command")
        }

        @Test func memoryLimitRange() throws {
            let e = try #require(error("models:\n  - {name: a, entry: a.py:f, max_memory_mb: 10}\n"))
            #expect(e.key == "models[0].max_memory_mb")
        }

        @Test func shortToken() throws {
            let e = try #require(error("web: {token: abc}"))
            #expect(e.key == "web.token")
        }

        @Test func invalidYAML() throws {
            let e = try #require(error("source: [unclosed\n"))
            #expect(e.key == "(syntax)")
        }
    }
}
