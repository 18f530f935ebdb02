import BedsideCore
import Foundation

/// One V4L2 capture device as `bedside devices` lists it (and prints as JSON with `--json`).
public struct DeviceReport: Codable, Sendable, Equatable {
    public struct Input: Codable, Sendable, Equatable {
        public var index: Int
        public var name: String
        /// An HDMI input (it has DV timings): its size follows the signal.
        public var hdmi: Bool
        /// The incoming signal (`1920x1080p60`) or why there is none; nil for a non-HDMI input.
        public var signal: String?
    }

    public struct Format: Codable, Sendable, Equatable {
        public var fourcc: String
        public var sizes: [String]
    }

    public var path: String
    public var card: String?
    public var driver: String?
    public var bus: String?
    public var inputs: [Input]?
    public var formats: [Format]?
    /// Why the device could not be read (busy, permissions).
    public var error: String?

    /// Capture formats the V4L2 source converts, in its order of preference.
    public static let readable = ["YUYV", "NV12", "UYVY", "RGB3", "BGR3", "GREY", "MJPG"]

    /// Every capture device on this machine (output-only nodes are left out).
    public static func scan() -> [DeviceReport] {
        var report: [DeviceReport] = []
        for node in V4L2Device.nodes() {
            var entry = DeviceReport(path: node)
            do {
                let d = try V4L2Device(path: node)
                let c = try d.capabilities()
                guard c.canCapture else { continue }
                entry.card = c.card
                entry.driver = c.driver
                entry.bus = c.busInfo
                entry.inputs = d.inputs().map { input in
                    var i = Input(index: Int(input.index), name: input.name, hdmi: input.hasDVTimings)
                    if input.hasDVTimings {
                        do {
                            let t = try d.incomingTimings()
                            i.signal = "\(t.width)x\(t.height)\(t.interlaced ? "i" : "p")\(String(format: "%.4g", t.fps))"
                        } catch let e as V4L2Error {
                            i.signal = V4L2Source.signalText(e.errno)
                        } catch {
                            i.signal = "\(error)"
                        }
                    }
                    return i
                }
                entry.formats = try d.formats().map { fourcc in
                    let be = fourcc.hasSuffix("-BE")
                    let chars = Array((be ? String(fourcc.dropLast(3)).padding(toLength: 4, withPad: " ", startingAt: 0) : fourcc).utf8)
                    let code = chars.reversed().reduce(UInt32(0)) { ($0 << 8) | UInt32($1) } | (be ? 0x8000_0000 : 0)
                    return Format(fourcc: fourcc, sizes: d.frameSizes(fourcc: code).map { "\($0.0)x\($0.1)" })
                }
            } catch {
                entry.error = "\(error)"
            }
            report.append(entry)
        }
        return report
    }

    /// The readable lines `bedside devices` prints for this device.
    public var lines: [String] {
        if let error { return ["\(path): \(error)"] }
        var out = ["\(path): \(card ?? "?")  (driver \(driver ?? "?"), \(bus ?? "?"))"]
        for i in inputs ?? [] {
            out.append("  \(i.hdmi ? "HDMI" : "input") \(i.index) \"\(i.name)\"\(i.signal.map { ": \($0)" } ?? "")")
        }
        let formats = formats ?? []
        let readable = formats.map(\.fourcc).filter { Self.readable.contains($0) }
        if (inputs ?? []).contains(where: \.hdmi) {
            out.append("  formats (size follows the HDMI signal): \(formats.map(\.fourcc).joined(separator: " "))")
        } else {
            for f in formats { out.append("  \(f.fourcc)  \(f.sizes.isEmpty ? "-" : f.sizes.joined(separator: " "))") }
        }
        out.append(
            "  Bedside reads: \(readable.isEmpty ? "none of these" : readable.joined(separator: " ")) (set `source.format`, or leave it out to use the first)")
        return out
    }

    init(path: String) { self.path = path }
}
