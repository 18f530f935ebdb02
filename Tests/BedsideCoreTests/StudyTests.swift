import BedsideCore
import Foundation
import Testing

@Suite("Study arms and time to plane")
struct StudyTests {
    let result =
        #"{"plane":{"name":"head","status":"standard"},"concepts":[{"name":"skull","present":true}],"segmentation":{"width":2,"height":1,"data":[1,2]},"guidance":{"text":"hold"},"extra":{"x":1}}"#

    func keys(_ json: String?) throws -> Set<String> {
        let text = try #require(json)
        return Set(try #require(JSONValue(parsing: text)?.objectValue).keys)
    }

    @Test("full passes the result unchanged; status keeps only the plane; control sends nothing")
    func builtInArms() throws {
        let arms = Dictionary(uniqueKeysWithValues: StudyArm.builtIn.map { ($0.name, $0) })
        #expect(arms["full"]!.filter(resultJSON: result) == result)
        #expect(try keys(arms["status"]!.filter(resultJSON: result)) == ["plane"])
        #expect(arms["control"]!.filter(resultJSON: result) == nil)
        #expect(arms["control"]!.showsNothing)
    }

    @Test("a custom arm shows exactly its parts, never extra")
    func customArm() throws {
        let arm = StudyArm(name: "no-overlay", shows: [.banner, .concepts, .guidance])
        #expect(try keys(arm.filter(resultJSON: result)) == ["plane", "concepts", "guidance"])
    }

    @Test("time to plane: the first standard frame of each target after the start, once; snapshots per plane")
    func timeToPlane() {
        var t = TimeToPlane(targets: ["head", "femur"], startNanos: 10_000_000_000)
        #expect(t.observe(plane: "head", status: "standard", ptsNanos: 9_000_000_000) == nil, "before the start")
        #expect(t.observe(plane: "head", status: "close", ptsNanos: 11_000_000_000) == nil)
        #expect(t.observe(plane: "abdomen", status: "standard", ptsNanos: 11_500_000_000) == nil, "not a target")
        let r = t.observe(plane: "head", status: "standard", ptsNanos: 12_500_000_000)
        #expect(r?.plane == "head" && r?.seconds == 2.5)
        #expect(t.observe(plane: "head", status: "standard", ptsNanos: 13_000_000_000) == nil, "only the first")
        t.snapshot(plane: "head")
        t.snapshot(plane: "head")
        t.snapshot(plane: nil)
        let s = t.summary
        #expect(s["head"] == PlaneTime(seconds: 2.5, snapshots: 2))
        #expect(s["femur"] == PlaneTime(seconds: nil, snapshots: 0))
        #expect(JSONWire.string(s["femur"]!) == #"{"seconds":null,"snapshots":0}"#, "null until reached, not left out")
    }

    @Test("study config: custom arms, default arm and targets; errors name the key")
    func config() throws {
        let c = try ConfigLoader.parse(
            yaml: "study:\n  arms: {a: [banner], b: []}\n  default_arm: b\n  targets: [head]\n")
        #expect(c.study.arms.map(\.name) == ["a", "b"])
        #expect(c.study.defaultArm == "b" && c.study.targets == ["head"])
        let d = try ConfigLoader.parse(yaml: "")
        #expect(d.study.arms.map(\.name) == ["full", "status", "control"] && d.study.defaultArm == "full")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "study: {arms: {a: [heatmap]}}\n") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "study: {default_arm: nope}\n") }
    }
}
