/// Rectangles of the scanner's screen (in source pixels) filled black at the capture edge, once per frame,
/// before the frame reaches the recorder, snapshots, the tablets or any model: the patient banner burned into
/// the HDMI output never leaves the capture stage.
///
/// Masks may depend on the input size (a scanner preset can change the layout): `bySize["1920x1080"]` wins
/// over `rects` for frames of that size.
public struct PrivacyMask: Sendable, Equatable {
    public var rects: [CropRect]
    public var bySize: [String: [CropRect]]
    /// `privacy.allow_unmasked`: record and snapshot frames no mask covers. Off by default: an unmasked frame
    /// pauses recording (with an alert) instead of writing the patient banner to disk.
    public var allowUnmasked = false

    public init(rects: [CropRect] = [], bySize: [String: [CropRect]] = [:]) {
        self.rects = rects
        self.bySize = bySize
    }

    public var isEmpty: Bool { rects.isEmpty && bySize.isEmpty }

    public func rects(width: Int, height: Int) -> [CropRect] {
        bySize["\(width)x\(height)"] ?? rects
    }

    /// Fills the masked regions with black in the frame's own format (Y 16 / chroma 128 for YUV; 0 for grey
    /// and RGB). Rectangles are clipped to the frame; for subsampled chroma they are widened to whole pairs.
    public func apply(to frame: inout Frame) {
        let list = rects(width: frame.width, height: frame.height)
        guard !list.isEmpty else { return }
        let w = frame.width, h = frame.height
        frame.pixels.withUnsafeMutableBufferPointer { p in
            for r in list {
                var x0 = max(0, r.x), y0 = max(0, r.y)
                var x1 = min(w, r.x + r.width), y1 = min(h, r.y + r.height)
                guard x0 < x1, y0 < y1 else { continue }
                switch frame.format {
                case .gray8:
                    for y in y0..<y1 { for x in x0..<x1 { p[y * w + x] = 0 } }
                case .rgb24, .bgr24:
                    for y in y0..<y1 { for i in (y * w + x0) * 3..<(y * w + x1) * 3 { p[i] = 0 } }
                case .yuyv422, .uyvy422:
                    x0 &= ~1
                    x1 = min(w, (x1 + 1) & ~1)
                    let (yOff, cOff) = frame.format == .yuyv422 ? (0, 1) : (1, 0)
                    for y in y0..<y1 {
                        for x in stride(from: x0, to: x1, by: 2) {
                            let base = (y * w + x) * 2
                            p[base + yOff] = 16
                            p[base + yOff + 2] = 16
                            p[base + cOff] = 128
                            p[base + cOff + 2] = 128
                        }
                    }
                case .nv12, .yuv420p:
                    for y in y0..<y1 { for x in x0..<x1 { p[y * w + x] = 16 } }
                    x0 /= 2
                    y0 /= 2
                    x1 = (x1 + 1) / 2
                    y1 = (y1 + 1) / 2
                    let cw = (w + 1) / 2, ch = (h + 1) / 2
                    if frame.format == .nv12 {
                        for y in y0..<min(y1, ch) { for x in x0..<min(x1, cw) { p[w * h + y * cw * 2 + x * 2] = 128; p[w * h + y * cw * 2 + x * 2 + 1] = 128 } }
                    } else {
                        for plane in 0..<2 {
                            let base = w * h + plane * cw * ch
                            for y in y0..<min(y1, ch) { for x in x0..<min(x1, cw) { p[base + y * cw + x] = 128 } }
                        }
                    }
                }
            }
        }
    }
}
