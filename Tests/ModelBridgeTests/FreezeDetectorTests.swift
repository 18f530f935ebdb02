import ModelBridge
import Testing

@Suite("Freeze trigger: infer once when the image stops changing")
struct FreezeDetectorTests {
    static let a = [UInt8](repeating: 100, count: 64)
    static let b = [UInt8](repeating: 140, count: 64)

    @Test("a still image fires once after the still time, then not again")
    func firesOnce() {
        var d = FreezeDetector(stillSeconds: 1)
        var fired: [Double] = []
        for i in 0..<100 {
            let t = Double(i) * 0.04
            if d.observe(thumbnail: Self.a, at: t) { fired.append(t) }
        }
        #expect(fired.count == 1)
        #expect(fired[0] >= 1.0 && fired[0] < 1.1)
    }

    @Test("moving images never fire; each new freeze fires once")
    func movingThenFrozen() {
        var d = FreezeDetector(stillSeconds: 0.5)
        var count = 0
        var t = 0.0
        for round in 0..<3 {
            for i in 0..<20 {  // moving: alternate images
                if d.observe(thumbnail: i % 2 == 0 ? Self.a : Self.b, at: t) { count += 1 }
                t += 0.04
            }
            #expect(count == round)
            for _ in 0..<30 {  // frozen for 1.2 s
                if d.observe(thumbnail: Self.a, at: t) { count += 1 }
                t += 0.04
            }
            #expect(count == round + 1)
        }
        #expect(d.freezes == 3)
    }

    @Test("noise below the threshold still counts as frozen")
    func smallNoise() {
        var d = FreezeDetector(stillSeconds: 0.2, threshold: 1.5)
        var jitter = Self.a
        var fired = false
        for i in 0..<20 {
            jitter[i % 64] = jitter[i % 64] &+ 1  // a pixel or two changes: compression noise
            fired = d.observe(thumbnail: jitter, at: Double(i) * 0.04) || fired
        }
        #expect(fired)
    }
}
