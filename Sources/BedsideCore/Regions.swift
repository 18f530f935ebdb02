import Foundation
import Yams

/// What the admin's region editor saved: privacy masks per input size and models' crops. They belong to the
/// site (the clinic's device screen), not to the research repo or the install folder, so they are kept in
/// Bedside's state folder, one file per config (`<state>/regions/<stem>-<hash of the config's path>.regions.yaml`),
/// and the config and its comments stay as written. Applied on top of the config at every start; a
/// `<config>.regions.yaml` beside the config (an older Bedside saved there, or placed by hand) is applied first.
/// Delete the file to go back to the config's regions.
public struct Regions: Sendable, Equatable {
    /// Masks per input size ("1280x720"); each replaces the config's masks for that size.
    public var masksBySize: [String: [CropRect]] = [:]
    /// Model name -> its crop in source pixels; nil means the whole frame.
    public var crops: [String: CropRect?] = [:]

    public init(masksBySize: [String: [CropRect]] = [:], crops: [String: CropRect?] = [:]) {
        self.masksBySize = masksBySize
        self.crops = crops
    }

    public var isEmpty: Bool { masksBySize.isEmpty && crops.isEmpty }

    /// `dir/name.yaml` -> `dir/name.regions.yaml`: beside the config (read, never written).
    public static func besidePath(forConfig config: String) -> String {
        let url = URL(fileURLWithPath: config)
        let stem = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent("\(stem).regions.yaml").path
    }

    /// Where the region editor saves for `config`: `<state>/regions/<stem>-<16 hex digits>.regions.yaml`, the
    /// digits a hash of the config's absolute path (two configs named alike in two folders do not share).
    public static func path(forConfig config: String, stateDirectory: String) -> String {
        let absolute = URL(fileURLWithPath: config).standardizedFileURL.path
        let stem = URL(fileURLWithPath: absolute).deletingPathExtension().lastPathComponent
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs and machines (Hasher is not)
        for b in absolute.utf8 {
            hash ^= UInt64(b)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "\(stateDirectory)/regions/\(stem)-\(String(repeating: "0", count: 16 - hex.count) + hex).regions.yaml"
    }

    /// The state folder's file for `config`, or nil without a state folder.
    public static func path(forConfig config: String) -> String? {
        BedsideSetup.stateDirectory().map { path(forConfig: config, stateDirectory: $0) }
    }

    /// This file's regions laid over `config` (later saves win; the config's other settings are untouched).
    public func apply(to config: inout BedsideConfig) {
        for (size, rects) in masksBySize { config.privacy.bySize[size] = rects }
        for i in config.models.indices {
            if let crop = crops[config.models[i].name] { config.models[i].input.crop = crop }
        }
    }

    /// `other`'s entries replace this one's.
    public func merged(with other: Regions) -> Regions {
        var r = self
        for (k, v) in other.masksBySize { r.masksBySize[k] = v }
        for (k, v) in other.crops { r.crops[k] = v }
        return r
    }

    /// The file's text: YAML that `ConfigLoader.parseRegions` reads back.
    public func yaml(configFile: String, savedAt: String) -> String {
        func rect(_ r: CropRect) -> String { "{x: \(r.x), y: \(r.y), width: \(r.width), height: \(r.height)}" }
        var out = """
            # Written by Bedside's region editor (admin page) at \(savedAt).
            # Laid over \((configFile as NSString).lastPathComponent) at every start: these masks and crops win over the config's.
            # Delete this file to go back to the config's regions.

            """
        if !masksBySize.isEmpty {
            out += "privacy:\n  masks_by_size:\n"
            for size in masksBySize.keys.sorted() {
                out += "    \"\(size)\": [\(masksBySize[size]!.map(rect).joined(separator: ", "))]\n"
            }
        }
        if !crops.isEmpty {
            out += "crops:\n"
            for name in crops.keys.sorted() {
                let quoted = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                out += "  \(quoted): \(crops[name]!.map { rect($0) } ?? "null")\n"
            }
        }
        return out
    }
}

extension ConfigLoader {
    /// Reads a regions file (see `Regions`), with the same clear errors as the config.
    public static func parseRegions(yaml: String, file: String, models: [String]) throws -> Regions {
        let root = try compose(yaml, file: file, fix: "Fix it, or delete the file to go back to the config's masks and crops.")
        var regions = Regions()
        guard let root else { return regions }
        let r = Reader(file: file, base: ".")
        let top = try r.mapping(root, "(top level)", allowed: ["privacy", "crops"])
        if let p = top["privacy"] {
            let pm = try r.mapping(p, "privacy", allowed: ["masks_by_size"])
            if pm["masks_by_size"] != nil {
                regions.masksBySize = try r.privacy(p).bySize
            }
        }
        if let c = top["crops"] {
            guard case .mapping(let cm) = c else {
                throw r.error(c, "crops", "must map model names to rectangles", "Write e.g. `crops: {my-model: {x: 0, y: 60, width: 1280, height: 600}}`.")
            }
            for (k, v) in cm {
                let name = try r.string(k, "crops")
                guard models.contains(name) else {
                    throw r.error(
                        k, "crops.\(name)", "there is no model named `\(name)` in the config",
                        "Remove this line (the model was renamed or removed), or delete the file.")
                }
                if case .scalar(let s) = v, ["null", "~", ""].contains(s.string) {
                    regions.crops[name] = .some(nil)
                } else {
                    regions.crops[name] = .some(try r.rect(v, "crops.\(name)"))
                }
            }
        }
        return regions
    }
}
