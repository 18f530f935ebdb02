import BedsideCore
import CFFmpeg

/// A failed libav* call: which call, and libav's own message (`av_strerror`).
public struct AVError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var code: Int32
    public var message: String

    public init(call: String, code: Int32) {
        self.call = call
        self.code = code
        var buf = [CChar](repeating: 0, count: 256)
        av_strerror(code, &buf, buf.count)
        message = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public init(call: String, message: String) {
        self.call = call
        code = 0
        self.message = message
    }

    public var description: String { "\(call) failed: \(message)" }

    public var isEOF: Bool { code == bedside_averror_eof }
    public var isAgain: Bool { code == bedside_averror_eagain }
}

/// Turns a libav return code into a Swift error: negative is failure. The one place codes are checked.
@discardableResult
public func avCheck(_ code: Int32, _ call: @autoclosure () -> String) throws -> Int32 {
    if code < 0 { throw AVError(call: call(), code: code) }
    return code
}

extension PixelFormat {
    /// The corresponding libav pixel format.
    public var av: AVPixelFormat {
        switch self {
        case .gray8: AV_PIX_FMT_GRAY8
        case .rgb24: AV_PIX_FMT_RGB24
        case .bgr24: AV_PIX_FMT_BGR24
        case .yuv420p: AV_PIX_FMT_YUV420P
        case .nv12: AV_PIX_FMT_NV12
        case .yuyv422: AV_PIX_FMT_YUYV422
        case .uyvy422: AV_PIX_FMT_UYVY422
        }
    }

    /// Plane offsets and strides of a tightly packed image.
    public func planes(width: Int, height: Int) -> [(offset: Int, stride: Int)] {
        switch self {
        case .gray8: [(0, width)]
        case .rgb24, .bgr24: [(0, width * 3)]
        case .yuyv422, .uyvy422: [(0, width * 2)]
        case .nv12: [(0, width), (width * height, 2 * ((width + 1) / 2))]
        case .yuv420p:
            [
                (0, width), (width * height, (width + 1) / 2),
                (width * height + ((width + 1) / 2) * ((height + 1) / 2), (width + 1) / 2),
            ]
        }
    }
}
