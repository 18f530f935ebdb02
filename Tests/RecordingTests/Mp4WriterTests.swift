import BedsideCore
import Capture
import Foundation
import Recording
import Testing

@Suite struct Mp4WriterTests {
    @Test func phantomAt30fpsBecomesH264WithEveryFrame() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/a.mp4"
        let w = try await Support.write(try await Support.phantomFrames(90), to: file, width: 640, height: 360, fps: 30)
        #expect(w.codec == "libx264")
        #expect(w.frames == 90)
        #expect(abs(w.duration - 3.0) < 0.001)
        let p = try await Support.probe(file)
        #expect(p.codec == "h264")
        #expect(p.frames == 90)
        #expect(p.width == 640 && p.height == 360)
        #expect(abs(p.duration - 3.0) < 0.05, "duration \(p.duration)")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect(Int64((attributes[.size] as? NSNumber)?.intValue ?? 0) == w.bytes)
    }

    /// Frames the source dropped leave a hole in the timeline; the frames after it keep their capture time.
    @Test func gapInCaptureTimesKeepsTheTimeline() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/gap.mp4"
        // 60 frames: 0..<30 at their slots, then slots 60..<90 (frames 30..<60 were lost): 3 s of video.
        let start: UInt64 = 7_000_000_000
        try await Support.phantomReady()
        let frames = (0..<60).map { i in
            let slot = i < 30 ? i : i + 30
            return Support.phantomFrame(i, ptsNanos: start + UInt64(slot) * 1_000_000_000 / 30)
        }
        _ = try await Support.write(frames, to: file, width: 640, height: 360, fps: 30)
        let p = try await Support.probe(file)
        #expect(p.frames == 60)
        #expect(abs(p.duration - 3.0) < 0.05, "duration \(p.duration)")
        let times = try await Support.packetTimes(file)
        #expect(times.count == 60)
        if times.count == 60 {
            #expect(abs(times[0]) < 0.001)
            #expect(abs(times[29] - 29.0 / 30) < 0.001)
            #expect(abs(times[30] - 2.0) < 0.001)
            #expect(abs(times[59] - 89.0 / 30) < 0.001)
        }
    }

    /// Irregular capture times (a jittery 29.97 fps source) map exactly, with no accumulated drift.
    @Test func jitteredTimesDoNotDrift() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/jitter.mp4"
        try await Support.phantomReady()
        var frames: [Frame] = []
        var expected: [Double] = []
        for i in 0..<90 {
            let jitter = UInt64((i * 7919) % 9) * 1_000_000  // 0-8 ms late
            let t = UInt64(i) * 33_366_667 + jitter
            frames.append(Support.phantomFrame(i, ptsNanos: t))
            expected.append(Double(t) / 1e9)
        }
        _ = try await Support.write(frames, to: file, width: 640, height: 360, fps: 29.97)
        let times = try await Support.packetTimes(file)
        #expect(times.count == 90)
        let worst = zip(times, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 0.0001, "worst error \(worst) s")
    }

    @Test(arguments: [PixelFormat.gray8, .yuv420p, .nv12, .yuyv422, .rgb24])
    func inputFormatsAreConvertedToVideoRange(format: PixelFormat) async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/\(format).mp4"
        let (w, h) = (320, 240)
        // A flat light gray in each format; gray8 and rgb24 are full range, the YUV formats carry Y directly.
        var pixels = [UInt8](repeating: 0, count: format.byteCount(width: w, height: h))
        let expectedY: Double
        switch format {
        case .gray8, .rgb24, .bgr24:
            for i in pixels.indices { pixels[i] = 200 }
            expectedY = 16 + 200 * 219 / 255.0
        case .yuv420p, .nv12:
            for i in pixels.indices { pixels[i] = i < w * h ? 180 : 128 }
            expectedY = 180
        case .yuyv422, .uyvy422:
            for i in pixels.indices { pixels[i] = i % 2 == (format == .yuyv422 ? 0 : 1) ? 180 : 128 }
            expectedY = 180
        }
        let frames = (0..<10).map {
            Frame(
                seq: UInt64($0), ptsNanos: UInt64($0) * 40_000_000, wallClock: 0, width: w, height: h, format: format,
                pixels: pixels)
        }
        _ = try await Support.write(frames, to: file, width: w, height: h, fps: 25)
        #expect(try await Support.probe(file).frames == 10)
        let mean = try await Support.firstFrameLumaMean(file, width: w, height: h)
        #expect(abs(mean - expectedY) < 3, "\(format): Y mean \(mean), expected \(expectedY)")
    }

    @Test func oddSizeIsRoundedDownToEven() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/odd.mp4"
        let pixels = [UInt8](repeating: 90, count: 321 * 241)
        let frames = (0..<5).map {
            Frame(
                seq: UInt64($0), ptsNanos: UInt64($0) * 40_000_000, wallClock: 0, width: 321, height: 241, format: .gray8,
                pixels: pixels)
        }
        let w = try await Support.write(frames, to: file, width: 321, height: 241, fps: 25)
        #expect(w.width == 320 && w.height == 240)
        let p = try await Support.probe(file)
        #expect(p.frames == 5 && p.width == 320 && p.height == 240)
    }

    /// A frame of another size than the first (a source that changed mode) is scaled to the file's size.
    @Test func laterFramesOfAnotherSizeAreScaled() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/resize.mp4"
        var frames = try await Support.phantomFrames(10)
        frames.append(
            Frame(
                seq: 10, ptsNanos: frames[9].ptsNanos + 33_333_333, wallClock: 0, width: 1280, height: 720, format: .gray8,
                pixels: [UInt8](repeating: 128, count: 1280 * 720)))
        let w = try await Support.write(frames, to: file, width: 640, height: 360, fps: 30)
        #expect(w.frames == 11)
        let p = try await Support.probe(file)
        #expect(p.frames == 11 && p.width == 640 && p.height == 360)
    }

    @Test func mpeg4IsTheFallbackEncoder() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/m4.mp4"
        var settings = EncoderSettings()
        settings.codecs = ["no-such-encoder", "mpeg4"]
        let w = try await Support.write(
            try await Support.phantomFrames(45), to: file, width: 640, height: 360, fps: 30, settings: settings)
        #expect(w.codec == "mpeg4")
        let p = try await Support.probe(file)
        #expect(p.codec == "mpeg4")
        #expect(p.frames == 45)
        #expect(abs(p.duration - 1.5) < 0.05, "duration \(p.duration)")
    }

    @Test func noEncoderIsAnError() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        var settings = EncoderSettings()
        settings.codecs = ["no-such-encoder"]
        #expect(throws: (any Error).self) {
            try Mp4Writer(path: dir + "/x.mp4", width: 64, height: 64, fps: 30, settings: settings)
        }
    }

    /// Encode speed at 1280x720 gray8 (the phantom's default screen); printed for the report.
    @Test func encodeSpeedAt720p() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let renderer = PhantomRenderer(width: 1280, height: 720)
        let screens = try await Support.onThread {
            (0..<8).map { renderer.render(time: Double($0) * 0.4, index: UInt64($0)).0 }
        }
        let n = 150
        let frames = (0..<n).map {
            Frame(
                seq: UInt64($0), ptsNanos: UInt64($0) * 33_333_333, wallClock: 0, width: 1280, height: 720, format: .gray8,
                pixels: screens[$0 % screens.count])
        }
        let w = try await Support.write(frames, to: dir + "/speed.mp4", width: 1280, height: 720, fps: 30)
        let fps = Double(n) / w.seconds
        print("encode 1280x720 gray8 -> \(w.codec): \(String(format: "%.1f", fps)) fps, \(w.bytes / 1024) KiB for \(n) frames")
        #expect(fps > 5)
    }
}
