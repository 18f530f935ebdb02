import BedsideCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import Web

@Suite("H.264 to the tablets: a viewer's queue, the codec string, the shared encoder")
struct VideoStreamTests {
    func p(_ key: Bool, _ n: UInt8 = 0) -> VideoQueue.Packet { .init(bytes: [n], key: key) }

    @Test("a viewer that joins waits for a keyframe, asks for one (at most once a second), then gets frames in order")
    func joinWaitsForKey() {
        var q = VideoQueue(limit: 4, keyRequestInterval: 1)
        let first = q.wantsKey(now: 0)  // joined: ask at once
        let soon = q.offer(p(false, 1), now: 0.1)  // still waiting; asked 0.1 s ago
        let later = q.offer(p(false, 2), now: 1.2)  // still no keyframe after a second: ask again
        #expect(first && !soon && later)
        let none = q.take()
        #expect(q.skipped == 2 && none == nil)
        let k = q.offer(p(true, 3), now: 1.3), d = q.offer(p(false, 4), now: 1.4)
        #expect(!k && !d)
        let a = q.take(), b = q.take(), c = q.take()
        #expect(a?.bytes == [3] && b?.bytes == [4] && c == nil)
        #expect(!q.waitingForKey)
    }

    @Test("a viewer that cannot keep up drops its queue and waits for the next keyframe; a keyframe jumps the queue")
    func slowViewerSkipsToKey() {
        var q = VideoQueue(limit: 3, keyRequestInterval: 1)
        _ = q.offer(p(true, 0), now: 0)
        for i in 1...2 {
            let asks = q.offer(p(false, UInt8(i)), now: 0)
            #expect(!asks)
        }
        #expect(q.queue.count == 3)
        let behind = q.offer(p(false, 3), now: 0)  // a fourth: behind; asks for a keyframe
        #expect(behind)
        #expect(q.queue.isEmpty && q.waitingForKey && q.fellBehind == 1 && q.skipped == 4)
        let again = q.offer(p(false, 4), now: 0.5)  // asked 0.5 s ago: not again yet
        #expect(!again && q.queue.isEmpty)
        _ = q.offer(p(true, 5), now: 0.6)
        _ = q.offer(p(false, 6), now: 0.6)
        _ = q.offer(p(true, 7), now: 0.7)  // the newest picture replaces what is still queued
        #expect(q.queue.map(\.bytes) == [[7]])
    }

    @Test("the WebCodecs codec string is read from the keyframe's SPS")
    func codecString() {
        let au: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x28, 0xDA, 0, 0, 1, 0x68, 0xCE]
        #expect(h264CodecString(annexB: au) == "avc1.42c028")
        #expect(h264CodecString(annexB: [0, 0, 1, 0x65, 1, 2, 3, 4]) == nil)
        #expect(h264CodecString(annexB: []) == nil)
    }

    @Test("the shared encoder: a keyframe first with SPS, deltas after, a keyframe when a tablet asks, pts kept")
    func encoderRuns() throws {
        guard Hub.h264Available else { return }  // an FFmpeg without libx264: Bedside sends JPEG (tested elsewhere)
        var settings = LiveVideoConfig()
        settings.keyframeSeconds = 10
        let stream = H264Stream(settings: settings, displayWidth: 320, logger: Logger(label: "test"))
        let got = Mutex<[(seq: UInt64, key: Bool, bytes: Int)]>([])
        let announced = Mutex<[VideoConfigMessage]>([])
        let done = Atomic<Bool>(false)
        let thread = Thread {
            stream.run(
                viewers: { true },
                out: { b, key, seq, _ in
                    let header = b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    got.withLock { $0.append((header == seq ? seq : .max, key, b.count)) }  // the header names the frame
                }, announce: { m in announced.withLock { $0.append(m) } })
            done.store(true, ordering: .relaxed)
        }
        thread.start()
        func frame(_ i: UInt64) -> Frame {
            let w = 640, h = 360
            var px = [UInt8](repeating: 0, count: w * h)
            for y in 0..<h { for x in 0..<w { px[y * w + x] = UInt8((x + y + Int(i) * 7) & 0xFF) } }
            return Frame(seq: i, ptsNanos: 1_000_000_000 + i * 33_333_333, wallClock: 0, width: w, height: h, format: .gray8, pixels: px)
        }
        func waitFor(_ n: Int) {
            for _ in 0..<400 where got.withLock({ $0.count }) < n { Thread.sleep(forTimeInterval: 0.01) }
        }
        for i in UInt64(0)..<10 {
            stream.frames.put(frame(i))
            stream.wake.signal()
            waitFor(Int(i) + 1)
        }
        stream.keyWanted.store(true, ordering: .relaxed)  // a tablet joins
        stream.frames.put(frame(10))
        stream.wake.signal()
        waitFor(11)
        stream.stop()
        for _ in 0..<200 where !done.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.01) }
        let packets = got.withLock { $0 }
        #expect(packets.count == 11)
        #expect(packets.first?.key == true && packets.first?.seq == 0)
        #expect(packets[1..<10].allSatisfy { !$0.key }, "keyframes only every keyframe_s, or when asked for")
        #expect(packets.last?.key == true && packets.last?.seq == 10, "a keyframe at once for a tablet that joins")
        let m = try #require(announced.withLock { $0.first })
        #expect(m.codec.hasPrefix("avc1.") && m.width == 320 && m.height == 180)
        #expect(stream.stats.withLock { $0.forcedKeyframes } >= 1)
    }
}
