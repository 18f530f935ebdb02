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
        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.nanoseconds(Int64(1e9 / fps))
        var tick: Int64 = 0
        var seq: UInt64 = 0
        while !Task.isCancelled {
            if let frameLimit, seq >= frameLimit { return }
            let scanTime = Double(tick) / fps
            let (pixels, truth) = renderer.render(time: scanTime, index: seq, clockText: Self.clockText(scanTime))
            let frame = Frame(
                seq: seq, ptsNanos: BedsideCore.Clock.monotonicNanos(), wallClock: BedsideCore.Clock.wallSeconds(),
                width: renderer.width, height: renderer.height, format: .gray8, pixels: pixels, truth: truth)
            emit(frame)
            seq += 1
            tick += 1
            var deadline = start + interval * Int(tick)
            let now = clock.now
            if deadline < now {
                // Behind (slow machine): skip ticks rather than build up lag, as a capture box does.
                let behind = (now - deadline) / interval
                tick += Int64(behind.rounded(.up))
                deadline = start + interval * Int(tick)
            }
            try await Task.sleep(until: deadline, clock: clock)
        }
    }

    static func clockText(_ t: Double) -> String {
        let s = Int(t)
        return String(format: "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}
