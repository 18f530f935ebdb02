import BedsideCore
import Foundation
import ModelBridge
import Recording
import Study
import Testing

@testable import Web

/// The viewer protocol's messages against Tests/ProtocolExamples/viewer: the page's node tests decode the same
/// files, so a key renamed on one side fails on both.
@Suite("Viewer protocol: one type per message, the shared examples")
struct ViewerMessageTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ProtocolExamples/viewer").standardized

    static func example(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }

    static func keys(_ text: String) -> Set<String> { Set(JSONValue(parsing: text)?.objectValue?.keys.map { $0 } ?? []) }

    @Test("every example file is decoded by its type, and encoding it back gives the same JSON")
    func examples() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.contains("server-hello.json") && files.contains("server-prediction.json") && files.contains("page-drawn.json"))
        for file in files {
            let text = try Self.example(file)
            let original = try #require(JSONValue(parsing: text), "\(file) is not JSON")
            let again: String
            switch file {
            case let f where f.hasPrefix("server-hello"): again = JSONWire.string(try JSONWire.decode(HelloMessage.self, from: text))
            case let f where f.hasPrefix("server-prediction"): again = JSONWire.string(try JSONWire.decode(PredictionMessage.self, from: text))
            case let f where f.hasPrefix("page-drawn"): again = JSONWire.string(try JSONWire.decode(DrawnReport.self, from: text))
            case let f where f.hasPrefix("server-video"): again = JSONWire.string(try JSONWire.decode(VideoConfigMessage.self, from: text))
            case let f where f.hasPrefix("server-status"): continue  // below: the status is made from the live parts
            default:
                Issue.record("\(file): no Swift type decodes it; add one (Sources/Web/Messages) or rename the file")
                continue
            }
            #expect(JSONValue(parsing: again) == original, "\(file) changed on the way through its type: \(again)")
        }
    }

    @Test("the status the server encodes has the keys the example (and so the page) expects")
    func statusKeys() throws {
        let status = StatusMessage(
            version: "t", uptimeS: 1.25,
            source: SourceStatus(description: "phantom", state: "ok", detail: "d", mode: "m", framesCaptured: 1, fps: 30, width: 2, height: 2),
            models: [ModelStatus(name: "m")], recording: RecorderStatus(), viewers: 1,
            study: StudyStatus(arm: StudyArm.builtIn[0], arms: ["full"]),
            viewersLatency: ViewerLatency().status)
        let encoded = JSONWire.string(status)
        let example = try Self.example("server-status.json")
        let missing = Self.keys(example).subtracting(Self.keys(encoded))
        #expect(missing.isEmpty, "the example has status keys the server does not send: \(missing.sorted())")
        for part in ["source", "recording", "viewers_latency"] {
            let want = Set(JSONValue(parsing: example)?[part]?.objectValue?.keys.map { $0 } ?? [])
            let have = Set(JSONValue(parsing: encoded)?[part]?.objectValue?.keys.map { $0 } ?? [])
            #expect(want.subtracting(have).isEmpty, "\(part): the example has \(want.subtracting(have).sorted()) that the server does not send")
        }
    }

    @Test("a message of another type is refused, not read as this one")
    func wrongType() {
        #expect(throws: DecodingError.self) {
            try JSONWire.decode(HelloMessage.self, from: #"{"type":"status","version":"1","model":"m","models":[],"fps":1,"stale_ms":1,"width":1,"height":1}"#)
        }
    }

    @Test("a prediction carries the result as JSON (not a string), and escapes what needs escaping")
    func prediction() throws {
        var p = Prediction(
            model: #"we"ird"#, seq: 7, ptsNanos: 1_000_000, dispatchedNanos: 2_000_000, receivedNanos: 5_000_000, modelMs: 2.345678,
            resultJSON: #"{"plane":{"name":"head"}}"#, plane: "head", status: nil)
        p.truth = GroundTruth(plane: #"he"ad"#, status: "standard")
        let text = JSONWire.string(PredictionMessage(p, now: 11_000_000))
        let v = try #require(JSONValue(parsing: text), "\(text)")
        #expect(v["model"]?.stringValue == #"we"ird"#)
        #expect(v["truth"]?["plane"]?.stringValue == #"he"ad"#)
        #expect(v["result"]?["plane"]?["name"]?.stringValue == "head")
        #expect(v["age_ms"]?.doubleValue == 10)
        #expect(v["model_ms"]?.doubleValue == 2.35)
        #expect(v["latency_ms"]?.doubleValue == 3)
        #expect(v["crop"] == nil)
    }
}
