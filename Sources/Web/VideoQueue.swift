/// What one H.264 viewer is waiting to be sent: a short run of encoded frames in order, starting at a keyframe.
///
/// Unlike JPEG, an H.264 frame needs the ones before it back to a keyframe, so a slow viewer cannot just skip
/// frames. The rules, pure (no clock of its own, no I/O):
/// - a viewer that joined, or fell behind, waits for a keyframe: frames before it are not sent (it could not
///   decode them) and one is asked for;
/// - a keyframe replaces whatever is still queued (a viewer behind jumps to the newest picture);
/// - more than `limit` frames queued means the viewer's link cannot keep up: the queue is dropped and it waits for
///   the next keyframe again. That viewer degrades alone (a picture per keyframe it can take); the encoder, the
///   recording and the other viewers never wait for it.
/// Keyframe requests are at most one per `keyRequestInterval` seconds per viewer, so a slow tablet cannot make
/// the shared stream all keyframes.
public struct VideoQueue: Sendable, Equatable {
    public struct Packet: Sendable, Equatable {
        public var bytes: [UInt8]
        public var key: Bool
        public init(bytes: [UInt8], key: Bool) {
            self.bytes = bytes
            self.key = key
        }
    }

    public var limit: Int
    public var keyRequestInterval: Double
    public private(set) var queue: [Packet] = []
    public private(set) var waitingForKey = true
    /// Frames not sent: before a keyframe while waiting, or dropped with a queue that overflowed.
    public private(set) var skipped: UInt64 = 0
    /// Times the viewer fell behind (queue over `limit`).
    public private(set) var fellBehind: UInt64 = 0
    private var lastKeyRequest = -Double.infinity

    public init(limit: Int = 8, keyRequestInterval: Double = 1.0) {
        self.limit = limit
        self.keyRequestInterval = keyRequestInterval
    }

    /// Whether to ask the encoder for a keyframe now (the viewer waits for one), at most once per interval.
    public mutating func wantsKey(now: Double) -> Bool {
        guard waitingForKey, now - lastKeyRequest >= keyRequestInterval else { return false }
        lastKeyRequest = now
        return true
    }

    /// Queues an encoded frame; returns whether a keyframe should be asked for.
    public mutating func offer(_ p: Packet, now: Double) -> Bool {
        if p.key {
            skipped += UInt64(queue.count)
            queue = [p]
            waitingForKey = false
            return false
        }
        if waitingForKey {
            skipped += 1
            return wantsKey(now: now)
        }
        if queue.count >= limit {
            skipped += UInt64(queue.count) + 1
            queue.removeAll()
            waitingForKey = true
            fellBehind += 1
            return wantsKey(now: now)
        }
        queue.append(p)
        return false
    }

    /// The next frame to send, in order.
    public mutating func take() -> Packet? {
        queue.isEmpty ? nil : queue.removeFirst()
    }
}

/// The WebCodecs codec string (`avc1.PPCCLL`: profile, constraint flags, level) of an H.264 stream, from the
/// first sequence parameter set in an Annex B access unit; nil when it holds none.
public func h264CodecString(annexB bytes: [UInt8]) -> String? {
    var i = 0
    while i + 3 < bytes.count {
        // A start code (00 00 01, or 00 00 00 01), then the NAL header.
        if bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1 {
            let h = i + 3
            if h + 3 < bytes.count, bytes[h] & 0x1F == 7 {
                return "avc1."
                    + bytes[(h + 1)...(h + 3)].map { b in
                        let s = String(b, radix: 16)
                        return s.count == 1 ? "0" + s : s
                    }.joined()
            }
            i = h
        } else {
            i += 1
        }
    }
    return nil
}
