import BedsideCore
import CTurboJPEG

/// A failed libturbojpeg call, with `tjGetErrorStr2`'s message.
public struct JPEGError: Error, CustomStringConvertible {
    public var call: String
    public var message: String
    public var description: String { "\(call) failed: \(message)" }
}

/// Compresses gray8 or rgb24 images with libjpeg-turbo. Owns one TurboJPEG handle; one thread at a time.
///
/// The corresponding C call is `tjCompress2`.
public final class JPEGEncoder {
    private let handle: tjhandle
    public let quality: Int32

    public init(quality: Int) throws {
        guard let h = tjInitCompress() else {
            throw JPEGError(call: "tjInitCompress", message: String(cString: tjGetErrorStr2(nil)))
        }
        handle = h
        self.quality = Int32(quality)
    }

    deinit { tjDestroy(handle) }

    /// Compresses a tightly packed gray8 or rgb24 image.
    public func compress(_ pixels: [UInt8], width: Int, height: Int, format: PixelFormat) throws -> [UInt8] {
        precondition(format == .gray8 || format == .rgb24, "JPEGEncoder takes gray8 or rgb24")
        let pf = format == .gray8 ? TJPF_GRAY : TJPF_RGB
        let samp = format == .gray8 ? TJSAMP_GRAY : TJSAMP_420
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = pixels.withUnsafeBufferPointer { p in
            tjCompress2(
                handle, p.baseAddress, Int32(width), 0, Int32(height), Int32(pf.rawValue), &out, &size, Int32(samp.rawValue), quality,
                TJFLAG_FASTDCT)
        }
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out else {
            throw JPEGError(call: "tjCompress2", message: String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}
