import BedsideCore
import CV4L2
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Captures from a V4L2 device (a USB HDMI capture box), surviving signal loss, unplugging and mode changes.
///
/// Runs on its own thread. Only the newest ready buffer is used; older ones go straight back to the driver.
public final class V4L2Source: FrameSource, Sendable {
    public let config: SourceConfig
    let logger: Logger
    let healthBox = Mutex(SourceHealth(state: "connecting"))
    let fpsBox = Mutex<Double>(0)
    let knownCard = Mutex<String?>(nil)

    public init(config: SourceConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public var description: String { "v4l2 \(config.device)" }
    public var nominalFPS: Double {
        let f = fpsBox.withLock { $0 }
        return f > 0 ? f : config.fps
    }
    public var health: SourceHealth { healthBox.withLock { $0 } }

    public func run(emit: @escaping @Sendable (Frame) -> Void) async throws {
        let stop = StopFlag()
        await DedicatedThread.run(name: "v4l2", stop: { stop.set() }) { self.captureLoop(stop: stop, emit: emit) }
        try Task.checkCancellation()
    }

    /// Formats in order of preference when the config names none: uncompressed first (no decode cost).
    static let preference: [(name: String, fourcc: UInt32, format: PixelFormat?)] = [
        ("yuyv", bedside_V4L2_PIX_FMT_YUYV, .yuyv422), ("nv12", bedside_V4L2_PIX_FMT_NV12, .nv12),
        ("uyvy", bedside_V4L2_PIX_FMT_UYVY, .uyvy422), ("rgb24", bedside_V4L2_PIX_FMT_RGB24, .rgb24),
        ("bgr24", bedside_V4L2_PIX_FMT_BGR24, .bgr24), ("grey", bedside_V4L2_PIX_FMT_GREY, .gray8),
        ("mjpeg", bedside_V4L2_PIX_FMT_MJPEG, nil),
    ]

    static func canonical(_ name: String) -> String {
        switch name {
        case "gray": "grey"
        case "mjpg": "mjpeg"
        default: name
        }
    }

    func setHealth(_ link: CaptureLinkStateMachine, mode: String? = nil) {
        let (state, detail) = link.summary
        healthBox.withLock {
            $0.state = state
            $0.detail = detail
            if let mode { $0.mode = mode }
            $0.renegotiations = link.renegotiations
        }
    }

    private func captureLoop(stop: StopFlag, emit: (Frame) -> Void) {
        var link = CaptureLinkStateMachine()
        var seq: UInt64 = 0
        var lastReported = ""
        while !stop.isSet {
            var action = CaptureLinkStateMachine.Action.reopen(after: 1)
            do {
                action = try session(stop: stop, link: &link, seq: &seq, emit: emit)
            } catch let e as V4L2Error {
                switch e.errno {
                case ENOLINK, ENOLCK, ERANGE:
                    action = link.signalLost(Self.signalText(e.errno))
                case EBUSY:
                    action = link.deviceBusy(e.description)
                default:
                    action = link.deviceLost(e.description)
                }
            } catch {
                action = link.deviceLost("\(error)")
            }
            setHealth(link)
            let s = "\(link.summary)"
            if s != lastReported {
                logger.warning("capture \(config.device): \(link.summary.state)\(link.summary.detail.map { ": \($0)" } ?? "")")
                lastReported = s
            }
            if case .reopen(let after) = action {
                let until = Clock.monotonicNanos() + UInt64(after * 1e9)
                while !stop.isSet && Clock.monotonicNanos() < until { usleep(20_000) }
            }
        }
    }

    public static func signalText(_ e: Int32) -> String {
        switch e {
        case ENOLINK: "no signal on the HDMI input (cable unplugged or scanner off)"
        case ENOLCK: "the HDMI signal is unstable (no lock)"
        case ERANGE: "the HDMI signal is out of the capture box's range"
        default: SystemError.text(e)
        }
    }

    /// Opens the configured device: its path (or by-id link); failing that, a /dev/video* whose card name is the
    /// configured name or the card seen before (the box was replugged and came back as another node).
    func openDevice() throws -> V4L2Device {
        do {
            return try V4L2Device(path: config.device)
        } catch let e as V4L2Error where e.errno == ENOENT || e.errno == ENODEV {
            let names = [config.device] + [knownCard.withLock { $0 }].compactMap { $0 }
            for node in V4L2Device.nodes() where node != config.device {
                if let d = try? V4L2Device(path: node), let c = try? d.capabilities(), c.canCapture, names.contains(c.card) {
                    logger.info("capture: \(config.device) is gone; using \(node) (\(c.card))")
                    return d
                }
            }
            throw e
        }
    }

    /// One open-negotiate-stream cycle; returns what to do when it ends.
    private func session(
        stop: StopFlag, link: inout CaptureLinkStateMachine, seq: inout UInt64, emit: (Frame) -> Void
    ) throws -> CaptureLinkStateMachine.Action {
        let dev = try openDevice()
        let caps = try dev.capabilities()
        knownCard.withLock { $0 = caps.card }
        guard caps.canCapture, caps.canStream else {
            return link.deviceLost("\(dev.path) (\(caps.card)) cannot stream video capture")
        }
        var width = config.width, height = config.height, fps = config.fps
        if let hdmi = dev.inputs().first, hdmi.hasDVTimings {
            let t = try dev.applyIncomingTimings()
            width = t.width
            height = t.height
            fps = t.fps
        }
        dev.subscribeSourceChange()
        let offered = try dev.formats()
        let wanted = config.format.map { Self.canonical($0) }
        let candidates = Self.preference.filter { p in
            (wanted == nil || p.name == wanted) && offered.contains(V4L2Device.fourcc(p.fourcc))
        }
        guard let choice = candidates.first else {
            return link.deviceLost(
                "\(dev.path) (\(caps.card)) does not offer \(wanted ?? "a format Bedside reads"); it offers \(offered.joined(separator: ", "))"
            )
        }
        let fmt = try dev.setFormat(fourcc: choice.fourcc, width: width, height: height)
        guard fmt.width >= 2, fmt.height >= 2, fmt.width <= 16384, fmt.height <= 16384 else {
            return link.signalLost("the capture box reports a \(fmt.width)x\(fmt.height) picture")
        }
        if fps > 0 && fps <= 1000 { dev.setFrameRate(fps) }
        fpsBox.withLock { $0 = fps }
        let stream = try V4L2Stream(device: dev)
        let mode = "\(fmt.fourcc) \(fmt.width)x\(fmt.height)@\(String(format: "%.4g", fps))"
        logger.info("capturing \(dev.path) (\(caps.card)): \(mode)")
        setHealth(link, mode: mode)
        let decoder = choice.format == nil ? try MJPEGDecoder() : nil
        var lastFrame = Clock.monotonicNanos()
        while !stop.isSet {
            let (ready, event) = try dev.wait(timeoutMs: 200)
            if event && dev.dequeueSourceChange() {
                logger.info("capture \(dev.path): the source changed; renegotiating")
                return link.sourceChanged()
            }
            if ready, let b = try stream.dequeueNewest() {
                defer { try? stream.queue(b.index) }
                let now = Clock.monotonicNanos()
                let pts = b.timestampNanos.map { min($0, now) } ?? now
                let bytes = stream.bytes(of: b)
                let frame: Frame
                if let decoder {
                    guard let (pixels, w, h) = try? decoder.decode(bytes), w >= 2, h >= 2 else { continue }  // a torn JPEG: skip it
                    frame = Frame(seq: seq, ptsNanos: pts, wallClock: Clock.wallSeconds(), width: w, height: h, format: .yuv420p, pixels: pixels)
                } else {
                    let pf = choice.format!
                    frame = Frame(
                        seq: seq, ptsNanos: pts, wallClock: Clock.wallSeconds(), width: fmt.width, height: fmt.height,
                        format: pf, pixels: Self.repack(bytes, format: pf, width: fmt.width, height: fmt.height, bytesPerLine: fmt.bytesPerLine))
                }
                seq += 1
                lastFrame = now
                let wasStreaming = link.state == .streaming
                link.frameArrived()
                if !wasStreaming { setHealth(link, mode: mode) }
                emit(frame)
            } else {
                let idle = Double(Clock.monotonicNanos() - lastFrame) / 1e9
                if case .reopen(let after) = link.idle(for: idle) {
                    // A driver that stalls without an error: reopen; the next DV-timings query tells why.
                    return .reopen(after: after)
                }
            }
        }
        return .none
    }

    /// Copies a driver buffer into a tightly packed image, dropping any row padding.
    public static func repack(_ src: UnsafeRawBufferPointer, format: PixelFormat, width: Int, height: Int, bytesPerLine: Int)
        -> [UInt8]
    {
        let size = format.byteCount(width: width, height: height)
        let planes = format.planes(width: width, height: height)
        let tight = planes[0].stride
        if bytesPerLine == tight || bytesPerLine == 0 {
            // One copy straight out of the driver's buffer (a short buffer is zero-filled).
            return [UInt8](unsafeUninitializedCapacity: size) { out, count in
                let n = min(size, src.count)
                if n > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: n) }
                if n < size { (out.baseAddress! + n).initialize(repeating: 0, count: size - n) }
                count = size
            }
        }
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBytes { dst in
            var srcOff = 0
            for (i, plane) in planes.enumerated() {
                let rows = i == 0 ? height : (height + 1) / 2
                let rowBytes = plane.stride
                let srcStride = i == 0 ? bytesPerLine : bytesPerLine * plane.stride / tight
                for r in 0..<rows {
                    let s = srcOff + r * srcStride
                    guard s + rowBytes <= src.count else { return }
                    dst.baseAddress!.advanced(by: plane.offset + r * rowBytes).copyMemory(
                        from: src.baseAddress!.advanced(by: s), byteCount: rowBytes)
                }
                srcOff += rows * srcStride
            }
        }
        return out
    }
}
