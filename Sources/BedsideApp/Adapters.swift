import BedsideCore
import Capture
import Foundation
import Logging
import ModelBridge
import Recording
import Study
import Synchronization
import Web

/// What each model shows the tablets now (after the study arm's filter), for snapshots.
final class ShownPredictions: Sendable {
    private let messages = Mutex<[String: PredictionMessage]>([:])

    func set(_ m: PredictionMessage) { messages.withLock { $0[m.model] = m } }
    func clear() { messages.withLock { $0 = [:] } }
    var all: [String: JSONValue] {
        messages.withLock { $0 }.compactMapValues { JSONValue(parsing: JSONWire.string($0)) }
    }
}

/// `POST /api/snapshot`: the newest frame as PNG with what the tablets were shown, into the recording session
/// (while one is open), else the study session, else `<recordings>/snapshots`.
struct SnapshotService: SnapshotTaking {
    let snapshots: Snapshotter
    let recorder: Recorder?
    let study: StudyController
    let shown: ShownPredictions
    let recordingDirectory: String
    let requireMasked: Bool
    /// The followed model's last answer: its plane goes into the study log with the snapshot.
    let lastPrediction: @Sendable () -> Prediction?
    let logger: Logger

    func takeSnapshot() throws -> SnapshotReply {
        let open = recorder?.status
        let folder =
            (open.map { $0.state != .idle } == true ? open?.sessionDirectory : nil) ?? study.currentFolder
            ?? (recordingDirectory as NSString).appendingPathComponent("snapshots")
        let origin = recorder?.sessionOriginNanos
        let saved = try snapshots.take(into: folder, requireMasked: requireMasked) { frame in
            SnapshotRecord.Details(
                predictions: shown.all, ptsS: origin.map { (Double(frame.ptsNanos) - Double($0)) / 1e9 },
                recordingFile: recorder?.status.currentFile)
        }
        logger.info("snapshot saved", metadata: ["png": "\(saved.png)"])
        let last = lastPrediction()
        study.snapshot(png: saved.png, json: saved.json, plane: last?.plane, status: last?.status)
        return SnapshotReply(png: saved.png, json: saved.json, seq: saved.seq)
    }
}

/// The region editor's side: the capture's masks, the runners' crops, and the regions file beside the config.
final class RegionEditor: RegionEditing {
    let capture: CaptureService
    let recorder: Recorder?
    let runners: [ModelRunner]
    /// `<state>/regions/<config>-<hash>.regions.yaml`; nil when Bedside runs without a config file or state folder.
    let regionsFile: String?
    let configFile: String?
    let saved: Mutex<Regions>

    init(capture: CaptureService, recorder: Recorder?, runners: [ModelRunner], configFile: String?, models: [String]) {
        self.capture = capture
        self.recorder = recorder
        self.runners = runners
        self.configFile = configFile
        let file = configFile.flatMap { Regions.path(forConfig: $0) }  // in the state folder, never the install folder
        regionsFile = file
        saved = Mutex(
            file.flatMap { f in
                (try? String(contentsOfFile: f, encoding: .utf8)).flatMap {
                    try? ConfigLoader.parseRegions(yaml: $0, file: f, models: models)
                }
            } ?? Regions())
    }

    var inputSize: (width: Int, height: Int) {
        let c = capture.snapshot
        return (c.width, c.height)
    }

    var modelNames: [String] { runners.map(\.config.name) }

    func regions() -> RegionsState {
        let c = capture.snapshot
        let mask = capture.mask
        return RegionsState(
            width: c.width, height: c.height, masks: mask.rects(width: c.width, height: c.height),
            masksForThisSize: mask.bySize["\(c.width)x\(c.height)"] != nil, allowUnmasked: mask.allowUnmasked,
            models: runners.map {
                .init(name: $0.config.name, crop: $0.crop, input: .init(width: $0.config.input.width, height: $0.config.input.height))
            },
            regionsFile: regionsFile, saved: regionsFile.map { FileManager.default.fileExists(atPath: $0) } ?? false)
    }

    func apply(_ update: Regions, size: String) -> RegionsState {
        // Live first: the next frame is masked and cropped the new way.
        var mask = capture.mask
        for (k, v) in update.masksBySize { mask.bySize[k] = v }
        capture.setMask(mask)
        recorder?.setPrivacy(mask)
        for r in runners {
            guard let crop = update.crops[r.config.name] else { continue }
            r.setCrop(crop)
        }
        var state = regions()
        guard let file = regionsFile, let configFile else {
            state.warning = "applied until Bedside stops: it runs without a config file, so there is nowhere to save them"
            return state
        }
        let all = saved.withLock { s -> Regions in
            s = s.merged(with: update)
            return s
        }
        do {
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try all.yaml(configFile: configFile, savedAt: Date().formatted(.iso8601)).write(toFile: file, atomically: true, encoding: .utf8)
        } catch {
            state.warning = "applied now, but not saved to \(file): \(error). They last until Bedside stops."
            return state
        }
        state.saved = true
        return state
    }
}

/// `--ready-file`: what a test or a launcher needs once Bedside serves.
struct ReadyInfo: Codable, Sendable {
    var url: String
    var port: Int
    var token: String
    var adminPIN: String
    var pairingCode: String
    var pid: Int

    enum CodingKeys: String, CodingKey {
        case url, port, token, pid
        case adminPIN = "admin_pin", pairingCode = "pairing_code"
    }
}
