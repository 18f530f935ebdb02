import Foundation

/// Everything `bedside.yaml` can say. Defaults make `bedside demo` work with no file at all.
public struct BedsideConfig: Sendable, Equatable {
    public var source = SourceConfig()
    public var study = StudyConfig()
    /// Regions blacked out at the capture edge (the scanner's patient banner).
    public var privacy = PrivacyMask()
    public var models: [ModelConfig] = []
    public var recording = RecordingConfig()
    public var web = WebConfig()

    public init() {}
}

public struct SourceConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case phantom, file, v4l2 }
    public var kind: Kind = .phantom
    public var width = 1280
    public var height = 720
    public var fps = 30.0
    /// File source: the video to play.
    public var path: String?
    /// File source: start again at the end.
    public var loop = true
    /// V4L2 source: the device node, a /dev/v4l/by-id link, or the card name as `bedside devices` shows it.
    public var device = "/dev/video0"
    /// V4L2 source: pixel format to ask for (yuyv, uyvy, nv12, rgb24, bgr24, grey, mjpeg); nil picks the best offered.
    public var format: String?
    /// V4L2 source: whether width/height/fps were given (otherwise the HDMI signal or the device decides).
    public var sizeGiven = false
    /// Phantom: seconds for one sweep through all planes.
    public var sweepSeconds = 24.0

    public init() {}
}

public struct ModelInput: Sendable, Equatable {
    /// Size the model wants (the frame is scaled to it); nil keeps the source size.
    public var width: Int?
    public var height: Int?
    /// `gray8` or `rgb24`.
    public var format: PixelFormat = .rgb24
    /// The part of the screen the model sees (source pixels); nil is the whole frame.
    public var crop: CropRect?

    public init(width: Int? = nil, height: Int? = nil, format: PixelFormat = .rgb24, crop: CropRect? = nil) {
        self.width = width
        self.height = height
        self.format = format
        self.crop = crop
    }
}

public struct ModelConfig: Sendable, Equatable {
    public var name: String
    /// The researcher's interpreter (their venv/conda python).
    public var python: String = "python3"
    /// Instead of `python`: a full command that runs the researcher's Python, e.g. `[conda, run, -n, pcbm,
    /// --no-capture-output, python]`; the bridge's arguments follow it.
    public var command: [String]?
    /// `path/to/script.py:function`, `package.module:function` or `...:Class`.
    public var entry: String
    /// Optional one-time setup function (loads weights).
    public var setup: String?
    /// Working directory of the worker; relative paths in the config are relative to the config file.
    public var workdir: String?
    public var env: [String: String] = [:]
    /// Where the parts of the result are in the research function's own return value (nil: it returns Bedside's
    /// result object itself).
    public var output: ModelOutput?
    public var input = ModelInput()
    /// Per-frame timeout: a worker that takes longer is considered hung and restarted.
    public var timeoutSeconds = 10.0
    /// `show: false`: a silent model (a silent trial, a new version beside the one in use): it runs on the same
    /// frames and its answers are recorded and on the admin page, but the server never sends them to a tablet.
    public var show = true
    public var startupTimeoutSeconds = 120.0
    /// Worker processes sharing the frames: k replicas of a slow model give ~k times the prediction rate.
    public var replicas = 1
    /// Threads for the model's numeric libraries (torch, OpenMP, MKL); nil: all cores but one, shared among
    /// the replicas (ModelThreads).
    public var threads: Int?
    /// Run the research code without network access, read-only except its working directory (bubblewrap).
    public var sandbox = false
    /// `live`: the newest frame whenever a worker is idle. `freeze`: once each time the image stops changing
    /// for `freezeSeconds` (the sonographer froze the screen), for models too slow to follow live.
    public var trigger = "live"
    /// A worker on another machine (a GPU box) instead of a local process: Bedside binds `remoteBind`
    /// (e.g. tcp://0.0.0.0:5555) with CURVE encryption; only workers whose keys are in
    /// `<remoteKeys>/authorized_workers` get in. Frames travel inside the messages.
    public var remoteBind: String?
    public var remoteKeys: String?
    public var freezeSeconds = 1.0
    /// A pipeline: this model gets the frames `upstream` answered, each with that answer (`upstream=` in the
    /// research function), instead of every captured frame.
    public var upstream: String?
    /// A worker whose resident memory grows past this is restarted (a slowly leaking model must never take the
    /// box's memory from capture and recording). Default: a quarter of the machine's memory, at least 1 GiB.
    public var maxMemoryMB: Int = ModelConfig.defaultMaxMemoryMB
    /// `deny` (default): the research code's network attempts fail at once, with the URL and the fix (`bedside
    /// prepare`), and the usual offline switches are set. `allow`: attempts go out, and are still reported.
    public var network = "deny"
    /// The model's download cache (TORCH_HOME, HF_HOME, XDG_CACHE_HOME point into it); `bedside prepare` fills
    /// it. Default: `<state dir>/model-cache/<name>`.
    public var cacheDirectory: String?
    /// Set by `bedside prepare`: every network attempt is appended here as a JSON line.
    public var networkLog: String?
    /// The config file (named in the bridge's messages, e.g. how to run `bedside prepare`).
    public var configFile: String?

    public static var defaultMaxMemoryMB: Int {
        let total = Int(ProcessInfo.processInfo.physicalMemory / 1_048_576)
        return max(1024, total / 4)
    }

    public init(name: String, entry: String) {
        self.name = name
        self.entry = entry
    }
}

public struct RecordingConfig: Sendable, Equatable {
    public var enabled = true
    public var directory = "recordings"
    /// Encoder queue length in frames; when the encoder falls this far behind, frames are dropped and counted.
    public var queueFrames = 90
    /// `always`: a session starts with Bedside. `manual`: sessions start and stop from the page or the API.
    public var mode = "always"
    /// A new video file (video-001.mp4, ...) after this many seconds or megabytes, whichever comes first.
    public var segmentSeconds = 300.0
    public var segmentMB = 1024
    /// Below this much free space, recording stops cleanly (file finalised) and resumes when space returns.
    public var minFreeMB = 500
    /// Retention: delete the oldest session folders while all sessions take more than this. nil = keep all.
    public var keepGB: Double?

    public init() {}
}

public struct WebConfig: Sendable, Equatable {
    /// Explicit bind address: 127.0.0.1 keeps the page on this machine; 0.0.0.0 serves the clinic Wi-Fi.
    public var bind = "127.0.0.1"
    public var port = 8080
    /// Pairing token viewers need; generated at start when absent.
    public var token: String?
    /// Admin PIN for admin actions; generated at start when absent.
    public var adminPIN: String?
    /// Width of the JPEG sent to viewers (height follows the aspect); nil keeps the source width.
    public var displayWidth: Int?
    public var jpegQuality = 75
    /// A result whose frame is older than the newest video frame by more than this is shown greyed out as stale.
    public var staleMs = 1000
    /// HTTPS (`web.tls`): Bedside's own certificate authority beyond loopback (`auto`, the default), your own
    /// certificate, or plain HTTP beyond loopback only when asked for in so many words (`off`).
    public var tls = TLSSetting.auto
    /// Addresses and names tablets reach this box by beyond its own interfaces' (a container's host, a NAT):
    /// in Bedside's server certificate and first in the printed links.
    public var names: [String] = []
    /// The PEM certificate (chain) and key of `web.tls: {cert, key}`; nil otherwise.
    public var tlsCertificate: String? { if case .files(let c, _) = tls { c } else { nil } }
    public var tlsKey: String? { if case .files(_, let k) = tls { k } else { nil } }
    /// The live video to the tablets (`web.video`).
    public var video = LiveVideoConfig()

    public init() {}
}

/// `web.tls`: how the page is served beyond loopback.
public enum TLSSetting: Sendable, Equatable {
    /// HTTPS with Bedside's own CA (made at first start in the state folder) when bound beyond loopback;
    /// plain HTTP on loopback (nothing crosses a network there).
    case auto
    /// Plain HTTP even beyond loopback: the explicit opt-out (the console and admin page say it is unencrypted).
    case off
    /// HTTPS with your own certificate and key (PEM).
    case files(certificate: String, key: String)
}

/// `web.video`: how the live picture reaches the tablets. `auto` sends H.264 (one low-latency encode shared by
/// every tablet) to pages that can decode it (WebCodecs) and JPEG to the rest; `jpeg` and `h264` force one.
public struct LiveVideoConfig: Sendable, Equatable {
    public enum Codec: String, Sendable, Equatable, CaseIterable { case auto, h264, jpeg }
    public var codec = Codec.auto
    /// The H.264 stream's bit rate cap (kbit/s): quality is constant (CRF) up to it.
    public var maxrateKbps = 6000
    /// libx264 constant rate factor below the cap (lower is better and bigger).
    public var crf = 23
    /// Seconds between keyframes; a tablet that joins or falls behind gets one at once anyway.
    public var keyframeSeconds = 2.0

    public init() {}
}
