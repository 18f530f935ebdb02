import BedsideCore
import Foundation

/// A synthetic ultrasound scan in real time: the demo's and the tests' capture box.
public struct PhantomSource: FrameSource {
    public let renderer: PhantomRenderer
    public let fps: Double
    /// Stop after this many frames (tests, `bedside phantom --dump`); nil runs until cancelled.
    public let frameLimit: UInt64?

    public init(width: Int = 1280, height: Int = 720, fps: Double = 30, sweepSeconds: Double = 24, frameLimit: UInt64? = nil) {
        renderer = PhantomRenderer(width: width, height: height, sweepSeconds: sweepSeconds)
        self.fps = fps
        self.frameLimit = frameLimit
    }

    public var description: String { "phantom \(renderer.width)x\(renderer.height)@\(fps.formatted())" }
    public var nominalFPS: Double { fps }

    public func run(emit: @escaping @Sendable (Frame) -> Void) async throws {
        // Rendering is CPU work: it runs on its own thread, paced by the monotonic clock.
        let stop = StopFlag()
        await DedicatedThread.run(name: "phantom", stop: { stop.set() }) {
            renderLoop(stop: stop, emit: emit)
        }
        try Task.checkCancellation()
    }

    func renderLoop(stop: StopFlag, emit: (Frame) -> Void) {
        let interval = UInt64(1e9 / fps)
        let start = BedsideCore.Clock.monotonicNanos()
        var tick: UInt64 = 0
        var seq: UInt64 = 0
        while !stop.isSet {
            if let frameLimit, seq >= frameLimit { return }
            let scanTime = Double(tick) / fps
            let (pixels, truth) = renderer.render(time: scanTime, index: seq, clockText: Self.clockText(scanTime))
            emit(
                Frame(
                    seq: seq, ptsNanos: BedsideCore.Clock.monotonicNanos(), wallClock: BedsideCore.Clock.wallSeconds(),
                    width: renderer.width, height: renderer.height, format: .gray8, pixels: pixels, truth: truth))
            seq += 1
            tick += 1
            let now = BedsideCore.Clock.monotonicNanos()
            var deadline = start + interval * tick
            if deadline < now {
                // Behind (slow machine): skip ticks rather than build up lag, as a capture box does.
                tick += (now - deadline) / interval + 1
                deadline = start + interval * tick
            }
            var remaining = deadline - now
            while remaining > 0 && !stop.isSet {
                let step = min(remaining, 50_000_000)
                var ts = timespec(tv_sec: 0, tv_nsec: Int(step))
                nanosleep(&ts, nil)
                let t = BedsideCore.Clock.monotonicNanos()
                remaining = deadline > t ? deadline - t : 0
            }
        }
    }

    static func clockText(_ t: Double) -> String {
        let s = Int(t)
        return String(format: "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}
