import BedsideCore
import Capture
import Foundation
import Recording
import Testing

@Suite struct Mp4WriterTests {
    @Test func phantomAt30fpsBecomesH264WithEveryFrame() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/a.mp4"
        let writer = try Mp4Writer(path: file, width: 640, height: 360, fps: 30)
        for f in Support.phantomFrames(90) { try writer.write(f) }
        try writer.finish()
        #expect(writer.codecName == "libx264")
        #expect(writer.framesWritten == 90)
        #expect(abs(writer.durationSeconds - 3.0) < 0.001)
        let p = try Support.probe(file)
        #expect(p.codec == "h264")
        #expect(p.frames == 90)
        #expect(p.width == 640 && p.height == 360)
        #expect(abs(p.duration - 3.0) < 0.05, "duration \(p.duration)")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect(Int64((attributes[.size] as? NSNumber)?.intValue ?? 0) == writer.bytesWritten)
    }

    /// Frames the source dropped leave a hole in the timeline; the frames after it keep their capture time.
    @Test func gapInCaptureTimesKeepsTheTimeline() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/gap.mp4"
        let writer = try Mp4Writer(path: file, width: 640, height: 360, fps: 30)
        // 60 frames: 0..<30 at their slots, then slots 60..<90 (frames 30..<60 were lost): 3 s of video.
        let start: UInt64 = 7_000_000_000
        for i in 0..<60 {
            let slot = i < 30 ? i : i + 30
            try writer.write(Support.phantomFrame(i, ptsNanos: start + UInt64(slot) * 1_000_000_000 / 30))
        }
        try writer.finish()
        let p = try Support.probe(file)
        #expect(p.frames == 60)
        #expect(abs(p.duration - 3.0) < 0.05, "duration \(p.duration)")
        let times = try Support.packetTimes(file)
        #expect(times.count == 60)
        if times.count == 60 {
            #expect(abs(times[0]) < 0.001)
            #expect(abs(times[29] - 29.0 / 30) < 0.001)
            #expect(abs(times[30] - 2.0) < 0.001)
            #expect(abs(times[59] - 89.0 / 30) < 0.001)
        }
    }

    /// Irregular capture times (jittery source) map exactly, with no accumulated drift.
    @Test func jitteredTimesDoNotDrift() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/jitter.mp4"
        let writer = try Mp4Writer(path: file, width: 640, height: 360, fps: 30)
        var expected: [Double] = []
        for i in 0..<90 {
            let jitter = UInt64((i * 7919) % 9) * 1_000_000  // 0-8 ms late
            let t = UInt64(i) * 33_366_667 + jitter  // 29.97 fps
            try writer.write(Support.phantomFrame(i, ptsNanos: t))
            expected.append(Double(t) / 1e9)
        }
        try writer.finish()
        let times = try Support.packetTimes(file)
        #expect(times.count == 90)
        let worst = zip(times, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 0.0001, "worst error \(worst) s")
    }

    @Test(arguments: [PixelFormat.gray8, .yuv420p, .nv12, .yuyv422, .rgb24])
    func inputFormatsAreConvertedToVideoRange(format: PixelFormat) throws {
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
        let writer = try Mp4Writer(path: file, width: w, height: h, fps: 25)
        for i in 0..<10 {
            try writer.write(
                Frame(
                    seq: UInt64(i), ptsNanos: UInt64(i) * 40_000_000, wallClock: 0, width: w, height: h, format: format,
                    pixels: pixels))
        }
        try writer.finish()
        #expect(try Support.probe(file).frames == 10)
        let mean = try Support.firstFrameLumaMean(file, width: w, height: h)
        #expect(abs(mean - expectedY) < 3, "\(format): Y mean \(mean), expected \(expectedY)")
    }

    @Test func oddSizeIsRoundedDownToEven() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/odd.mp4"
        let writer = try Mp4Writer(path: file, width: 321, height: 241, fps: 25)
        #expect(writer.width == 320 && writer.height == 240)
        let pixels = [UInt8](repeating: 90, count: 321 * 241)
        for i in 0..<5 {
            try writer.write(
                Frame(
                    seq: UInt64(i), ptsNanos: UInt64(i) * 40_000_000, wallClock: 0, width: 321, height: 241,
                    format: .gray8, pixels: pixels))
        }
        try writer.finish()
        let p = try Support.probe(file)
        #expect(p.frames == 5 && p.width == 320 && p.height == 240)
    }

    @Test func mpeg4IsTheFallbackEncoder() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let file = dir + "/m4.mp4"
        var settings = EncoderSettings()
        settings.codecs = ["no-such-encoder", "mpeg4"]
        let writer = try Mp4Writer(path: file, width: 640, height: 360, fps: 30, settings: settings)
        #expect(writer.codecName == "mpeg4")
        for f in Support.phantomFrames(45) { try writer.write(f) }
        try writer.finish()
        let p = try Support.probe(file)
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
    @Test func encodeSpeedAt720p() throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let renderer = PhantomRenderer(width: 1280, height: 720)
        let screens = (0..<8).map { renderer.render(time: Double($0) * 0.4, index: UInt64($0)).0 }
        let writer = try Mp4Writer(path: dir + "/speed.mp4", width: 1280, height: 720, fps: 30)
        let n = 150
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<n {
            try writer.write(
                Frame(
                    seq: UInt64(i), ptsNanos: UInt64(i) * 33_333_333, wallClock: 0, width: 1280, height: 720,
                    format: .gray8, pixels: screens[i % screens.count]))
        }
        try writer.finish()
        let seconds = (clock.now - start) / .seconds(1)
        let fps = Double(n) / seconds
        print("encode 1280x720 gray8 -> \(writer.codecName): \(String(format: "%.1f", fps)) fps, \(writer.bytesWritten / 1024) KiB for \(n) frames")
        #expect(fps > 5)
    }
}
