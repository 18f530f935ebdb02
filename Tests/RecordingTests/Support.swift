import BedsideCore
import Capture
import Foundation
import Recording

/// Test helpers: temp folders, synthetic frames, and Debian's ffprobe/ffmpeg as the judge of a recording.
enum Support {
    /// A fresh folder under the system temp dir; the caller removes it.
    static func tempDirectory() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("bedside-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// 90 distinct phantom screens at 640x360 (3 s at 30 fps), rendered once for all tests.
    static let phantom: [[UInt8]] = {
        let renderer = PhantomRenderer(width: 640, height: 360)
        return (0..<90).map { renderer.render(time: Double($0) / 30, index: UInt64($0)).0 }
    }()

    /// Renders `phantom` on a thread of its own (about 3 s in a debug build) instead of on the concurrency pool.
    static func phantomReady() async throws {
        _ = try await onThread { phantom.count }
    }

    /// Phantom frame `i` captured at `ptsNanos` (call `phantomReady()` first from async code).
    static func phantomFrame(_ i: Int, ptsNanos: UInt64) -> Frame {
        Frame(
            seq: UInt64(i), ptsNanos: ptsNanos, wallClock: 0, width: 640, height: 360, format: .gray8,
            pixels: phantom[i % phantom.count])
    }

    /// Frames `0..<count` at exactly 30 fps from `start` ns.
    static func phantomFrames(_ count: Int, start: UInt64 = 1_000_000_000) async throws -> [Frame] {
        try await phantomReady()
        return (0..<count).map { phantomFrame($0, ptsNanos: start + UInt64($0) * 1_000_000_000 / 30) }
    }

    /// Runs blocking work (encoding, waiting for ffprobe) on its own thread, so that parallel tests do not
    /// starve the few threads of Swift's concurrency pool that time-keeping tests (file playback) need.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread { c.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// What an `Mp4Writer` reported after writing a file.
    struct Written: Sendable {
        var codec: String
        var width: Int
        var height: Int
        var frames: UInt64
        var duration: Double
        var bytes: Int64
        var seconds: Double
    }

    /// Writes `frames` to `file` with a new `Mp4Writer` on its own thread, finishes it, and reports.
    static func write(
        _ frames: [Frame], to file: String, width: Int, height: Int, fps: Double, settings: EncoderSettings = EncoderSettings()
    ) async throws -> Written {
        try await onThread {
            let clock = ContinuousClock()
            let start = clock.now
            let writer = try Mp4Writer(path: file, width: width, height: height, fps: fps, settings: settings)
            for f in frames { try writer.write(f) }
            try writer.finish()
            return Written(
                codec: writer.codecName, width: writer.width, height: writer.height, frames: writer.framesWritten,
                duration: writer.durationSeconds, bytes: writer.bytesWritten, seconds: (clock.now - start) / .seconds(1))
        }
    }

    /// Runs a program on its own thread; returns its standard output (standard error is discarded).
    static func run(_ program: String, _ arguments: [String]) async throws -> Data {
        try await onThread { try runBlocking(program, arguments) }
    }

    private static func runBlocking(_ program: String, _ arguments: [String]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }

    /// What ffprobe says about the first video stream: codec, size, decodable frames, duration.
    struct Probe {
        var codec = ""
        var width = 0
        var height = 0
        var frames = 0
        var duration = 0.0
    }

    static func probe(_ file: String) async throws -> Probe {
        let data = try await run(
            "/usr/bin/ffprobe",
            [
                "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                "stream=codec_name,nb_read_frames,width,height:format=duration", "-of", "default=nw=1", file,
            ])
        var p = Probe()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0] {
            case "codec_name": p.codec = kv[1]
            case "width": p.width = Int(kv[1]) ?? 0
            case "height": p.height = Int(kv[1]) ?? 0
            case "nb_read_frames": p.frames = Int(kv[1]) ?? 0
            case "duration": p.duration = Double(kv[1]) ?? 0
            default: break
            }
        }
        return p
    }

    /// Presentation times (seconds) of the video packets, in file order.
    static func packetTimes(_ file: String) async throws -> [Double] {
        let data = try await run(
            "/usr/bin/ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file])
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
    }

    /// The first frame decoded back to yuv420p: its Y plane's mean.
    static func firstFrameLumaMean(_ file: String, width: Int, height: Int) async throws -> Double {
        let data = try await run(
            "/usr/bin/ffmpeg",
            ["-v", "error", "-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        let y = data.prefix(width * height)
        guard y.count == width * height else { return -1 }
        return Double(y.reduce(0) { $0 + Int($1) }) / Double(y.count)
    }

    /// Waits (polling) until `condition` holds or `seconds` pass; returns whether it held.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
