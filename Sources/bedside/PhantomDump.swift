import ArgumentParser
import BedsideCore
import Bench
import Capture
import Foundation

/// Writes phantom frames with their ground truth: test data for models, no clock involved.
struct PhantomDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Write phantom frames (PGM) and their ground truth (truth.jsonl) to a folder.")

    @Option(help: "Output folder.") var out: String
    @Option(help: "Number of frames to write.") var count = 100
    @Option(help: "Scan seconds between written frames.") var step = 0.25
    @Option(help: "Screen size WIDTHxHEIGHT.") var size = "1280x720"
    @Option(help: "Seconds for one sweep through all planes.") var sweep = 24.0
    @Option(help: "Scale to the model's input WIDTHxHEIGHT (after --crop), as Bedside hands it to a model.")
    var modelSize: String?
    @Option(help: "Crop X,Y,W,H in screen pixels before scaling.") var crop: String?

    func run() throws {
        let (w, h) = try sizeOption(size)
        let renderer = PhantomRenderer(width: w, height: h, sweepSeconds: sweep)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var scaler: FrameScaler?
        if let modelSize {
            let (mw, mh) = try sizeOption(modelSize)
            var rect: CropRect?
            if let crop {
                let v = crop.split(separator: ",").compactMap { Int($0) }
                guard v.count == 4 else { throw ValidationError("--crop takes X,Y,W,H") }
                rect = CropRect(x: v[0], y: v[1], width: v[2], height: v[3])
            }
            scaler = FrameScaler(width: mw, height: mh, format: .gray8, crop: rect)
        }
        var truthLines = ""
        for i in 0..<count {
            let t = Double(i) * step
            let (pixels, truth) = renderer.render(time: t, index: UInt64(i))
            var frame = Frame(
                seq: UInt64(i), ptsNanos: UInt64(t * 1e9), wallClock: 0, width: w, height: h, format: .gray8,
                pixels: pixels, truth: truth)
            if let scaler { frame = try scaler.scale(frame) }
            let name = String(format: "frame%05d.pgm", i)
            var data = Data("P5\n\(frame.width) \(frame.height)\n255\n".utf8)
            data.append(contentsOf: frame.pixels)
            try data.write(to: URL(fileURLWithPath: out).appendingPathComponent(name))
            truthLines += "{\"file\":\"\(name)\",\"time\":\(t),\"plane\":\"\(truth.plane)\",\"status\":\"\(truth.status)\"}\n"
        }
        try truthLines.write(toFile: (out as NSString).appendingPathComponent("truth.jsonl"), atomically: true, encoding: .utf8)
        print("wrote \(count) frames to \(out)")
    }
}

/// A `--size` option: `1280x720`, else a usage error naming the form.
func sizeOption(_ s: String) throws -> (Int, Int) {
    do { return try parseSize(s) } catch { throw ValidationError("\(error)") }
}
