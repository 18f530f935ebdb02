import BedsideCore
import Foundation
import Logging
import ModelBridge
import Synchronization
import Testing

/// The model receives exactly the configured region, at the configured size and pixel format.
@Suite("Model input: crop, size and format reach the research code exactly", .serialized)
struct ModelInputTests {
    /// A pattern where every pixel says where it is: R = x, G = y, B = x ^ y (mod 256).
    static func pattern(width: Int, height: Int) -> Frame {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                px[i] = UInt8(x & 0xff)
                px[i + 1] = UInt8(y & 0xff)
                px[i + 2] = UInt8((x ^ y) & 0xff)
            }
        }
        return Frame(
            seq: 0, ptsNanos: Clock.monotonicNanos(), wallClock: 0, width: width, height: height, format: .rgb24, pixels: px)
    }

    func received(input: ModelInput) async throws -> (shape: [Int], pixels: [Int]) {
        let dir = NSTemporaryDirectory() + "bedside-input-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var m = ModelConfig(name: "echo", entry: ModelRunnerTests.repo + "/Tests/e2e/models/echo_pixels.py:predict")
        m.python = ModelRunnerTests.python
        m.input = input
        let got = Mutex<Prediction?>(nil)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let runner = ModelRunner(
            config: m, runtimeDirectory: dir, bridgePath: ModelRunnerTests.repo + "/bridge", logger: logger
        ) { p in got.withLock { $0 = p } }
        let task = Task { try await runner.run() }
        defer { runner.requestStop() }
        var frame = Self.pattern(width: 200, height: 120)
        let start = Date()
        while got.withLock({ $0 }) == nil && Date().timeIntervalSince(start) < 30 {
            frame.seq += 1
            runner.offer(frame)
            try await Task.sleep(for: .milliseconds(50))
        }
        runner.requestStop()
        _ = try? await task.value
        let p = try #require(got.withLock { $0 })
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(p.resultJSON.utf8)) as? [String: Any])
        let extra = try #require(obj["extra"] as? [String: Any])
        return (extra["shape"] as? [Int] ?? [], extra["pixels"] as? [Int] ?? [])
    }

    @Test("an RGB crop at its own size arrives pixel for pixel")
    func rgbCrop() async throws {
        let crop = CropRect(x: 40, y: 20, width: 64, height: 48)
        let (shape, px) = try await received(input: ModelInput(width: 64, height: 48, format: .rgb24, crop: crop))
        #expect(shape == [48, 64, 3])
        var expected: [Int] = []
        for y in 20..<68 { for x in 40..<104 { expected += [x, y, x ^ y] } }
        #expect(px == expected)
    }

    @Test("a crop without a size in `input` arrives at the crop's own size, not stretched to the frame's")
    func cropWithoutSize() async throws {
        let crop = CropRect(x: 40, y: 20, width: 64, height: 48)
        let (shape, px) = try await received(input: ModelInput(format: .rgb24, crop: crop))
        #expect(shape == [48, 64, 3])
        var expected: [Int] = []
        for y in 20..<68 { for x in 40..<104 { expected += [x, y, x ^ y] } }
        #expect(px == expected)
    }

    @Test("BGR swaps the channels for OpenCV-style code")
    func bgr() async throws {
        let crop = CropRect(x: 0, y: 0, width: 16, height: 8)
        let (shape, px) = try await received(input: ModelInput(width: 16, height: 8, format: .bgr24, crop: crop))
        #expect(shape == [8, 16, 3])
        #expect(Array(px.prefix(6)) == [0, 0, 0, 1 ^ 0, 0, 1])
    }

    @Test("a crop scaled down and converted to grey has the requested shape and the region's content")
    func grayScaled() async throws {
        let crop = CropRect(x: 100, y: 40, width: 80, height: 60)
        let (shape, px) = try await received(input: ModelInput(width: 40, height: 30, format: .gray8, crop: crop))
        #expect(shape == [30, 40])
        #expect(px.count == 1200)
        // Luma grows with x and y inside the region: left column darker than right, top darker than bottom.
        let left = (0..<30).map { px[$0 * 40] }.reduce(0, +), right = (0..<30).map { px[$0 * 40 + 39] }.reduce(0, +)
        #expect(right > left)
        let top = px[0..<40].reduce(0, +), bottom = px[29 * 40..<1200].reduce(0, +)
        #expect(bottom > top)
    }
}
