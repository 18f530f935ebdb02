import BedsideCore
import Foundation

/// What the phantom probe shows at one instant: which structures, where, and the truth about it.
///
/// Coordinates are in units of the fan radius, with the fan's apex at (0, 0) and depth growing downwards.
struct PhantomScene: Sendable {
    struct Head: Sendable {
        var cu: Float, cv: Float, a: Float, b: Float, angle: Float
        var midline: Bool, thalami: Bool
    }
    struct Abdomen: Sendable {
        var cu: Float, cv: Float, r: Float
        var stomach: Bool, umbilicalVein: Bool
    }
    struct Femur: Sendable {
        var cu: Float, cv: Float, length: Float, angle: Float
    }
    /// A round anechoic blob (cyst, bladder, a vessel in cross-section) seen between planes.
    struct Blob: Sendable { var cu: Float, cv: Float, r: Float }

    var head: Head?
    var abdomen: Abdomen?
    var femur: Femur?
    var blobs: [Blob] = []
    var truth: GroundTruth

    static let planes = ["head", "abdomen", "femur"]

    /// The probe path: each plane gets a third of the sweep: nothing, entering (close), standard, leaving (close).
    static func at(time t: Double, sweepSeconds: Double) -> PhantomScene {
        let block = sweepSeconds / 3
        let tt = t.truncatingRemainder(dividingBy: sweepSeconds)
        let index = min(2, Int(tt / block))
        let f = Float((tt - Double(index) * block) / block)  // 0..1 within the plane's block
        // slow hand tremor, a few hundredths of the radius
        let wob = Float(sin(t * 1.7)) * 0.012
        let wob2 = Float(cos(t * 1.3)) * 0.010
        let plane = planes[index]
        if f < 0.15 {
            let k = f / 0.15
            return PhantomScene(
                blobs: [Blob(cu: -0.15 + 0.2 * k + wob, cv: 0.5 + wob2, r: 0.05), Blob(cu: 0.18, cv: 0.72 - 0.1 * k, r: 0.03)],
                truth: GroundTruth(plane: "none", status: "unknown"))
        }
        let phase: Int = f < 0.4 ? 0 : (f < 0.8 ? 1 : 2)  // entering, standard, leaving
        let k: Float = phase == 0 ? (f - 0.15) / 0.25 : (phase == 1 ? (f - 0.4) / 0.4 : (f - 0.8) / 0.2)
        var s = PhantomScene(truth: GroundTruth(plane: plane, status: phase == 1 ? "standard" : "close"))
        switch plane {
        case "head":
            switch phase {
            case 0:  // off-axis: smaller skull section, no midline, no thalami
                s.head = Head(cu: -0.06 + 0.05 * k + wob, cv: 0.56 + wob2, a: 0.22, b: 0.17, angle: 0.25, midline: false, thalami: false)
            case 1:
                s.head = Head(cu: wob, cv: 0.55 + wob2, a: 0.28, b: 0.21, angle: 0.05 * Float(sin(t)), midline: true, thalami: true)
            default:  // sliding out of the fan: ellipse cut by the edge, thalami lost
                s.head = Head(cu: 0.14 + 0.22 * k, cv: 0.55 + wob2, a: 0.28, b: 0.21, angle: 0.05, midline: true, thalami: false)
            }
        case "abdomen":
            switch phase {
            case 0:
                s.abdomen = Abdomen(cu: wob, cv: 0.56 + wob2, r: 0.20 + 0.02 * k, stomach: true, umbilicalVein: false)
            case 1:
                s.abdomen = Abdomen(cu: wob, cv: 0.55 + wob2, r: 0.22, stomach: true, umbilicalVein: true)
            default:
                s.abdomen = Abdomen(cu: wob + 0.03 * k, cv: 0.55 + wob2, r: 0.22, stomach: false, umbilicalVein: true)
            }
        default:
            switch phase {
            case 0:  // steep and with one end out of view
                s.femur = Femur(cu: 0.20 - 0.05 * k, cv: 0.55 + wob2, length: 0.36, angle: 0.75 - 0.2 * k)
            case 1:
                s.femur = Femur(cu: wob, cv: 0.55 + wob2, length: 0.34, angle: 0.06 * Float(sin(t * 0.9)))
            default:  // level, but sliding sideways until one end leaves the fan
                s.femur = Femur(cu: 0.22 + 0.15 * k, cv: 0.50 + wob2, length: 0.34, angle: 0.05)
            }
        }
        return s
    }

    /// Echo level (0-255 before speckle) at a point inside the fan.
    @inline(__always)
    func echo(u: Float, v: Float) -> Float {
        var e: Float = 52
        for b in blobs {
            let du = u - b.cu, dv = v - b.cv
            let d2 = du * du + dv * dv
            let inner: Float = b.r * b.r
            let outer: Float = (b.r + 0.01) * (b.r + 0.01)
            if d2 < inner { e = 10 } else if d2 < outer { e = 95 }
        }
        if let h = head {
            let du = u - h.cu, dv = v - h.cv
            let ca = cos(h.angle), sa = sin(h.angle)
            let x = du * ca + dv * sa, y = -du * sa + dv * ca
            let rho = (x / h.a) * (x / h.a) + (y / h.b) * (y / h.b)
            if rho < 1.25 {
                let rr = rho.squareRoot()
                if abs(rr - 1) < 0.05 {
                    e = 235
                } else if rr < 1 {
                    e = 34
                    if h.midline && abs(y) < 0.006 && rr < 0.93 { e = 175 }
                    if h.thalami {
                        for side: Float in [-1, 1] {
                            let tx = (x + 0.02) / 0.045, ty = (y - side * 0.04) / 0.028
                            if tx * tx + ty * ty < 1 { e = 14 }
                        }
                    }
                }
            }
        }
        if let a = abdomen {
            let du = u - a.cu, dv = v - a.cv
            let d = (du * du + dv * dv).squareRoot()
            if d < a.r + 0.02 {
                if abs(d - a.r) < 0.013 {
                    e = 165
                } else if d < a.r {
                    e = 62
                    if a.stomach {
                        let sx = (du + 0.08) / 0.065, sy = (dv + 0.03) / 0.045
                        if sx * sx + sy * sy < 1 { e = 8 }
                    }
                    if a.umbilicalVein {
                        let c: Float = 0.6, s: Float = 0.8
                        let x = (du - 0.06) * c + (dv - 0.04) * s, y = -(du - 0.06) * s + (dv - 0.04) * c
                        let vx = x / 0.06, vy = y / 0.014
                        if vx * vx + vy * vy < 1 { e = 12 }
                    }
                }
            }
        }
        if let f = femur {
            let ca = cos(f.angle), sa = sin(f.angle)
            let du = u - f.cu, dv = v - f.cv
            let along = du * ca + dv * sa, across = -du * sa + dv * ca
            let half = f.length / 2
            if abs(along) <= half && abs(across) < 0.013 {
                e = 240
            } else if abs(along) <= half && across >= 0.013 && across < 0.25 {
                e *= 0.45 + 0.55 * (across / 0.25)  // acoustic shadow behind bone, fading with depth
            } else {
                let a1: Float = along - half
                let a2: Float = along + half
                let c2: Float = across * across
                let endDist: Float = min(a1 * a1 + c2, a2 * a2 + c2)
                if endDist < 0.016 * 0.016 { e = 240 }  // rounded epiphyses
            }
        }
        return e
    }
}
