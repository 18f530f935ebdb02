import BedsideCore
import Foundation
import Synchronization

/// Plays a video file (anything libavformat reads) as if it were a capture box: at the pace of the
/// stream's timestamps, optionally looping, with gapless `seq` and `ptsNanos` = the emission time.
///
/// `init` opens the file once to read its size and rate (and fails early, naming the file);
/// each `run` decodes with its own `VideoFileDecoder`.
public struct FileSource: FrameSource {
    public let path: String
    /// Start again at the end (seek to the start) instead of returning.
    public let loop: Bool
    /// The format frames are emitted in: `yuv420p` (default) or `gray8` (any `PixelFormat` converts).
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    /// The stream's average frame rate.
    public let nominalFPS: Double
    /// libavcodec's decoder name (`h264`, `mpeg4`, ...).
    public let codecName: String
    /// Damaged packets or pictures skipped (a corrupt section): shown in the source's health.
    private let damage = DamageCount()

    final class DamageCount: Sendable {
        let value = Atomic<Int>(0)
    }

    public var health: SourceHealth {
        let n = damage.value.load(ordering: .relaxed)
        return SourceHealth(state: "ok", detail: n > 0 ? "\(n) damaged packet(s) skipped in the file" : nil)
    }

    /// Frames more than this late re-anchor the pace (a slow machine plays on instead of rushing to catch up).
    static let maxLateSeconds = 0.5

    public init(path: String, loop: Bool = false, format: PixelFormat = .yuv420p) throws {
        let probe = try VideoFileDecoder(path: path)
        self.path = path
        self.loop = loop
        self.format = format
        width = probe.width
        height = probe.height
        nominalFPS = probe.fps
        codecName = probe.codecName
    }

    public var description: String {
        "file \(path) \(codecName) \(width)x\(height)@\(nominalFPS.formatted(.number.precision(.fractionLength(0...2))))"
            + (loop ? " loop" : "")
    }

    /// Emits the file's frames at their pace until the end (or forever when looping) or cancellation.
    public func run(emit: @escaping @Sendable (Frame) -> Void) async throws {
        let decoder = try VideoFileDecoder(path: path)
        let clock = ContinuousClock()
        let frameSeconds = 1 / (nominalFPS > 0 ? nominalFPS : 25)
        var anchor = clock.now
        var anchorMedia: Double?
        // Media time runs on across loops: each pass starts where the previous one ended.
        var passOffset = 0.0
        var passStart: Double?
        var lastMedia = -frameSeconds
        var framesThisPass = 0
        var seq: UInt64 = 0
        while !Task.isCancelled {
            let picture = try decoder.next(as: format)
            if decoder.decodeErrors > 0 { damage.value.store(decoder.decodeErrors, ordering: .relaxed) }
            guard let picture else {
                guard loop, framesThisPass > 0 else { return }
                try decoder.rewind()
                passOffset = lastMedia + frameSeconds
                passStart = nil
                framesThisPass = 0
                continue
            }
            var media: Double
            if let s = picture.seconds {
                let start = passStart ?? s
                passStart = start
                media = passOffset + (s - start)
            } else {
                media = lastMedia + frameSeconds
            }
            if media <= lastMedia { media = lastMedia + 1e-6 }
            let origin = anchorMedia ?? media
            anchorMedia = origin
            let deadline = anchor + .seconds(media - origin)
            let now = clock.now
            if deadline > now {
                try await Task.sleep(until: deadline, clock: clock)
            } else if now - deadline > .seconds(Self.maxLateSeconds) {
                anchor = now
                anchorMedia = media
            }
            emit(
                Frame(
                    seq: seq, ptsNanos: BedsideCore.Clock.monotonicNanos(), wallClock: BedsideCore.Clock.wallSeconds(),
                    width: picture.width, height: picture.height, format: format, pixels: picture.pixels))
            seq += 1
            framesThisPass += 1
            lastMedia = media
        }
    }
}
