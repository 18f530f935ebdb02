import BedsideCore
import CV4L2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A failed V4L2 call: the request, the device, the errno (worded by `SystemError`) and the fix for this device.
public struct V4L2Error: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var device: String
    public var errno: Int32
    public var description: String {
        var fix = ""
        switch errno {
        case ENOENT: fix = " Is the capture box plugged in? `bedside devices` lists what is there."
        case EACCES: fix = " Add the user running Bedside to the `video` group."
        case EBUSY: fix = " Another program (or another Bedside) is using it."
        default: break
        }
        return "\(device): \(call) failed: \(SystemError.text(errno)).\(fix)"
    }
}

/// An open V4L2 device node, through libv4l2 (so its format conversions apply). Closed in `deinit`.
///
/// The corresponding C calls are `v4l2_open`, `v4l2_ioctl` and `v4l2_close`.
public final class V4L2Device {
    public let path: String
    let fd: Int32

    public init(path: String) throws {
        self.path = path
        let fd = bedside_v4l2_open(path, O_RDWR | O_NONBLOCK)
        guard fd >= 0 else { throw V4L2Error(call: "open", device: path, errno: errno) }
        self.fd = fd
    }

    deinit { v4l2_close(fd) }

    /// Performs one ioctl, retrying on EINTR: the one place V4L2 return codes become errors.
    func ioctl<T>(_ request: UInt, _ name: String, _ arg: inout T) throws {
        while true {
            let rc = withUnsafeMutablePointer(to: &arg) { bedside_v4l2_ioctl(fd, request, $0) }
            if rc >= 0 { return }
            if errno == EINTR { continue }
            throw V4L2Error(call: name, device: path, errno: errno)
        }
    }

    public struct Capabilities: Sendable {
        public var driver: String
        public var card: String
        public var busInfo: String
        public var canCapture: Bool
        public var canStream: Bool
    }

    /// The corresponding C call is `VIDIOC_QUERYCAP`.
    public func capabilities() throws -> Capabilities {
        var cap = v4l2_capability()
        try ioctl(bedside_VIDIOC_QUERYCAP, "VIDIOC_QUERYCAP", &cap)
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return Capabilities(
            driver: Self.string(&cap.driver), card: Self.string(&cap.card), busInfo: Self.string(&cap.bus_info),
            canCapture: caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0, canStream: caps & UInt32(V4L2_CAP_STREAMING) != 0)
    }

    /// Pixel formats the device offers for capture, as fourcc strings. The corresponding C call is `VIDIOC_ENUM_FMT`.
    public func formats() throws -> [String] {
        var out: [String] = []
        for i in 0..<64 {
            var d = v4l2_fmtdesc()
            d.index = UInt32(i)
            d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            do { try ioctl(bedside_VIDIOC_ENUM_FMT, "VIDIOC_ENUM_FMT", &d) } catch let e as V4L2Error where e.errno == EINVAL {
                break
            }
            out.append(Self.fourcc(d.pixelformat))
        }
        return out
    }

    /// The four characters of a pixel format code; the big-endian flag bit (1 << 31) shows as "-BE".
    public static func fourcc(_ v: UInt32) -> String {
        let c = v & 0x7fff_ffff
        let s = String(decoding: [UInt8(c & 0xff), UInt8((c >> 8) & 0xff), UInt8((c >> 16) & 0xff), UInt8(c >> 24)], as: UTF8.self)
        return v & 0x8000_0000 != 0 ? s.trimmingCharacters(in: .whitespaces) + "-BE" : s
    }

    static func string<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// `/dev/video*` nodes present now, sorted.
    public static func nodes() -> [String] {
        guard let dir = opendir("/dev") else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("video") { out.append("/dev/" + name) }
        }
        return out.sorted()
    }
}
