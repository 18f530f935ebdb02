import BedsideCore
import Foundation

/// Draws an ultrasound-like gray8 screen: UI text, a speckled fan, and the scene of the moment.
///
/// Geometry and speckle are precomputed once; a frame costs one pass over the fan.
public final class PhantomRenderer: Sendable {
    public let width: Int
    public let height: Int
    public let sweepSeconds: Double
    let apexX: Float, apexY: Float, radius: Float
    /// Per pixel: depth gain 1...255 inside the fan, 0 outside.
    let gain: [UInt8]
    /// Rayleigh-distributed speckle, mean ~128, larger than a frame so each frame reads at an offset.
    let speckle: [UInt8]
    /// First and last fan column per row (for a tighter loop).
    let rowSpan: [(Int, Int)]
    static let halfAngle: Float = 0.62

    public init(width: Int, height: Int, sweepSeconds: Double = 24) {
        self.width = width
        self.height = height
        self.sweepSeconds = sweepSeconds
        apexX = Float(width) / 2
        apexY = Float(height) * 0.10
        radius = Float(height) * 0.86
        var g = [UInt8](repeating: 0, count: width * height)
        var spans = [(Int, Int)](repeating: (0, -1), count: height)
        for y in 0..<height {
            var lo = width, hi = -1
            for x in 0..<width {
                let dx = Float(x) - apexX, dy = Float(y) - apexY
                let r = (dx * dx + dy * dy).squareRoot()
                guard dy > 0, r > radius * 0.05, r < radius else { continue }
                let theta = atan2f(dx, dy)
                guard abs(theta) < Self.halfAngle else { continue }
                let depth = r / radius
                let edge = min(1, (Self.halfAngle - abs(theta)) * 40)
                g[y * width + x] = UInt8(max(1, min(255, 255 * (1 - 0.45 * depth) * edge)))
                lo = min(lo, x)
                hi = max(hi, x)
            }
            spans[y] = (lo, hi)
        }
        gain = g
        rowSpan = spans
        var rng = SplitMix64(seed: 0x5eed)
        var sp = [UInt8](repeating: 0, count: width * height + 65_536)
        for i in sp.indices {
            // Rayleigh: sqrt(-2 ln U), scaled so the mean is ~128
            let u = max(1e-7, Float(rng.next() >> 40) / Float(1 << 24))
            sp[i] = UInt8(min(255, 102 * (-2 * logf(u)).squareRoot()))
        }
        speckle = sp
    }

    /// Renders frame `index` at scan time `t` seconds; returns the pixels and the truth.
    public func render(time t: Double, index: UInt64, clockText: String = "") -> ([UInt8], GroundTruth) {
        let scene = PhantomScene.at(time: t, sweepSeconds: sweepSeconds)
        var buf = [UInt8](repeating: 6, count: width * height)
        let offset = Int(index % 60_000)  // speckle drifts a pixel a frame, as with a moving probe
        let inv = 1 / radius
        gain.withUnsafeBufferPointer { g in
            speckle.withUnsafeBufferPointer { sp in
                buf.withUnsafeMutableBufferPointer { out in
                    for y in 0..<height {
                        let (lo, hi) = rowSpan[y]
                        guard lo <= hi else { continue }
                        let v = (Float(y) - apexY) * inv
                        let row = y * width
                        for x in lo...hi {
                            let gv = g[row + x]
                            if gv == 0 { continue }
                            let u = (Float(x) - apexX) * inv
                            let e = scene.echo(u: u, v: v)
                            let s = Float(sp[row + x + offset])
                            let val = e * s * Float(gv) * (1.0 / (128 * 255))
                            out[row + x] = UInt8(min(255, val))
                        }
                    }
                }
            }
        }
        drawUI(into: &buf, clockText: clockText)
        return (buf, scene.truth)
    }

    func drawUI(into buf: inout [UInt8], clockText: String) {
        let scale = max(1, height / 360)
        let line = 9 * scale
        // A fake patient banner, as scanners burn it into the HDMI output.
        for y in 0..<min(height, line + 4 * scale) { for x in 0..<width { buf[y * width + x] = 28 } }
        BitmapFont.draw(
            "PATIENT: DOE^JANE  ID: 0012345  DOB: 1990-01-01", into: &buf, width: width, height: height,
            x: 4 * scale, y: 2 * scale, scale: scale, value: 230)
        BitmapFont.draw(
            "BEDSIDE PHANTOM  \(clockText)", into: &buf, width: width, height: height,
            x: width - 36 * 6 * scale, y: 2 * scale, scale: scale, value: 200)
        let left = 4 * scale
        var y = 3 * line
        for text in ["OB 2D", "C5-1", "GA 20W3D", "GAIN 55%", "DR 60", "FR 30"] {
            BitmapFont.draw(text, into: &buf, width: width, height: height, x: left, y: y, scale: scale, value: 170)
            y += line + 2 * scale
        }
        // depth scale beside the fan, one tick per cm (14 cm)
        let tickX = Int(apexX + radius * sin(Self.halfAngle)) + 12 * scale
        for cm in 0...14 {
            let ty = Int(apexY + radius * Float(cm) / 14)
            guard ty < height else { break }
            let len = cm % 5 == 0 ? 6 * scale : 3 * scale
            for x in tickX..<min(width, tickX + len) { buf[ty * width + x] = 200 }
            if cm % 5 == 0 {
                BitmapFont.draw(
                    "\(cm)", into: &buf, width: width, height: height, x: tickX + 8 * scale, y: ty - 3 * scale,
                    scale: scale, value: 200)
            }
        }
    }
}

/// A small, fast, deterministic PRNG (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
