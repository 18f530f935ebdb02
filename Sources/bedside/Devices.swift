import ArgumentParser
import BedsideCore
import Capture

/// Lists V4L2 capture devices and what they offer, like `v4l2-ctl --list-formats-ext` but readable.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List video capture devices (HDMI capture boxes): inputs, signal, formats and sizes.")

    @Flag(help: "Print JSON for scripts.") var json = false

    func run() throws {
        let report = DeviceReport.scan()
        if json {
            print(String(decoding: try JSONWire.data(report, pretty: true), as: UTF8.self))
        } else if report.isEmpty {
            print("No video capture devices. Plug in the HDMI capture box (it appears as a USB camera) and run this again.")
        } else {
            for device in report { print(device.lines.joined(separator: "\n")) }
        }
    }
}
