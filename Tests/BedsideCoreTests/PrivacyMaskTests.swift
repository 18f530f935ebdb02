import BedsideCore
import Testing

@Suite("Privacy masks: black at the capture edge, in every capture format")
struct PrivacyMaskTests {
    func frame(_ format: PixelFormat, _ w: Int = 8, _ h: Int = 4) -> Frame {
        Frame(
            seq: 0, ptsNanos: 0, wallClock: 0, width: w, height: h, format: format,
            pixels: [UInt8](repeating: 200, count: format.byteCount(width: w, height: h)))
    }

    let mask = PrivacyMask(rects: [CropRect(x: 1, y: 0, width: 3, height: 2)])

    @Test("grey and RGB: exactly the rectangle is 0, clipped to the frame")
    func greyAndRGB() {
        var g = frame(.gray8)
        mask.apply(to: &g)
        for y in 0..<4 { for x in 0..<8 { #expect(g.pixels[y * 8 + x] == ((1...3).contains(x) && y < 2 ? 0 : 200)) } }
        var rgb = frame(.rgb24)
        PrivacyMask(rects: [CropRect(x: 6, y: 3, width: 50, height: 50)]).apply(to: &rgb)
        #expect(rgb.pixels[(3 * 8 + 7) * 3 + 2] == 0 && rgb.pixels[(3 * 8 + 5) * 3] == 200)
    }

    @Test("YUYV and UYVY: black luma and neutral chroma, widened to whole pixel pairs")
    func packedYUV() {
        for format in [PixelFormat.yuyv422, .uyvy422] {
            var f = frame(format)
            mask.apply(to: &f)
            let yAt = format == .yuyv422 ? 0 : 1
            // x 1..3 becomes pairs 0-1 and 2-3
            for x in 0..<4 { #expect(f.pixels[x * 2 + yAt] == 16, "\(format) luma at \(x)") }
            #expect(f.pixels[4 * 2 + yAt] == 200)
            #expect(f.pixels[(2 * 8) * 2 + yAt] == 200, "row 2 untouched")
            #expect(f.pixels[1 - yAt] == 128, "chroma neutral")
        }
    }

    @Test("NV12 and YUV 4:2:0: luma rectangle and the chroma samples it covers")
    func planarYUV() {
        for format in [PixelFormat.nv12, .yuv420p] {
            var f = frame(format)
            mask.apply(to: &f)
            #expect(f.pixels[1] == 16 && f.pixels[3] == 16 && f.pixels[0] == 200 && f.pixels[4] == 200)
            #expect(f.pixels[8 + 1] == 16 && f.pixels[2 * 8 + 1] == 200)
            let chroma = 8 * 4
            #expect(f.pixels[chroma] == 128, "\(format): chroma of the masked area neutral")
            #expect(f.pixels.suffix(1) == [200], "\(format): chroma outside untouched")
        }
    }

    @Test("a mask for the input size wins over the general one")
    func bySize() {
        let m = PrivacyMask(rects: [CropRect(x: 0, y: 0, width: 1, height: 1)], bySize: ["8x4": [CropRect(x: 7, y: 3, width: 1, height: 1)]])
        var f = frame(.gray8)
        m.apply(to: &f)
        #expect(f.pixels[0] == 200 && f.pixels[31] == 0)
        #expect(m.rects(width: 640, height: 480) == [CropRect(x: 0, y: 0, width: 1, height: 1)])
    }

    @Test("config: masks and masks by size are read; a bad size names the key")
    func config() throws {
        let c = try ConfigLoader.parse(
            yaml: "privacy:\n  masks: [{x: 0, y: 0, width: 100, height: 20}]\n  masks_by_size: {1920x1080: [{x: 0, y: 0, width: 1920, height: 40}]}\n")
        #expect(c.privacy.rects == [CropRect(x: 0, y: 0, width: 100, height: 20)])
        #expect(c.privacy.bySize["1920x1080"] == [CropRect(x: 0, y: 0, width: 1920, height: 40)])
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "privacy: {masks_by_size: {big: []}}\n") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "privacy: {masks: [{x: 0, y: 0, width: 0, height: 5}]}\n") }
    }
}
