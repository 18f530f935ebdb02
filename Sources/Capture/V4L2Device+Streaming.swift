import BedsideCore
import CV4L2

#if canImport(Glibc)
import Glibc
#endif

extension V4L2Device {
    public struct Input: Sendable {
        public var index: Int
        public var name: String
        public var hasDVTimings: Bool
    }

    /// The corresponding C call is `VIDIOC_ENUMINPUT`.
    public func inputs() -> [Input] {
        var out: [Input] = []
        for i in 0..<16 {
            var inp = v4l2_input()
            inp.index = UInt32(i)
            guard (try? ioctl(bedside_VIDIOC_ENUMINPUT, "VIDIOC_ENUMINPUT", &inp)) != nil else { break }
            out.append(
                Input(
                    index: i, name: Self.string(&inp.name),
                    hasDVTimings: inp.capabilities & UInt32(V4L2_IN_CAP_DV_TIMINGS) != 0))
        }
        return out
    }

    public struct Timings: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var fps: Double
        public var interlaced: Bool
    }

    /// Queries the incoming HDMI signal and applies it. Throws ENOLINK / ENOLCK / ERANGE when there is no usable signal.
    ///
    /// The corresponding C calls are `VIDIOC_QUERY_DV_TIMINGS` and `VIDIOC_S_DV_TIMINGS`.
    public func applyIncomingTimings() throws -> Timings {
        var t = v4l2_dv_timings()
        try ioctl(bedside_VIDIOC_QUERY_DV_TIMINGS, "VIDIOC_QUERY_DV_TIMINGS", &t)
        try ioctl(bedside_VIDIOC_S_DV_TIMINGS, "VIDIOC_S_DV_TIMINGS", &t)
        return Self.timings(t)
    }

    /// Queries the incoming HDMI signal without changing anything. The corresponding C call is `VIDIOC_QUERY_DV_TIMINGS`.
    public func incomingTimings() throws -> Timings {
        var t = v4l2_dv_timings()
        try ioctl(bedside_VIDIOC_QUERY_DV_TIMINGS, "VIDIOC_QUERY_DV_TIMINGS", &t)
        return Self.timings(t)
    }

    static func timings(_ t: v4l2_dv_timings) -> Timings {
        let bt = t.bt
        let total =
            Double((Int(bt.width) + Int(bt.hfrontporch) + Int(bt.hsync) + Int(bt.hbackporch)))
            * Double(Int(bt.height) + Int(bt.vfrontporch) + Int(bt.vsync) + Int(bt.vbackporch))
        return Timings(
            width: Int(bt.width), height: Int(bt.height), fps: total > 0 ? Double(bt.pixelclock) / total : 0,
            interlaced: bt.interlaced != 0)
    }

    /// Asks to be told when the input signal changes. The corresponding C call is `VIDIOC_SUBSCRIBE_EVENT`.
    public func subscribeSourceChange() {
        var sub = v4l2_event_subscription()
        sub.type = UInt32(V4L2_EVENT_SOURCE_CHANGE)
        _ = try? ioctl(bedside_VIDIOC_SUBSCRIBE_EVENT, "VIDIOC_SUBSCRIBE_EVENT", &sub)
    }

    /// Takes a pending event; true when it says the source changed. The corresponding C call is `VIDIOC_DQEVENT`.
    public func dequeueSourceChange() -> Bool {
        var ev = v4l2_event()
        guard (try? ioctl(bedside_VIDIOC_DQEVENT, "VIDIOC_DQEVENT", &ev)) != nil else { return false }
        return ev.type == UInt32(V4L2_EVENT_SOURCE_CHANGE)
    }

    public struct Format: Sendable, Equatable {
        public var fourcc: String
        public var width: Int
        public var height: Int
        public var bytesPerLine: Int
        public var sizeImage: Int
    }

    /// Sets the capture format; the driver may adjust it, and the result says what it chose.
    /// The corresponding C call is `VIDIOC_S_FMT`.
    public func setFormat(fourcc: UInt32, width: Int, height: Int) throws -> Format {
        var f = v4l2_format()
        f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        f.fmt.pix.width = UInt32(width)
        f.fmt.pix.height = UInt32(height)
        f.fmt.pix.pixelformat = fourcc
        f.fmt.pix.field = V4L2_FIELD_ANY.rawValue
        try ioctl(bedside_VIDIOC_S_FMT, "VIDIOC_S_FMT", &f)
        return Format(
            fourcc: Self.fourcc(f.fmt.pix.pixelformat), width: Int(f.fmt.pix.width), height: Int(f.fmt.pix.height),
            bytesPerLine: Int(f.fmt.pix.bytesperline), sizeImage: Int(f.fmt.pix.sizeimage))
    }

    /// Frame sizes offered for a format (discrete sizes only; stepwise ranges give their maximum).
    /// The corresponding C call is `VIDIOC_ENUM_FRAMESIZES`.
    public func frameSizes(fourcc: UInt32) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        for i in 0..<64 {
            var s = v4l2_frmsizeenum()
            s.index = UInt32(i)
            s.pixel_format = fourcc
            guard (try? ioctl(bedside_VIDIOC_ENUM_FRAMESIZES, "VIDIOC_ENUM_FRAMESIZES", &s)) != nil else { break }
            if s.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                out.append((Int(s.discrete.width), Int(s.discrete.height)))
            } else {
                out.append((Int(s.stepwise.max_width), Int(s.stepwise.max_height)))
                break
            }
        }
        return out
    }

    /// Requests a frame rate (best effort). The corresponding C call is `VIDIOC_S_PARM`.
    public func setFrameRate(_ fps: Double) {
        var p = v4l2_streamparm()
        p.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        p.parm.capture.timeperframe.numerator = 1000
        p.parm.capture.timeperframe.denominator = UInt32(clamping: Int((fps * 1000).rounded()))
        _ = try? ioctl(bedside_VIDIOC_S_PARM, "VIDIOC_S_PARM", &p)
    }

    /// `poll(2)` on the device: frames (POLLIN) or events (POLLPRI).
    public func wait(timeoutMs: Int32) throws -> (frame: Bool, event: Bool) {
        var p = pollfd(fd: fd, events: Int16(POLLIN | POLLPRI), revents: 0)
        while true {
            let rc = poll(&p, 1, timeoutMs)
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { throw V4L2Error(call: "poll", device: path, errno: errno) }
            if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && p.revents & Int16(POLLIN) == 0 {
                throw V4L2Error(call: "poll", device: path, errno: ENODEV)
            }
            return (p.revents & Int16(POLLIN) != 0, p.revents & Int16(POLLPRI) != 0)
        }
    }
}

/// mmap'd streaming buffers of one device, owned here: unmapped and released in `deinit`.
///
/// The corresponding C calls are `VIDIOC_REQBUFS`, `VIDIOC_QUERYBUF`, `v4l2_mmap`, `VIDIOC_QBUF`, `VIDIOC_DQBUF`,
/// `VIDIOC_STREAMON` and `VIDIOC_STREAMOFF`.
public final class V4L2Stream {
    let device: V4L2Device
    var buffers: [(UnsafeMutableRawPointer, Int)] = []
    var streaming = false

    public struct Buffer {
        public var index: Int
        public var bytesUsed: Int
        public var sequence: UInt32
        /// Driver timestamp in ns (monotonic when the driver says so, else nil).
        public var timestampNanos: UInt64?
    }

    public init(device: V4L2Device, count: Int = 4) throws {
        self.device = device
        var req = v4l2_requestbuffers()
        req.count = UInt32(count)
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        try device.ioctl(bedside_VIDIOC_REQBUFS, "VIDIOC_REQBUFS", &req)
        guard req.count >= 2 else {
            throw V4L2Error(call: "VIDIOC_REQBUFS (got \(req.count) buffers)", device: device.path, errno: ENOMEM)
        }
        for i in 0..<Int(req.count) {
            var b = v4l2_buffer()
            b.index = UInt32(i)
            b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            b.memory = V4L2_MEMORY_MMAP.rawValue
            try device.ioctl(bedside_VIDIOC_QUERYBUF, "VIDIOC_QUERYBUF", &b)
            guard let p = bedside_v4l2_mmap(device.fd, Int(b.length), Int(b.m.offset)), p != MAP_FAILED else {
                throw V4L2Error(call: "v4l2_mmap", device: device.path, errno: errno)
            }
            buffers.append((p, Int(b.length)))
        }
        for i in buffers.indices { try queue(i) }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try device.ioctl(bedside_VIDIOC_STREAMON, "VIDIOC_STREAMON", &type)
        streaming = true
    }

    deinit {
        if streaming {
            var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            try? device.ioctl(bedside_VIDIOC_STREAMOFF, "VIDIOC_STREAMOFF", &type)
        }
        for (p, len) in buffers { v4l2_munmap(p, len) }
        var req = v4l2_requestbuffers()
        req.count = 0
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        try? device.ioctl(bedside_VIDIOC_REQBUFS, "VIDIOC_REQBUFS", &req)
    }

    public func queue(_ index: Int) throws {
        var b = v4l2_buffer()
        b.index = UInt32(index)
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        b.memory = V4L2_MEMORY_MMAP.rawValue
        try device.ioctl(bedside_VIDIOC_QBUF, "VIDIOC_QBUF", &b)
    }

    /// Dequeues every ready buffer and returns the newest; older ones go straight back to the driver.
    /// nil when none is ready (EAGAIN).
    public func dequeueNewest() throws -> Buffer? {
        var newest: Buffer?
        while true {
            // Ask the driver first: a DQBUF that would block makes libv4l2 print an error line each time.
            if newest != nil, !(try device.wait(timeoutMs: 0).frame) { return newest }
            var b = v4l2_buffer()
            b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            b.memory = V4L2_MEMORY_MMAP.rawValue
            do {
                try device.ioctl(bedside_VIDIOC_DQBUF, "VIDIOC_DQBUF", &b)
            } catch let e as V4L2Error where e.errno == EAGAIN {
                return newest
            }
            if let older = newest { try queue(older.index) }
            let monotonic = b.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) != 0
            var ts: UInt64?
            let sec = b.timestamp.tv_sec, usec = b.timestamp.tv_usec
            if monotonic, sec >= 0, sec < 1 << 32, usec >= 0, usec < 1_000_000, sec > 0 || usec > 0 {
                ts = UInt64(sec) * 1_000_000_000 + UInt64(usec) * 1000
            }
            newest = Buffer(
                index: Int(b.index), bytesUsed: Int(b.bytesused), sequence: b.sequence, timestampNanos: ts)
        }
    }

    public func bytes(of buffer: Buffer) -> UnsafeRawBufferPointer {
        let (p, len) = buffers[buffer.index]
        return UnsafeRawBufferPointer(start: p, count: min(len, buffer.bytesUsed > 0 ? buffer.bytesUsed : len))
    }
}
