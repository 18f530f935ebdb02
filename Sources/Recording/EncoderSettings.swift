/// What the recorder's video encoder is asked for. The defaults are what Bedside records with.
public struct EncoderSettings: Sendable, Equatable {
    /// Encoders tried in order, by libavcodec name (`avcodec_find_encoder_by_name`).
    public var codecs = ["libx264", "mpeg4"]
    /// libx264 `preset` and `tune`.
    public var preset = "ultrafast"
    public var tune = "zerolatency"
    /// libx264 constant rate factor (lower is better and bigger).
    public var crf = 23
    /// mpeg4 fixed quantiser (2 best ... 31 worst).
    public var mpeg4Quality = 5
    /// Seconds between keyframes; the mp4 writer starts a fragment at each.
    public var keyframeSeconds = 1.0
    /// Encoder threads (`AVCodecContext.thread_count`); 0 lets the codec choose.
    public var threads = 0
    /// A cap on the bit rate (VBV `maxrate`, with a buffer of `bufferSeconds` of it), kbit/s; nil: CRF alone.
    /// The live stream to the tablets uses it so a busy picture cannot flood the Wi-Fi.
    public var maxrateKbps: Int?
    public var bufferSeconds = 0.5
    /// A keyframe asked for (`encode(forceKey:)`) is an IDR a decoder can start from (libx264 `forced-idr`).
    public var forcedIDR = false

    public init() {}
}
