import Testing
import Web

/// The gate in front of the HTTP parser: every head it lets through is one the parser accepts; everything else
/// gets a status and a reason instead of a connection held open in silence.
@Suite struct RequestHeadCheckTests {
    let check = RequestHeadCheck()

    func decide(_ s: String) -> RequestHeadCheck.Decision { check.decide(Array(s.utf8)) }
    func status(_ s: String) -> Int? {
        if case .refuse(let r) = decide(s) { return r.status }
        return nil
    }

    @Test func aWellFormedHeadPassesWithItsFields() {
        guard case .pass(let head) = decide("GET /ws?token=abc HTTP/1.1\r\nHost: x:1\r\nUpgrade: WebSocket\r\nX-Empty:\r\n\r\n")
        else { Issue.record("not passed"); return }
        #expect(head.method == "GET" && head.target == "/ws?token=abc" && head.version == "HTTP/1.1")
        #expect(head.field("host") == "x:1" && head.field("X-EMPTY") == "")
        #expect(head.isWebSocketUpgrade)
        #expect(head.request?.path == "/ws?token=abc" && head.request?.authority == "x:1")
    }

    @Test func aHeadArrivingInPiecesWaits() {
        #expect(decide("") == .needMore)
        #expect(decide("GE") == .needMore)
        #expect(decide("GET / HTTP/1.1\r\nHost: x\r\n") == .needMore)
        #expect(decide("\r\nGET / HTTP/1.1\r\n") == .needMore)  // leading empty lines are allowed
    }

    @Test func unknownMethodsAndGarbageAreRefusedBeforeTheHeadEnds() {
        #expect(status("FOO / HTTP/1.1\r\n") == 501)
        #expect(status("get / HTTP/1.1\r\n") == 501)  // methods are case-sensitive
        #expect(status("TRACE / HTTP/1.1\r\n\r\n") == 501)
        #expect(status("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}binary-without-spaces") == 400)  // TLS to the HTTP port
    }

    @Test func malformedHeadsAreRefusedWithTheReason() {
        let cases = [
            "GET / HTTP/9.9\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET nopath HTTP/1.1\r\n\r\n",
            "GET /\u{7f}x HTTP/1.1\r\n\r\n", "GET /é HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: a\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\u{01}b\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n",
            "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
        for c in cases {
            guard case .refuse(let r) = decide(c) else { Issue.record("passed: \(c.debugDescription)"); continue }
            #expect(r.status == 400, "\(c.debugDescription)")
            #expect(r.body.contains("\"fix\""), "\(c.debugDescription)")
            #expect(r.response.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && r.response.contains("Connection: close"))
        }
    }

    @Test func oversizedHeadsAreRefusedWithoutWaitingForTheirEnd() {
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 40_000)
        #expect(status(big) == 431)
        #expect(status(big + "\r\n\r\n") == 431)
        #expect(decide("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n") != .needMore)
    }

    @Test func anAnswersHeaderWithALineBreakIsNeverWritten() {
        let r = RequestHeadCheck.Refusal(
            status: 308, reason: "Permanent Redirect", contentType: "text/plain",
            headers: [.init("Location", "https://a:1/\r\nSet-Cookie: x=1"), .init("X-Ok", "fine")], bytes: Array("Use it\n".utf8))
        #expect(!r.response.contains("Set-Cookie") && r.response.contains("X-Ok: fine\r\n"))
    }

    @Test func floodsOfEmptyLinesOrHeaderLinesAreRefused() {
        #expect(status(String(repeating: "\r\n", count: 20_000)) == 431)
        let many = "GET / HTTP/1.1\r\n" + String(repeating: "a:x\r\n", count: 101) + "\r\n"
        #expect(status(many) == 431)
        let fine = "GET / HTTP/1.1\r\n" + String(repeating: "a:x\r\n", count: 99) + "\r\n"
        #expect(status(fine) == nil)
    }

    @Test func searchingFromWhereTheLastCallStoppedFindsTheSameEnd() {
        let head = Array("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        var got: RequestHeadCheck.Decision = .needMore
        var searched = 0
        for n in 1...head.count {  // a byte at a time
            got = check.decide(Array(head.prefix(n)), searchFrom: searched)
            searched = n
            if n < head.count { #expect(got == .needMore, "at \(n)") }
        }
        guard case .pass(let h) = got else { Issue.record("not passed"); return }
        #expect(h.target == "/x" && h.field("host") == "h")
    }

    @Test func refusalsAreValidJSON() {
        let r = RequestHeadCheck.Refusal(status: 400, reason: "Bad Request", error: #"a "quoted" \ thing"#, fix: "f")
        #expect(r.body == #"{"error":"a \"quoted\" \\ thing","fix":"f"}"#)
        #expect(r.response.contains("Content-Length: \(r.body.utf8.count)\r\n"))
    }
}
