import BedsideCore
import Capture
import Testing

@Suite struct FrameScalerTests {
    /// Crops the right half of a two-tone gray frame and halves it: only the right tone remains.
    @Test func cropAndScaleGray8() throws {
        let (w, h) = (64, 48)
        var pixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w { pixels[y * w + x] = x < 32 ? 50 : 200 }
        }
        let frame = Frame(seq: 7, ptsNanos: 123, wallClock: 1, width: w, height: h, format: .gray8, pixels: pixels)
        let scaler = FrameScaler(width: 16, height: 24, format: .gray8, crop: CropRect(x: 32, y: 0, width: 32, height: 48))
        let out = try scaler.scale(frame)
        #expect(out.width == 16 && out.height == 24 && out.format == .gray8)
        #expect(out.pixels.count == 16 * 24)
        #expect(out.seq == 7 && out.ptsNanos == 123)
        #expect(out.pixels.allSatisfy { abs(Int($0) - 200) <= 2 }, "\(Set(out.pixels))")

        // Without a crop, both tones survive on their sides.
        let whole = try FrameScaler(width: 32, height: 24, format: .gray8).scale(frame)
        #expect(abs(Int(whole.pixels[5 * 32 + 2]) - 50) <= 2)
        #expect(abs(Int(whole.pixels[5 * 32 + 29]) - 200) <= 2)
    }

    /// BT.601 video-range red (Y 81, U 90, V 240) becomes RGB close to (255, 0, 0).
    @Test func yuv420pToRgb24() throws {
        let (w, h) = (64, 48)
        let ySize = w * h, cSize = (w / 2) * (h / 2)
        let pixels =
            [UInt8](repeating: 81, count: ySize) + [UInt8](repeating: 90, count: cSize)
            + [UInt8](repeating: 240, count: cSize)
        let frame = Frame(seq: 0, ptsNanos: 0, wallClock: 0, width: w, height: h, format: .yuv420p, pixels: pixels)
        let scaler = FrameScaler(width: 32, height: 32, format: .rgb24, crop: CropRect(x: 8, y: 8, width: 40, height: 30))
        #expect(scaler.outputByteCount == 32 * 32 * 3)
        let out = try scaler.scale(frame)
        #expect(out.width == 32 && out.height == 32 && out.format == .rgb24)
        #expect(out.pixels.count == 32 * 32 * 3)
        for i in stride(from: 0, to: out.pixels.count, by: 3) {
            let (r, g, b) = (out.pixels[i], out.pixels[i + 1], out.pixels[i + 2])
            guard r > 235, g < 25, b < 25 else {
                Issue.record("pixel \(i / 3) is (\(r), \(g), \(b)), expected red")
                return
            }
        }
    }
}
