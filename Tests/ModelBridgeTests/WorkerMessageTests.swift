import BedsideCore
import Foundation
import Testing

@testable import ModelBridge

/// The bridge protocol's messages against Tests/ProtocolExamples/bridge: bridge/tests decodes the same files with
/// bridge.core, so a field renamed on one side fails on both.
@Suite("Bridge protocol: worker messages as types, the shared examples")
struct WorkerMessageTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ProtocolExamples/bridge").standardized

    static func example(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    @Test("every worker-*.json decodes to the message its name says")
    func workerExamples() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasPrefix("worker-") }.sorted()
        #expect(files.count >= 8)
        for file in files {
            let m = try WorkerMessage.decode(try Self.example(file))
            let kind = file.dropFirst("worker-".count).split(separator: "-").first.map(String.init)?.replacingOccurrences(of: ".json", with: "")
            switch (kind, m) {
            case ("hello", .hello(let h)): #expect(h.protocol == ModelRunner.protocolVersion && h.pid == 4242)
            case ("ready", .ready(let r)): #expect(r.setupMs != nil)
            case ("heartbeat", .heartbeat): break
            case ("network", .network(let a)): #expect(a.count == 2 && a[0].denied && a[0].location == "model.py:41" && a[1].count == 3)
            case ("fatal", .fatal(let f)): #expect(f.stage == "import" && f.fault == "researcher")
            case ("result", .result(let r)): #expect(r.seq != nil && r.result != nil)
            case ("error", .error(let e)): #expect(e.seq != nil && e.error != nil && e.fault != nil)
            default: Issue.record("\(file) decoded as \(m)")
            }
        }
    }

    @Test("a result keeps its object as JSON and its worker times only when they are in order")
    func result() throws {
        guard case .result(let r) = try WorkerMessage.decode(try Self.example("worker-result.json")) else { throw Failure() }
        #expect(r.seq == 7505 && r.modelMs == 1249.3)
        #expect(r.result?.value?["plane"]?["name"]?.stringValue == "head")
        #expect(r.times == .init(receivedNanos: 1_000_000_000, startNanos: 1_000_100_000, endNanos: 2_249_400_000, sameClock: true))
        guard
            case .result(let backwards) = try WorkerMessage.decode(
                Array(#"{"type":"result","seq":1,"model_ms":-5,"result":{},"received_ns":9,"start_ns":3,"end_ns":4}"#.utf8))
        else { throw Failure() }
        #expect(backwards.times == nil && backwards.modelMs == 0)
        guard case .result(let notObject) = try WorkerMessage.decode(Array(#"{"type":"result","seq":1,"result":[1]}"#.utf8)) else { throw Failure() }
        #expect(notObject.result == nil)
        // A sequence number written as a float (12.0 from json.dumps(float)) is the same frame; negative is none.
        for (text, seq) in [("12", UInt64(12)), ("12.0", 12), ("12.4", 12), ("-1", nil), ("1e30", nil), ("\"12\"", nil)] as [(String, UInt64?)] {
            guard case .result(let a) = try WorkerMessage.decode(Array(#"{"type":"result","seq":\#(text),"result":{}}"#.utf8))
            else { throw Failure() }
            #expect(a.seq == seq, "seq \(text)")
        }
    }

    @Test("what an older or newer bridge may send: no protocol, no seq, an unknown type; not JSON is an error")
    func lenient() throws {
        guard case .hello(let h) = try WorkerMessage.decode(Array(#"{"type":"hello"}"#.utf8)) else { throw Failure() }
        #expect(h.protocol == -1)
        guard case .error(let e) = try WorkerMessage.decode(Array(#"{"type":"error"}"#.utf8)) else { throw Failure() }
        #expect(e.seq == nil)
        #expect(try WorkerMessage.decode(Array(#"{"type":"progress","pct":5}"#.utf8)) == .other("progress"))
        #expect(throws: (any Error).self) { try WorkerMessage.decode(Array("not json".utf8)) }
        #expect(throws: (any Error).self) { try WorkerMessage.decode(Array(#"{"no":"type"}"#.utf8)) }
    }

    @Test("every bedside-*.json decodes as Bedside's message and encodes back to the same JSON")
    func bedsideExamples() throws {
        for file in ["bedside-frame-shm.json", "bedside-frame-remote.json", "bedside-frame-upstream.json"] {
            let bytes = try Self.example(file)
            let frame = try JSONDecoder().decode(BedsideMessage.FrameMessage.self, from: Data(bytes))
            #expect(
                JSONValue(parsing: String(decoding: BedsideMessage.frame(frame).bytes, as: UTF8.self))
                    == JSONValue(parsing: String(decoding: bytes, as: UTF8.self)), "\(file)")
        }
        let shutdown = try Self.example("bedside-shutdown.json")
        #expect(
            JSONValue(parsing: String(decoding: BedsideMessage.shutdown.bytes, as: UTF8.self)) == JSONValue(parsing: String(decoding: shutdown, as: UTF8.self)))
    }

    struct Failure: Error {}
}

@Suite("Answer rate: 0.1 to 60 answers a second, decaying when answers stop")
struct AnswerRateTests {
    func rate(every interval: Double, count: Int) -> (AnswerRate, Double) {
        var r = AnswerRate()
        for i in 0..<count { r.record(at: 100 + Double(i) * interval) }
        return (r, 100 + Double(count - 1) * interval)
    }

    @Test("the rate of a steady model, slow or fast", arguments: [0.1, 0.8, 1, 30, 60])
    func steady(hz: Double) {
        let (r, last) = rate(every: 1 / hz, count: 40)
        #expect(abs(r.perSecond(at: last) - hz) / hz < 0.01)
        #expect(abs(r.perSecond(at: last + 1 / hz) - hz) / hz < 0.01, "busy, not stopped")
    }

    @Test("a PCBM-like model at 1.2 s per frame reads 0.83/s, not 0")
    func pcbm() {
        let (r, last) = rate(every: 1.2, count: 10)
        #expect(abs(r.perSecond(at: last + 1) - 1 / 1.2) < 0.01)
    }

    @Test("silence decays the rate towards 0; one answer alone is no rate")
    func decays() {
        let (r, last) = rate(every: 1 / 30, count: 60)
        #expect(r.perSecond(at: last + 1) <= 1.0)
        #expect(r.perSecond(at: last + 10) <= 0.1)
        #expect(r.perSecond(at: last + 120) == 0)
        var one = AnswerRate()
        one.record(at: 5)
        #expect(one.perSecond(at: 5) == 0)
    }

    @Test("the usual interval is the median gap, and does not decay while the model is silent")
    func usualInterval() {
        let (r, last) = rate(every: 1.75, count: 12)
        #expect(abs((r.usualInterval(at: last) ?? 0) - 1.75) < 1e-9)
        #expect(abs((r.usualInterval(at: last + 30) ?? 0) - 1.75) < 1e-9, "a hung model's answers get old against it")
        var jittery = AnswerRate()
        for t in [0.0, 1.0, 2.0, 3.0, 9.0, 10.0] { jittery.record(at: t) }  // one long pause among 1 s gaps
        #expect(jittery.usualInterval(at: 10) == 1.0)
        var one = AnswerRate()
        one.record(at: 5)
        #expect(one.usualInterval(at: 5) == nil)
    }
}
