import CFFmpeg
import Foundation

/// SHA-256 through libavutil (the library Bedside links anyway), as lowercase hex.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> String {
        guard let ctx = av_sha_alloc() else { return "" }
        defer { av_free(UnsafeMutableRawPointer(ctx)) }
        av_sha_init(ctx, 256)
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { av_sha_update(ctx, base, b.count) }
        }
        var out = [UInt8](repeating: 0, count: 32)
        av_sha_final(ctx, &out)
        return out.map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of a file's bytes, nil when it cannot be read.
    public static func sha256(file: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return sha256([UInt8](data))
    }
}
