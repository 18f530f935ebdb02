import Foundation
import Testing

@testable import Study

@Suite("bedside compare: answers aligned by the frame's time")
struct CompareTests {
    /// 30 fps answers over 10 s: head standard from 2 s to 5 s, none elsewhere; `wrongFrom...wrongTo` (frames)
    /// says abdomen instead.
    func source(_ name: String, wrong: ClosedRange<Int>? = nil, offset: Double = 0, every: Int = 1) -> Compare.Source {
        var answers: [Compare.Answer] = []
        for i in stride(from: 0, to: 300, by: every) {
            let t = Double(i) / 30 + offset
            let head = t >= 2 && t < 5
            var plane: String? = head ? "head" : nil
            if let wrong, wrong.contains(i) { plane = "abdomen" }
            answers.append(
                .init(
                    t: t, seq: UInt64(i), plane: plane, status: plane == nil ? nil : "standard", concepts: ["skull": head],
                    modelMs: 20 + Double(i % 7)))
        }
        return .init(name: name, kind: "live", answers: answers)
    }

    @Test("the light line reader: lenient fields, model and seq required, result_invalid and failures are no answer")
    func lightLines() throws {
        let text = [
            #"{"model":"a","seq":1,"pts_s":0.1,"model_ms":4,"result":{"plane":{"name":"head","status":"standard"},"concepts":[{"name":"skull","present":true},{"name":"csp","score":0.7,"scale":"probability"},{"name":"fx","score":3}],"segmentation":{"rle":[1,2,3]}}}"#,
            // A field of the wrong type reads as absent; the line stays.
            #"{"model":"a","seq":2,"pts_s":0.2,"model_ms":"slow","result":{"plane":{"name":7,"status":"close"},"concepts":[{"name":"skull","present":"yes"}]}}"#,
            #"{"model":"a","seq":3,"pts_s":0.3,"result":{"plane":{"name":"head","status":"standard"}},"result_invalid":"concepts is not a list"}"#,
            #"{"model":"a","seq":4,"pts_s":0.4,"result":null}"#,
            #"{"model":"a","pts_s":0.5,"result":{}}"#,  // no seq: not an answer
            #"{"seq":6,"pts_s":0.6,"result":{}}"#,  // no model
            #"{"model":"a","seq":7,"pts_s":null,"result":{}}"#,  // before the first frame
            "not json",
        ].joined(separator: "\n")
        let lines = LightPrediction.lines(in: Data(text.utf8)).map(\.line)
        #expect(lines.map(\.seq) == [1, 2, 3, 4, 7])
        let answers = lines.compactMap(CompareSession.answer)
        #expect(answers.map(\.seq) == [1, 2, 3, 4])
        #expect(answers[0].label == "head:standard" && answers[0].modelMs == 4)
        #expect(answers[0].concepts == ["skull": true, "csp": true, "fx": false])
        #expect(answers[1].plane == nil && answers[1].status == "close" && answers[1].modelMs == nil && answers[1].concepts.isEmpty)
        #expect(answers[2].label == "no answer" && answers[3].label == "no answer")
    }

    @Test("a span where the other is wrong is found to the frame, with what each side said")
    func findsTheSpan() throws {
        let c = Comparison.make(session: "s", sources: [source("v1"), source("v2", wrong: 90...119)])
        let p = try #require(c.pairs.first)
        #expect(p.disagreements.count == 1)
        let d = try #require(p.disagreements.first)
        #expect(d.startSeq == 90 && d.endSeq == 119)
        #expect(abs(d.startS - 3.0) < 1e-9 && abs(d.endS - 119.0 / 30) < 1e-9)
        #expect(d.reference == "head:standard" && d.other == "abdomen:standard")
        #expect(abs(p.agreement - 270.0 / 300) < 1e-9)
        #expect(p.confusion["head:standard"]?["abdomen:standard"] == 30)
        #expect(p.planeAgreement["head"].map { abs($0 - 60.0 / 90) < 1e-9 } == true)
        #expect(p.conceptAgreement["skull"] == 1)
    }

    @Test("a model that answers less often is taken at its latest answer; a stopped one is no answer, not agreement")
    func alignment() throws {
        // Every third frame, 10 ms late: its answers stand for the frames until the next.
        let slow = source("slow", offset: 0.01, every: 3)
        let c = Comparison.make(session: "s", sources: [source("v1"), slow])
        let p = try #require(c.pairs.first)
        // Only the frames just after a change, before the slow one's next answer, differ (at 2 s and 5 s).
        #expect(p.disagreements.allSatisfy { $0.endSeq - $0.startSeq <= 3 })
        #expect(p.agreement > 0.97)
        // An answer older than maxAge stands for nothing.
        let stopped = Compare.Source(name: "stopped", kind: "live", answers: [.init(t: 0, seq: 0, plane: nil, status: nil)])
        let q = try #require(Comparison.make(session: "s", sources: [source("v1"), stopped]).pairs.first)
        #expect(q.confusion["none"]?["no answer"] == 150 && q.confusion["head:standard"]?["no answer"] == 59)
    }

    @Test("an unusable answer is no answer (never agreement with none); a gap in the reference ends a span")
    func unusableAndGaps() throws {
        let ref = Compare.Source(
            name: "v1", kind: "live",
            answers: (0..<10).map { .init(t: Double($0), seq: UInt64($0), plane: nil, status: nil) }
                + (20..<25).map { .init(t: Double($0), seq: UInt64($0), plane: nil, status: nil) })
        let failing = Compare.Source(
            name: "v2", kind: "live", answers: (0..<25).map { .init(t: Double($0), seq: UInt64($0), plane: nil, status: "no answer") })
        let p = try #require(Comparison.make(session: "s", sources: [ref, failing]).pairs.first)
        #expect(p.agreement == 0 && p.confusion["none"]?["no answer"] == 15)
        #expect(p.disagreements.map(\.startSeq) == [0, 20], "two spans, not one across the 10 s gap")
    }

    @Test("time to plane, the strips' runs and the latency histogram per source")
    func summaries() throws {
        let c = Comparison.make(session: "s", sources: [source("v1"), source("v2", wrong: 60...200)])
        #expect(c.sources[0].timeToPlane["head"].map { abs($0 - 2) < 1e-9 } == true)
        #expect(c.sources[1].timeToPlane["head"].map { abs($0 - 201.0 / 30) < 1e-9 } == nil)  // head ends at 5 s
        #expect(c.sources[1].timeToPlane["abdomen"].map { abs($0 - 2) < 1e-9 } == true)
        let runs = try #require(c.strips["v1"])
        #expect(runs.map(\.label) == ["none", "head:standard", "none"])
        #expect(c.sources[0].modelMsHistogram[2] == 300 && c.sources[0].modelMsMedian == 23)
    }

    @Test("the report is one self-contained page: no script, no outside address; the JSON decodes back")
    func report() throws {
        let c = Comparison.make(session: "s<1>", sources: [source("v1"), source("v2", wrong: 90...119)], choices: [("head", 3.5)])
        let html = CompareReport.html(CompareReport.summary([c]), title: "t", seconds: 1, cores: 2)
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"))
        #expect(html.contains("s&lt;1&gt;") && html.contains(#"class="dis""#))
        #expect(c.pairs[0].expertChoices.first?.answers == ["v1": "head:standard", "v2": "abdomen:standard"])
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(Comparison.self, from: data) == c)
    }
}
