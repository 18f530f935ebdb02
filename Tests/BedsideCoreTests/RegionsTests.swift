import BedsideCore
import Foundation
import Testing

/// The region editor's file: written, read back, laid over the config; bad files name the key and the fix.
@Suite struct RegionsTests {
    static let config = """
        source: {kind: phantom, width: 1280, height: 720}
        privacy:
          masks: [{x: 0, y: 0, width: 7680, height: 40}]
          masks_by_size:
            640x480: [{x: 0, y: 0, width: 640, height: 14}]
        models:
          - name: pcbm-demo
            entry: m.py:predict
            input: {crop: {x: 10, y: 20, width: 300, height: 200}}
          - name: "other_model"
            entry: m.py:predict
        """

    @Test func writtenFileReadsBackAndWinsOverTheConfig() throws {
        var config = try ConfigLoader.parse(yaml: Self.config)
        let regions = Regions(
            masksBySize: ["1280x720": [CropRect(x: 0, y: 0, width: 1280, height: 28), CropRect(x: 1000, y: 690, width: 280, height: 30)]],
            crops: ["pcbm-demo": CropRect(x: 248, y: 72, width: 784, height: 610), "other_model": CropRect?.none])
        let text = regions.yaml(configFile: "/x/bedside.yaml", savedAt: "2026-11-28T00:00:00Z")
        #expect(text.contains("# Written by Bedside's region editor"))
        let back = try ConfigLoader.parseRegions(yaml: text, file: "bedside.regions.yaml", models: config.models.map(\.name))
        #expect(back == regions)
        back.apply(to: &config)
        #expect(config.privacy.rects(width: 1280, height: 720).count == 2)
        #expect(config.privacy.rects(width: 640, height: 480) == [CropRect(x: 0, y: 0, width: 640, height: 14)], "other sizes keep the config's")
        #expect(config.privacy.rects(width: 1920, height: 1080) == [CropRect(x: 0, y: 0, width: 7680, height: 40)])
        #expect(config.models[0].input.crop == CropRect(x: 248, y: 72, width: 784, height: 610))
        #expect(config.models[1].input.crop == nil)
    }

    @Test func laterSavesReplaceEarlierOnesPerSizeAndModel() {
        let a = Regions(
            masksBySize: ["1280x720": [CropRect(x: 0, y: 0, width: 10, height: 10)], "640x480": []], crops: ["m": CropRect(x: 1, y: 1, width: 5, height: 5)])
        let b = Regions(masksBySize: ["1280x720": [CropRect(x: 0, y: 0, width: 20, height: 20)]], crops: [:])
        let m = a.merged(with: b)
        #expect(m.masksBySize["1280x720"] == [CropRect(x: 0, y: 0, width: 20, height: 20)])
        #expect(m.masksBySize["640x480"] == [])
        #expect(m.crops["m"] == .some(CropRect(x: 1, y: 1, width: 5, height: 5)))
    }

    @Test func theEditorSavesInTheStateFolderOneFilePerConfig() {
        let a = Regions.path(forConfig: "/srv/site/bedside.yaml", stateDirectory: "/var/lib/bedside")
        #expect(a.hasPrefix("/var/lib/bedside/regions/bedside-") && a.hasSuffix(".regions.yaml"))
        #expect(a == Regions.path(forConfig: "/srv/site/./bedside.yaml", stateDirectory: "/var/lib/bedside"))
        // Two configs of the same name in two folders do not share a file; the name says which config.
        #expect(a != Regions.path(forConfig: "/srv/other/bedside.yaml", stateDirectory: "/var/lib/bedside"))
        #expect(Regions.path(forConfig: "/srv/site/clinic.yml", stateDirectory: "/s").hasPrefix("/s/regions/clinic-"))
        #expect(Regions.besidePath(forConfig: "/srv/site/clinic.yml") == "/srv/site/clinic.regions.yaml")
    }

    @Test func loadAppliesTheFileBesideTheConfigThenTheStateFolders() throws {
        let dir = NSTemporaryDirectory() + "regions-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.config.write(toFile: dir + "/bedside.yaml", atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: dir + "/bedside.yaml").models[0].input.crop == CropRect(x: 10, y: 20, width: 300, height: 200))
        try "crops:\n  pcbm-demo: {x: 0, y: 0, width: 64, height: 48}\n".write(toFile: dir + "/bedside.regions.yaml", atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: dir + "/bedside.yaml").models[0].input.crop == CropRect(x: 0, y: 0, width: 64, height: 48))
        // The state folder's file (what the editor saved) wins over the one beside the config.
        guard let saved = Regions.path(forConfig: dir + "/bedside.yaml") else { return }
        try FileManager.default.createDirectory(atPath: (saved as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: saved) }
        try "crops:\n  pcbm-demo: {x: 2, y: 2, width: 32, height: 24}\n".write(toFile: saved, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: dir + "/bedside.yaml").models[0].input.crop == CropRect(x: 2, y: 2, width: 32, height: 24))
    }

    @Test func badFilesSayWhatAndHow() {
        let models = ["pcbm-demo"]
        func problem(_ yaml: String) -> ConfigError? {
            do {
                _ = try ConfigLoader.parseRegions(yaml: yaml, file: "bedside.regions.yaml", models: models)
                return nil
            } catch let e as ConfigError { return e } catch { return nil }
        }
        let unknownModel = problem("crops:\n  old-name: {x: 0, y: 0, width: 10, height: 10}\n")
        #expect(unknownModel?.key == "crops.old-name")
        #expect(unknownModel?.fix.contains("delete the file") == true)
        #expect(unknownModel?.line == 2)
        #expect(problem("privacy:\n  masks_by_size:\n    1280x720: [{x: 0, y: 0, width: 0, height: 10}]\n")?.problem == "an empty rectangle")
        #expect(problem("masks: []\n")?.key == "masks")
        #expect(problem("crops:\n  pcbm-demo: null\n") == nil)
    }
}
