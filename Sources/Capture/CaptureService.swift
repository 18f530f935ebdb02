import BedsideCore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the frame source and hands every frame to its consumers (newest-only mailboxes, the recorder's queue).
///
/// Consumers must not block: each `sink` returns at once.
public final class CaptureService: Service, Sendable {
    public let source: any FrameSource
    let sinks: [@Sendable (Frame) -> Void]
    let logger: Logger
    let stats = Mutex(Stats())

    public struct Stats: Sendable {
        public var framesCaptured: UInt64 = 0
        public var fps: Double = 0
        public var width = 0
        public var height = 0
        public var lastPtsNanos: UInt64 = 0
        public var error: String?
        public var ended = false
    }

    /// Applied to every frame before any sink sees it (privacy masks); replaced live by the region editor.
    let maskBox: Mutex<PrivacyMask>
    public var mask: PrivacyMask { maskBox.withLock { $0 } }

    /// New masks from the next frame on (the admin's region editor).
    public func setMask(_ mask: PrivacyMask) {
        maskBox.withLock { $0 = mask }
        logger.notice("privacy masks changed", metadata: ["masks": "\(mask.rects.count)", "sizes": "\(mask.bySize.keys.sorted())"])
    }

    public init(source: any FrameSource, logger: Logger, mask: PrivacyMask = PrivacyMask(), sinks: [@Sendable (Frame) -> Void]) {
        self.maskBox = Mutex(mask)
        self.source = source
        self.sinks = sinks
        self.logger = logger
    }

    public var snapshot: Stats { stats.withLock { $0 } }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await self.source.run { raw in
                    // The only place an unmasked frame exists: masked before anything else sees it.
                    var frame = raw
                    let mask = self.maskBox.withLock { $0 }
                    mask.apply(to: &frame)
                    frame.masked = !mask.rects(width: frame.width, height: frame.height).isEmpty
                    self.stats.withLock { s in
                        if s.lastPtsNanos > 0, frame.ptsNanos > s.lastPtsNanos {
                            let inst = 1e9 / Double(frame.ptsNanos - s.lastPtsNanos)
                            s.fps = s.fps == 0 ? inst : 0.95 * s.fps + 0.05 * inst
                        }
                        s.framesCaptured += 1
                        s.width = frame.width
                        s.height = frame.height
                        s.lastPtsNanos = frame.ptsNanos
                    }
                    for sink in self.sinks { sink(frame) }
                }
            }
            stats.withLock { $0.ended = true }
            logger.info("source ended: \(source.description)")
        } catch is CancellationError {
        } catch {
            stats.withLock { $0.error = "\(error)" }
            logger.error("capture failed: \(error)")
            throw error
        }
    }
}
