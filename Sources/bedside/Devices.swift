import ArgumentParser
import Capture

/// Lists V4L2 capture devices and what they offer.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List video capture devices (HDMI capture boxes) and their formats.")

    func run() throws {
        let nodes = V4L2Device.nodes()
        if nodes.isEmpty {
            print("No /dev/video* devices. Plug in the HDMI capture box (it appears as a USB camera) and run this again.")
            return
        }
        for node in nodes {
            do {
                let d = try V4L2Device(path: node)
                let c = try d.capabilities()
                guard c.canCapture else { continue }
                print("\(node): \(c.card) (\(c.driver), \(c.busInfo))")
                print("  formats: \(try d.formats().joined(separator: ", "))")
            } catch {
                print("\(node): \(error)")
            }
        }
    }
}
