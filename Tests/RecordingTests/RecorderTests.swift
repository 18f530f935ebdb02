import BedsideCore
import Capture
import Foundation
import Recording
import Synchronization
import Testing

@Suite struct RecorderTests {
    static func config(_ dir: String, queue: Int = 90) -> RecordingConfig {
        var c = RecordingConfig()
        c.directory = dir
        c.queueFrames = queue
        return c
    }

    static func prediction(seq: UInt64, pts: UInt64, model: String = "demo", result: String) -> Prediction {
        Prediction(
            model: model, seq: seq, ptsNanos: pts, dispatchedNanos: pts + 2_000_000, receivedNanos: pts + 9_500_000,
            modelMs: 6.25, resultJSON: result, plane: nil, status: nil)
    }

    static func jsonObject(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The real phantom in real time for 3 s, with predictions; stopped by cancelling the service's task.
    @Test func phantomSessionFolderHasVideoPredictionsAndSession() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let source = PhantomSource(width: 640, height: 360, fps: 30, frameLimit: 90)
        // A queue longer than the run: this test is about the folder, not about keeping up on a loaded machine
        // (under the full parallel suite the encoder once fell 90 frames behind and dropped one).
        let recorder = Recorder(
            config: Self.config(dir, queue: 400), source: source, version: "0.1.0-test", models: ["demo", "second"])
        let timesBox = TimesBox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            try await source.run { frame in
                recorder.offer(frame)
                timesBox.append(frame.ptsNanos)
                if frame.seq % 10 == 0 {
                    recorder.log(
                        Self.prediction(
                            seq: frame.seq, pts: frame.ptsNanos,
                            result: #"{"plane":"head","status":"standard","score":0.93,"box":[10,20,30,40]}"#))
                }
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        let st = recorder.status
        #expect(st.state == .idle)
        #expect(st.framesWritten + st.framesDropped == 90)
        #expect(st.framesDropped == 0)
        #expect(st.codec == "libx264")
        let folder = try #require(st.sessionDirectory)
        #expect(folder.hasPrefix(URL(fileURLWithPath: dir).standardizedFileURL.path))
        let name = (folder as NSString).lastPathComponent
        #expect(name.count == 15 && name.dropFirst(8).first == "-", "folder name \(name)")
        let video = try #require(st.currentFile)
        #expect(video == folder + "/video-000.mp4")
        let probe = try await Support.probe(video)
        #expect(probe.codec == "h264")
        #expect(UInt64(probe.frames) == st.framesWritten)
        #expect(probe.width == 640 && probe.height == 360)
        let pts = timesBox.values
        let expected = Double(pts.last! - pts.first!) / 1e9 + 1.0 / 30
        #expect(abs(probe.duration - expected) < 0.05, "duration \(probe.duration), capture span \(expected)")
        #expect(st.bytesWritten > 10_000)

        let lines = try Self.jsonLines(folder + "/predictions.jsonl")
        #expect(lines.count == 9)
        for line in lines {
            let result = try #require(line["result"] as? [String: Any])
            #expect(result["plane"] as? String == "head")
            #expect((result["box"] as? [Any])?.count == 4)
            #expect(line["model"] as? String == "demo")
            #expect(line["pts_ns"] is NSNumber && line["dispatched_ns"] is NSNumber && line["received_ns"] is NSNumber)
            #expect(abs(((line["round_trip_ms"] as? NSNumber)?.doubleValue ?? 0) - 7.5) < 0.001)
            #expect(abs(((line["model_ms"] as? NSNumber)?.doubleValue ?? 0) - 6.25) < 0.001)
        }
        #expect(abs(((lines.first?["pts_s"] as? NSNumber)?.doubleValue ?? -1)) < 1e-6)

        let session = try Self.jsonObject(folder + "/session.json")
        #expect(session["bedside_version"] as? String == "0.1.0-test")
        #expect(session["source"] as? String == source.description)
        #expect(session["state"] as? String == "finished")
        #expect((session["frames_written"] as? NSNumber)?.uint64Value == st.framesWritten)
        #expect((session["frames_dropped"] as? NSNumber)?.uint64Value == 0)
        #expect(session["width"] as? Int == 640 && session["height"] as? Int == 360)
        #expect(session["fps"] as? Double == 30)
        #expect(session["models"] as? [String] == ["demo", "second"])
        #expect(session["video_files"] as? [String] == ["video-000.mp4"])
        #expect(session["codec"] as? String == "libx264")
        #expect(session["start_wall"] is String && session["end_wall"] is String)
        #expect((session["first_frame_pts_ns"] as? NSNumber)?.uint64Value == pts.first)
    }

    /// A copy taken while recording (what a SIGKILL leaves) plays up to its last complete fragment.
    @Test func fileCopiedMidRecordingStillPlays() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let recorder = Recorder(config: Self.config(dir, queue: 512), source: "synthetic", nominalFPS: 30, version: "t")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            for f in try await Support.phantomFrames(90) { recorder.offer(f) }
            #expect(try await Support.waitUntil(seconds: 30) { recorder.status.framesWritten == 90 })
            let video = try #require(recorder.status.currentFile)
            try FileManager.default.copyItem(atPath: video, toPath: dir + "/killed.mp4")
            #expect(recorder.status.state == .recording)
            recorder.stop()
            try await group.waitForAll()
        }
        let killed = try await Support.probe(dir + "/killed.mp4")
        #expect(killed.codec == "h264")
        // Fragments start at keyframes (every 30 frames): at least the first two are complete.
        #expect(killed.frames >= 60 && killed.frames < 90, "frames in the copy: \(killed.frames)")
        let full = try await Support.probe(try #require(recorder.status.currentFile))
        #expect(full.frames == 90)
        #expect(abs(full.duration - 3.0) < 0.05)
    }

    /// With masks required, frames no mask covered never reach the disk: recording pauses with an alert naming the
    /// size, and resumes (a new file) when masked frames come back; session.json lists the masks and every change.
    @Test func unmaskedFramesPauseRecordingAndNeverReachTheDisk() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let mask = PrivacyMask(bySize: ["640x360": [CropRect(x: 0, y: 0, width: 640, height: 20)]])
        let recorder = Recorder(
            config: Self.config(dir, queue: 512), source: "synthetic", nominalFPS: 30, version: "t", privacy: mask,
            requireMasks: true)
        let frames = try await Support.phantomFrames(90)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            for f in frames[0..<30] { var m = f; m.masked = true; recorder.offer(m) }
            #expect(try await Support.waitUntil(seconds: 30) { recorder.status.framesWritten == 30 })
            for f in frames[30..<60] { recorder.offer(f) }  // e.g. a preset without a mask
            #expect(try await Support.waitUntil(seconds: 30) { recorder.status.framesSkippedUnmasked == 30 })
            let paused = recorder.status
            #expect(paused.stateName == "paused")
            #expect(paused.alert?.contains("640x360 have no privacy mask") == true, "\(paused.alert ?? "")")
            var changed = mask
            changed.bySize["640x360"] = [CropRect(x: 0, y: 0, width: 640, height: 30)]
            recorder.setPrivacy(changed)
            for f in frames[60..<90] { var m = f; m.masked = true; recorder.offer(m) }
            #expect(try await Support.waitUntil(seconds: 30) { recorder.status.framesWritten == 60 })
            #expect(recorder.status.stateName == "recording" && recorder.status.alert == nil)
            recorder.stop()
            try await group.waitForAll()
        }
        let folder = try #require(recorder.status.sessionDirectory)
        let first = try await Support.probe(folder + "/video-000.mp4")
        let second = try await Support.probe(folder + "/video-001.mp4")
        #expect(first.frames == 30 && second.frames == 30, "only masked frames are on disk")
        let session = try Self.jsonObject(folder + "/session.json")
        #expect((session["frames_skipped_unmasked"] as? NSNumber)?.intValue == 30)
        let pauses = try #require(session["pauses"] as? [[String: Any]])
        #expect(pauses.count == 1 && pauses[0]["resumed_wall"] is String)
        let privacy = try #require(session["privacy"] as? [String: Any])
        #expect(privacy["allow_unmasked"] as? Bool == false)
        let changes = try #require(privacy["changes"] as? [[String: Any]])
        #expect(changes.count == 2, "the masks at the start and the editor's change")
        let last = try #require((changes.last?["masks_by_size"] as? [String: Any])?["640x360"] as? [[String: Any]])
        #expect(last.first?["height"] as? Int == 30)
    }

    @Test func predictionLinesEmbedTheResultAndCountFromTheFirstFrame() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let recorder = Recorder(config: Self.config(dir), source: "synthetic", nominalFPS: 30, version: "t", models: ["m"])
        let frames = try await Support.phantomFrames(30, start: 5_000_000_000)
        // Logged before run(): kept until the file is open; no frame yet, so no pts_s.
        recorder.log(Self.prediction(seq: 0, pts: 4_000_000_000, result: #"{"early":true}"#))
        for f in frames { recorder.offer(f) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            recorder.log(
                Self.prediction(
                    seq: 15, pts: 5_500_000_000, model: "quote\"d\nname",
                    result: "{\"plane\": \"abdomen\",\n \"nested\": {\"a\": [1, 2.5, null, \"x\\ny\"]}}"))
            recorder.log(Self.prediction(seq: 16, pts: 5_533_333_333, result: "not json"))
            recorder.log(Self.prediction(seq: 17, pts: 5_566_666_666, result: "42"))
            recorder.stop()
            try await group.waitForAll()
        }
        let folder = try #require(recorder.status.sessionDirectory)
        let text = try String(contentsOfFile: folder + "/predictions.jsonl", encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        let lines = try Self.jsonLines(folder + "/predictions.jsonl")
        #expect(lines.count == 4)
        guard lines.count == 4 else { return }
        #expect(lines[0]["pts_s"] is NSNull)
        #expect((lines[0]["result"] as? [String: Any])?["early"] as? Bool == true)
        #expect(lines[1]["model"] as? String == "quote\"d\nname")
        #expect(abs(((lines[1]["pts_s"] as? NSNumber)?.doubleValue ?? 0) - 0.5) < 1e-6)
        let nested = (lines[1]["result"] as? [String: Any])?["nested"] as? [String: Any]
        #expect((nested?["a"] as? [Any])?.last as? String == "x\ny")
        #expect(lines[2]["result"] is NSNull)
        #expect(lines[2]["result_invalid"] as? String == "not json")
        #expect((lines[3]["result"] as? NSNumber)?.intValue == 42)
        #expect(recorder.status.framesWritten == 30)
    }

    /// Producers never wait: with a 4-frame queue, 10 000 instant offers return at once and are counted.
    @Test func fullQueueDropsAndCountsInsteadOfBlocking() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let recorder = Recorder(config: Self.config(dir, queue: 4), source: "synthetic", nominalFPS: 30, version: "t")
        try await Support.phantomReady()
        let frame = Support.phantomFrame(0, ptsNanos: 0)
        var elapsed = Duration.zero
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            #expect(try await Support.waitUntil(seconds: 10) { recorder.status.state == .recording })
            let clock = ContinuousClock()
            let start = clock.now
            for i in 0..<10_000 {
                var f = frame
                f.seq = UInt64(i)
                f.ptsNanos = UInt64(i) * 33_333_333
                recorder.offer(f)
            }
            elapsed = clock.now - start
            recorder.stop()
            try await group.waitForAll()
        }
        let st = recorder.status
        #expect(elapsed < .seconds(2), "10 000 offers took \(elapsed)")
        #expect(st.framesWritten + st.framesDropped == 10_000)
        #expect(st.framesDropped > 9_000)
        let folder = try #require(st.sessionDirectory)
        #expect(UInt64(try await Support.probe(folder + "/video-000.mp4").frames) == st.framesWritten)
        let session = try Self.jsonObject(folder + "/session.json")
        #expect((session["frames_dropped"] as? NSNumber)?.uint64Value == st.framesDropped)
        #expect((session["frames_written"] as? NSNumber)?.uint64Value == st.framesWritten)
    }

    /// A folder that cannot be created fails the recording, visibly, without throwing or crashing.
    @Test func unwritableFolderFailsInStatusNotInACrash() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let blocker = dir + "/not-a-folder"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let recorder = Recorder(config: Self.config(blocker + "/rec"), source: "synthetic", nominalFPS: 30, version: "t")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            #expect(try await Support.waitUntil(seconds: 10) { recorder.status.state != .idle })
            for f in try await Support.phantomFrames(10) { recorder.offer(f) }
            recorder.log(Self.prediction(seq: 0, pts: 0, result: "{}"))
            group.cancelAll()
            try await group.waitForAll()
        }
        guard case .failed(let message) = recorder.status.state else {
            Issue.record("expected a failed state, got \(recorder.status.state)")
            return
        }
        #expect(message.contains(blocker + "/rec"), "\(message)")
        #expect(message.contains("Not a directory"), "\(message)")
        #expect(recorder.status.framesWritten == 0)
    }

    /// Two sessions started in the same second get distinct folders.
    @Test func sessionsInTheSameSecondGetTheirOwnFolder() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        var folders: [String] = []
        for _ in 0..<3 {
            let recorder = Recorder(config: Self.config(dir), source: "synthetic", nominalFPS: 30, version: "t")
            recorder.stop()
            await recorder.run()
            folders.append(try #require(recorder.status.sessionDirectory))
            #expect(recorder.status.state == .idle)
            #expect(recorder.status.currentFile == nil)
        }
        #expect(Set(folders).count == 3)
        for f in folders { #expect(FileManager.default.fileExists(atPath: f + "/session.json")) }
    }

    /// A frame the encoder cannot take (an empty picture) stops the recording; the file made so far is kept.
    @Test func encoderErrorStopsRecordingAndKeepsTheFile() async throws {
        let dir = try Support.tempDirectory()
        defer { Support.remove(dir) }
        let recorder = Recorder(config: Self.config(dir), source: "synthetic", nominalFPS: 30, version: "t")
        for f in try await Support.phantomFrames(40) { recorder.offer(f) }
        recorder.offer(
            Frame(seq: 40, ptsNanos: 3_000_000_000, wallClock: 0, width: 0, height: 0, format: .nv12, pixels: [0]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            #expect(
                try await Support.waitUntil(seconds: 30) {
                    if case .failed = recorder.status.state { return true }
                    return false
                })
            recorder.offer(Support.phantomFrame(41, ptsNanos: 3_100_000_000))
            recorder.stop()
            try await group.waitForAll()
        }
        let st = recorder.status
        #expect(st.framesWritten == 40)
        let probe = try await Support.probe(try #require(st.currentFile))
        #expect(probe.frames == 40)
        let session = try Self.jsonObject(try #require(st.sessionDirectory) + "/session.json")
        #expect(session["state"] as? String == "failed")
        #expect(session["error"] is String)
    }
}

/// Capture times seen by a test's emit closure.
final class TimesBox: Sendable {
    private let times = Mutex<[UInt64]>([])
    func append(_ t: UInt64) { times.withLock { $0.append(t) } }
    var values: [UInt64] { times.withLock { $0 } }
}
