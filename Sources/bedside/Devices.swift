import ArgumentParser
import CV4L2
import Capture
import Foundation

/// Lists V4L2 capture devices and what they offer, like `v4l2-ctl --list-formats-ext` but readable.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List video capture devices (HDMI capture boxes): inputs, signal, formats and sizes.")

    @Flag(help: "Print JSON for scripts.") var json = false

    /// Capture formats the V4L2 source converts, in its order of preference.
    static let readable = ["YUYV", "NV12", "UYVY", "RGB3", "BGR3", "GREY", "MJPG"]

    func run() throws {
        var report: [[String: Any]] = []
        for node in V4L2Device.nodes() {
            var entry: [String: Any] = ["path": node]
            do {
                let d = try V4L2Device(path: node)
                let c = try d.capabilities()
                guard c.canCapture else { continue }
                entry["card"] = c.card
                entry["driver"] = c.driver
                entry["bus"] = c.busInfo
                entry["inputs"] = d.inputs().map { input -> [String: Any] in
                    var i: [String: Any] = ["index": input.index, "name": input.name, "hdmi": input.hasDVTimings]
                    if input.hasDVTimings {
                        do {
                            let t = try d.incomingTimings()
                            i["signal"] = "\(t.width)x\(t.height)\(t.interlaced ? "i" : "p")\(String(format: "%.4g", t.fps))"
                        } catch let e as V4L2Error {
                            i["signal"] = V4L2Source.signalText(e.errno)
                        } catch {
                            i["signal"] = "\(error)"
                        }
                    }
                    return i
                }
                entry["formats"] = try d.formats().map { fourcc -> [String: Any] in
                    let be = fourcc.hasSuffix("-BE")
                    let chars = Array((be ? String(fourcc.dropLast(3)).padding(toLength: 4, withPad: " ", startingAt: 0) : fourcc).utf8)
                    let code = chars.reversed().reduce(UInt32(0)) { ($0 << 8) | UInt32($1) } | (be ? 0x8000_0000 : 0)
                    return ["fourcc": fourcc, "sizes": d.frameSizes(fourcc: code).map { "\($0.0)x\($0.1)" }]
                }
            } catch {
                entry["error"] = "\(error)"
            }
            report.append(entry)
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if report.isEmpty {
            print("No video capture devices. Plug in the HDMI capture box (it appears as a USB camera) and run this again.")
            return
        }
        for e in report {
            if let err = e["error"] {
                print("\(e["path"]!): \(err)")
                continue
            }
            print("\(e["path"]!): \(e["card"]!)  (driver \(e["driver"]!), \(e["bus"]!))")
            for i in e["inputs"] as? [[String: Any]] ?? [] {
                let kind = (i["hdmi"] as? Bool ?? false) ? "HDMI" : "input"
                print("  \(kind) \(i["index"]!) \"\(i["name"]!)\"\(i["signal"].map { ": \($0)" } ?? "")")
            }
            let formats = e["formats"] as? [[String: Any]] ?? []
            let hdmi = (e["inputs"] as? [[String: Any]] ?? []).contains { $0["hdmi"] as? Bool ?? false }
            let readable = formats.compactMap { $0["fourcc"] as? String }.filter { Self.readable.contains($0) }
            if hdmi {
                print("  formats (size follows the HDMI signal): \(formats.compactMap { $0["fourcc"] as? String }.joined(separator: " "))")
            } else {
                for f in formats {
                    let sizes = f["sizes"] as? [String] ?? []
                    print("  \(f["fourcc"]!)  \(sizes.isEmpty ? "-" : sizes.joined(separator: " "))")
                }
            }
            print("  Bedside reads: \(readable.isEmpty ? "none of these" : readable.joined(separator: " ")) (set `source.format`, or leave it out to use the first)")
        }
    }
}
