import BedsideCore
import Testing

@Suite("Newest-value mailbox")
struct MailboxTests {
    @Test("only the newest value is delivered; replaced ones are counted")
    func newestOnly() async {
        let m = Mailbox<Int>()
        for i in 0..<10 { m.put(i) }
        #expect(await m.next() == 9)
        #expect(m.skipped == 9)
        #expect(m.poll() == nil)
    }

    @Test("a waiting consumer is woken by the next put")
    func wakesConsumer() async {
        let m = Mailbox<Int>()
        async let got = m.next()
        try? await Task.sleep(for: .milliseconds(20))
        m.put(42)
        #expect(await got == 42)
    }

    @Test("close wakes the consumer with nil and ignores later puts")
    func close() async {
        let m = Mailbox<Int>()
        async let got = m.next()
        try? await Task.sleep(for: .milliseconds(20))
        m.close()
        #expect(await got == nil)
        m.put(1)
        #expect(m.poll() == nil)
    }

    @Test("cancelling the consumer returns nil")
    func cancel() async {
        let m = Mailbox<Int>()
        let t = Task { await m.next() }
        try? await Task.sleep(for: .milliseconds(20))
        t.cancel()
        #expect(await t.value == nil)
    }
}

@Suite("Bounded queue")
struct BoundedQueueTests {
    @Test("a full queue refuses and counts, never blocks")
    func dropsWhenFull() {
        let q = BoundedQueue<Int>(capacity: 3)
        let accepted = (0..<10).filter { q.push($0) }
        #expect(accepted == [0, 1, 2])
        #expect(q.dropped == 7)
        #expect(q.pop() == 0)
        #expect(q.push(10))
    }

    @Test("pop returns items in order, then nil once closed and drained")
    func fifoThenClose() {
        let q = BoundedQueue<Int>(capacity: 100)
        for i in 0..<50 { q.push(i) }
        q.close()
        var out: [Int] = []
        while let v = q.pop() { out.append(v) }
        #expect(out == Array(0..<50))
    }
}
