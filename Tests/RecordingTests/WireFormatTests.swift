import BedsideCore
import Foundation
import Recording
import Testing

/// predictions.jsonl lines, session.json and the web status object as Codable types.
@Suite struct WireFormatTests {
    static func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    /// A line as Bedside wrote it before the types (its key order and number formatting) decodes.
    @Test func decodesALineInTodaysFormat() throws {
        let line =
            #"{"model":"pcbm-demo","seq":812,"pts_ns":123456789000,"pts_s":27.033000,"dispatched_ns":123458789000,"received_ns":123466789000,"model_ms":6.250,"round_trip_ms":8.000,"worker_received_ns":123459000000,"predict_start_ns":123459050000,"predict_end_ns":123465300000,"worker_queue_ms":0.050,"upstream":"crop","truth":{"plane":"head","status":"standard"},"result":{"plane":"head","score":0.93,"box":[10,20,30,40]}}"#
        let p = try JSONWire.decode(PredictionLine.self, from: line)
        #expect(p.model == "pcbm-demo" && p.seq == 812 && p.ptsNs == 123_456_789_000 && p.ptsS == 27.033)
        #expect(p.modelMs == 6.25 && p.roundTripMs == 8 && p.workerQueueMs == 0.05 && p.predictStartNs == 123_459_050_000)
        #expect(p.upstream == "crop" && p.truth == GroundTruth(plane: "head", status: "standard"))
        #expect(p.result?["plane"] == .string("head") && p.result?["box"]?.arrayValue?.count == 4)
        let invalid = try JSONWire.decode(
            PredictionLine.self,
            from:
                #"{"model":"m","seq":1,"pts_ns":5,"pts_s":null,"dispatched_ns":6,"received_ns":7,"model_ms":null,"round_trip_ms":1.000,"result":null,"result_invalid":"not json"}"#
        )
        #expect(invalid.ptsS == nil && invalid.modelMs == nil && invalid.result == nil && invalid.resultInvalid == "not json")
    }

    @Test func predictionLineRoundTripsWithTheSameKeysAsBefore() throws {
        var p = Prediction(
            model: "demo", seq: 3, ptsNanos: 1_500_000_000, dispatchedNanos: 1_502_000_000, receivedNanos: 1_509_500_000,
            modelMs: 6.25, resultJSON: "{\"plane\": \"abdomen\",\n \"n\": [1, 2.5, null]}", plane: nil, status: nil)
        p.worker = .init(receivedNanos: 1_503_000_000, startNanos: 1_503_050_000, endNanos: 1_509_000_000, sameClock: true)
        let line = PredictionLine(p, originNanos: 1_000_000_000)
        #expect(!line.text.contains("\n"))
        #expect(try JSONWire.decode(PredictionLine.self, from: line.text) == line)
        let keys = Set(try Self.object(line.text).allKeys.compactMap { $0 as? String })
        #expect(
            keys == [
                "model", "seq", "pts_ns", "pts_s", "dispatched_ns", "received_ns", "model_ms", "round_trip_ms",
                "worker_received_ns", "predict_start_ns", "predict_end_ns", "worker_queue_ms", "result",
            ])
        #expect(line.ptsS == 0.5 && line.roundTripMs == 7.5 && line.workerQueueMs == 0.05)
        // Before the first frame: pts_s is null, not absent; an answer that is not JSON is kept as text.
        p.resultJSON = "oops"
        p.worker = nil
        let early = try Self.object(PredictionLog.line(for: p, originNanos: nil))
        #expect(early["pts_s"] is NSNull && early["result"] is NSNull && early["result_invalid"] as? String == "oops")
    }

    @Test func sessionInfoRoundTripsAndLoadsFromItsFolder() throws {
        var info = SessionInfo(bedsideVersion: "1.2", source: "phantom", startWall: "2026-01-01T00:00:00Z", startEpoch: 1.5, fps: 30, models: ["demo"])
        info.segments = [.init(file: "video-000.mp4", startS: 0, firstPtsNs: 42)]
        info.pauses = [.init(atWall: "2026-01-01T00:00:01Z", reason: "low disk", resumedWall: nil)]
        info.privacy = .init(
            allowUnmasked: false, changes: [.init(atWall: "w", masks: [], masksBySize: ["640x360": [CropRect(x: 0, y: 0, width: 640, height: 20)]])])
        info.firstFramePtsNs = 42
        info.configSha256 = "abc"
        let text = String(decoding: try info.encoded(), as: UTF8.self)
        #expect(text.contains("\"first_frame_pts_ns\" : 42") && text.contains("\"config_sha256\"") && text.contains("\"masks_by_size\""))
        #expect(try SessionInfo.decode(info.encoded()) == info)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try SessionInfo.load(folder: folder) == nil)
        try info.write(to: folder + "/session.json")
        #expect(try SessionInfo.load(folder: folder) == info)
    }

    /// A file an older Bedside (or the interrupted-session mark) wrote, with fields missing or added, loads.
    @Test func sessionInfoLoadsOlderAndInterruptedFiles() throws {
        let old =
            #"{"state":"interrupted","interrupted_found_wall":"x","fps":25,"segments":[{"file":"video-000.mp4","start_s":0}],"video_files":["video-000.mp4"]}"#
        let info = try SessionInfo.decode(Data(old.utf8))
        #expect(info.state == .interrupted && info.fps == 25 && info.segments.first?.firstPtsNs == nil)
        #expect(info.predictionsFile == "predictions.jsonl" && info.videoFiles == ["video-000.mp4"])
    }

    /// The web status's `recording` object, exactly as BedsideApp.statusJSON built it field by field.
    @Test func recorderStatusEncodesTheWebStatusObject() throws {
        var s = RecorderStatus()
        s.state = .failed("disk gone")
        s.mode = "manual"
        s.sessionDirectory = "/rec/a"
        s.framesWritten = 12
        s.bytesWritten = 3456
        s.segments = 1
        s.failures = 1
        s.codec = "libx264"
        let expected: [String: Any] = [
            "state": "failed", "error": "disk gone", "mode": "manual", "alert": NSNull(), "session": "/rec/a",
            "segments": 1, "free_mb": NSNull(), "frames_skipped_for_disk": 0, "frames_skipped_unmasked": 0,
            "file": NSNull(), "frames_written": 12, "frames_dropped": 0, "sessions": 0, "failures": 1,
            "bytes_written": 3456,
        ]
        #expect(try Self.object(JSONWire.string(s)) == expected as NSDictionary)
        s.state = .recording
        s.freeMB = 900
        #expect(try Self.object(JSONWire.string(s))["error"] == nil)
        #expect(try Self.object(JSONWire.string(RecordingStatusMessage(s)))["free_mb"] as? Int == 900)
        #expect(JSONWire.string(RecordingStatusMessage(nil)) == #"{"state":"off"}"#)
    }
}
