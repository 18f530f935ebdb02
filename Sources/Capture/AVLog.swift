import CFFmpeg

/// libav's own logging (to stderr) is noisy; Bedside logs what matters itself.
public enum AVLog {
    /// Only libav errors reach stderr. The corresponding C call is `av_log_set_level(AV_LOG_ERROR)`.
    public static func quiet() { bedside_av_quiet() }
}
