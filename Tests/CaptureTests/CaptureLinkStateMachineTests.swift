import Capture
import Testing

@Suite("Capture link: signal loss, unplug, mode changes")
struct CaptureLinkStateMachineTests {
    @Test("frames mean streaming; a lost signal backs off and says why")
    func signalLoss() {
        var m = CaptureLinkStateMachine(baseDelay: 0.25, maxDelay: 2)
        m.frameArrived()
        #expect(m.summary.state == "ok")
        #expect(m.signalLost("no signal on the HDMI input") == .reopen(after: 0.25))
        #expect(m.summary.state == "no signal")
        #expect(m.summary.detail == "no signal on the HDMI input")
        #expect(m.signalLost("x") == .reopen(after: 0.5))
        #expect(m.signalLost("x") == .reopen(after: 1))
        #expect(m.signalLost("x") == .reopen(after: 2))
        #expect(m.signalLost("x") == .reopen(after: 2))
        m.frameArrived()
        #expect(m.signalLost("x") == .reopen(after: 0.25))
    }

    @Test("an unplugged device is 'disconnected'")
    func unplug() {
        var m = CaptureLinkStateMachine()
        _ = m.deviceLost("/dev/video0: open failed: No such file or directory")
        #expect(m.summary.state == "disconnected")
    }

    @Test("a device another program streams from is 'in use', retried with backoff, and streams once free")
    func busy() {
        var m = CaptureLinkStateMachine()
        #expect(m.deviceBusy("/dev/video0: VIDIOC_S_FMT failed: Device or resource busy.") == .reopen(after: 0.25))
        #expect(m.summary.state == "in use" && m.summary.detail?.contains("busy") == true)
        #expect(m.deviceBusy("again") == .reopen(after: 0.5))
        m.frameArrived()
        #expect(m.summary.state == "ok")
    }

    @Test("a stall longer than the limit counts as signal loss; a short gap does not")
    func stall() {
        var m = CaptureLinkStateMachine(stallSeconds: 2)
        m.frameArrived()
        #expect(m.idle(for: 0.5) == .none)
        #expect(m.summary.state == "ok")
        #expect(m.idle(for: 2.5) != .none)
        #expect(m.summary.state == "no signal")
    }

    @Test("a source change renegotiates at once and is counted")
    func sourceChange() {
        var m = CaptureLinkStateMachine()
        m.frameArrived()
        #expect(m.sourceChanged() == .reopen(after: 0))
        #expect(m.renegotiations == 1)
        #expect(m.summary.state == "connecting")
    }
}

@Suite("Driver buffer repacking")
struct RepackTests {
    @Test("row padding is dropped for packed and planar formats")
    func padding() {
        // YUYV 4x2 with 12 bytes per line (8 used)
        var src = [UInt8](repeating: 0xEE, count: 24)
        for r in 0..<2 { for c in 0..<8 { src[r * 12 + c] = UInt8(r * 10 + c) } }
        let out = src.withUnsafeBytes { V4L2Source.repack($0, format: .yuyv422, width: 4, height: 2, bytesPerLine: 12) }
        #expect(out == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17])
        // NV12 4x2 with 6 bytes per line: Y rows then one UV row
        var nv = [UInt8](repeating: 0xEE, count: 18)
        for i in 0..<4 { nv[i] = 1; nv[6 + i] = 2; nv[12 + i] = 3 }
        let o2 = nv.withUnsafeBytes { V4L2Source.repack($0, format: .nv12, width: 4, height: 2, bytesPerLine: 6) }
        #expect(o2 == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    }

    @Test("a tight buffer is copied as is")
    func tight() {
        let src = [UInt8](0..<12)
        let out = src.withUnsafeBytes { V4L2Source.repack($0, format: .gray8, width: 4, height: 3, bytesPerLine: 4) }
        #expect(out == src)
    }
}
