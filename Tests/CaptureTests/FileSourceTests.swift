import BedsideCore
import Capture
import Foundation
import Synchronization
import Testing

/// What a test's emit closure saw: sequence numbers, capture times, sizes and a pixel mean per frame.
final class FrameLog: Sendable {
    struct Entry: Sendable {
        var seq: UInt64
        var ptsNanos: UInt64
        var width: Int
        var height: Int
        var format: PixelFormat
        var bytes: Int
        var mean: Double
    }

    private let entries = Mutex<[Entry]>([])

    func record(_ f: Frame) {
        let mean = Double(f.pixels.prefix(f.width * f.height).reduce(0) { $0 + Int($1) }) / Double(max(1, f.width * f.height))
        let e = Entry(
            seq: f.seq, ptsNanos: f.ptsNanos, width: f.width, height: f.height, format: f.format, bytes: f.pixels.count,
            mean: mean)
        entries.withLock { $0.append(e) }
    }

    var all: [Entry] { entries.withLock { $0 } }
}

@Suite struct FileSourceTests {
    /// A 2 s, 25 fps, 320x240 test pattern made by Debian's ffmpeg into a fresh folder.
    static func makeVideo() throws -> (dir: String, file: String) {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("bedside-cap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/testsrc2.mp4"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = [
            "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-pix_fmt", "yuv420p", file,
        ]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        return (dir, file)
    }

    static func expectGapless(_ entries: [FrameLog.Entry]) {
        #expect(entries.map(\.seq) == (0..<UInt64(entries.count)).map { $0 })
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.ptsNanos < $1.ptsNanos })
    }

    @Test func playsEveryFrameAtTheFilesPace() async throws {
        let (dir, file) = try Self.makeVideo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try FileSource(path: file)
        #expect(source.width == 320 && source.height == 240)
        #expect(source.nominalFPS == 25)
        #expect(source.format == .yuv420p)
        #expect(source.description.contains(file))
        let log = FrameLog()
        let clock = ContinuousClock()
        let start = clock.now
        try await source.run { log.record($0) }
        let elapsed = clock.now - start
        let entries = log.all
        #expect(entries.count == 50)
        Self.expectGapless(entries)
        #expect(entries.allSatisfy { $0.width == 320 && $0.height == 240 && $0.format == .yuv420p })
        #expect(entries.allSatisfy { $0.bytes == PixelFormat.yuv420p.byteCount(width: 320, height: 240) })
        // 50 frames at 25 fps: the last is due 1.96 s after the first.
        #expect(elapsed > .milliseconds(1200), "played in \(elapsed)")
        if let first = entries.first, let last = entries.last {
            #expect(Double(last.ptsNanos - first.ptsNanos) / 1e9 > 1.2)
        }
        // testsrc2 is colourful: the luma is neither black nor white.
        #expect(entries.allSatisfy { $0.mean > 20 && $0.mean < 235 })
    }

    @Test func loopingPlaysOnPastTheEnd() async throws {
        let (dir, file) = try Self.makeVideo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try FileSource(path: file, loop: true, format: .gray8)
        #expect(source.description.contains("loop"))
        let log = FrameLog()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await source.run { log.record($0) } }
            // Past the end of the 50-frame file: wait for 60 frames (no wall-clock bound on a loaded machine).
            let deadline = ContinuousClock.now + .seconds(60)
            while log.all.count < 60 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            group.cancelAll()
        }
        let all = log.all
        #expect(all.count >= 60, "\(all.count) frames: the file did not loop")
        Self.expectGapless(all)
        #expect(all.allSatisfy { $0.format == .gray8 && $0.bytes == 320 * 240 })
        // Paced, not faster than real time: 60 frames at 25 fps span at least ~2.4 s.
        if all.count >= 60 {
            let span = Double(all[59].ptsNanos - all[0].ptsNanos) / 1e9
            #expect(span > 2.0, "60 frames in \(span) s: faster than the file's pace")
            // The second pass repeats the first: same picture for frame 0 and frame 50.
            #expect(abs(all[0].mean - all[50].mean) < 0.5)
        }
    }

    @Test func missingFileErrorNamesTheFile() throws {
        let path = "/nonexistent-bedside/x.mp4"
        let error = #expect(throws: FileSourceError.self) { try FileSource(path: path) }
        #expect(error?.description == "cannot open \(path): No such file or directory")
        #expect(error?.path == path)
    }

    @Test func fileThatIsNotVideoIsAnError() throws {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("bedside-cap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/notes.mp4"
        try Data("this is not a video".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: FileSourceError.self) { try FileSource(path: path) }
        #expect(error?.description.contains(path) == true)
    }
}
