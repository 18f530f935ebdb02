import BedsideCore
import Capture
import Foundation

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

    /// Phantom frame `i` captured at `ptsNanos`.
    static func phantomFrame(_ i: Int, ptsNanos: UInt64) -> Frame {
        Frame(
            seq: UInt64(i), ptsNanos: ptsNanos, wallClock: 0, width: 640, height: 360, format: .gray8,
            pixels: phantom[i % phantom.count])
    }

    /// Frames `0..<count` at exactly 30 fps from `start` ns.
    static func phantomFrames(_ count: Int, start: UInt64 = 1_000_000_000) -> [Frame] {
        (0..<count).map { phantomFrame($0, ptsNanos: start + UInt64($0) * 1_000_000_000 / 30) }
    }

    /// Runs a program; returns its standard output (standard error is discarded).
    static func run(_ program: String, _ arguments: [String]) throws -> Data {
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

    static func probe(_ file: String) throws -> Probe {
        let data = try run(
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
    static func packetTimes(_ file: String) throws -> [Double] {
        let data = try run(
            "/usr/bin/ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file])
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
    }

    /// The first frame decoded back to yuv420p: its Y plane's mean.
    static func firstFrameLumaMean(_ file: String, width: Int, height: Int) throws -> Double {
        let data = try run(
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
