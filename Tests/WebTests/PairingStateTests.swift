import Testing
import Web

@Suite("Pairing: which tablets may see the page")
struct PairingStateTests {
    func paired(_ r: PairingState.PairResult) -> PairingState.Device? {
        if case .paired(let d) = r { return d }
        return nil
    }

    @Test("the code pairs one tablet, which then holds its own token; the code is replaced")
    func pairOnce() throws {
        var s = PairingState(code: "123456")
        let d = try #require(paired(s.pair(code: "123 456", name: " Tablet A ", client: "10.0.0.5", now: 0, newCode: "654321", newToken: "tok-a", newID: "a")))
        #expect(d.name == "Tablet A" && d.token == "tok-a")
        #expect(s.code == "654321")
        #expect(s.identify("tok-a", console: "console-token") == .device(id: "a"))
        #expect(s.identify("console-token", console: "console-token") == .console)
        #expect(s.identify("nope", console: "console-token") == nil)
        #expect(s.identify(nil, console: "console-token") == nil)
        // The old code does not pair a second tablet.
        let r1 = s.pair(code: "123456", name: "", client: "10.0.0.6", now: 1, newCode: "x", newToken: "t", newID: "b")
        #expect(r1 == .wrongCode(attemptsLeft: 4))
    }

    @Test("five wrong codes in a minute lock that client out for a minute; others are not affected")
    func lockout() {
        var s = PairingState(code: "111111")
        for i in 0..<4 {
            let r2 = s.pair(code: "000000", name: "", client: "evil", now: Double(i), newCode: "c", newToken: "t", newID: "i")
            #expect(
                r2
                    == .wrongCode(attemptsLeft: 4 - i))
        }
        let r3 = s.pair(code: "000000", name: "", client: "evil", now: 4, newCode: "c", newToken: "t", newID: "i")
        #expect(r3 == .lockedOut(untilSeconds: 60))
        // Even the right code is refused while locked out.
        if case .lockedOut = s.pair(code: "111111", name: "", client: "evil", now: 30, newCode: "c", newToken: "t", newID: "i") {
        } else {
            Issue.record("a locked-out client paired")
        }
        let r4 = s.pair(code: "111111", name: "", client: "nurse", now: 30, newCode: "c2", newToken: "t2", newID: "n")
        #expect(paired(r4) != nil)
        // After the lock-out, the client may try again.
        let r5 = s.pair(code: "000000", name: "", client: "evil", now: 65, newCode: "c", newToken: "t", newID: "i")
        #expect(r5 == .wrongCode(attemptsLeft: 4))
    }

    @Test("wrong codes spread over more than a minute do not lock out")
    func slowGuessesAreCountedInAWindow() {
        var s = PairingState(code: "111111")
        for i in 0..<10 {
            let r6 = s.pair(code: "000000", name: "", client: "x", now: Double(i) * 20, newCode: "c", newToken: "t", newID: "i")
            #expect(r6 != .lockedOut(untilSeconds: 60))
        }
    }

    @Test("a revoked tablet's token stops working; revoking twice or an unknown id is refused")
    func revoke() throws {
        var s = PairingState(code: "123456")
        _ = s.pair(code: "123456", name: "a", client: "c", now: 0, newCode: "222222", newToken: "tok-a", newID: "a")
        _ = s.pair(code: "222222", name: "b", client: "c", now: 0, newCode: "333333", newToken: "tok-b", newID: "b")
        let r7 = s.revoke(id: "a")
        #expect(r7)
        #expect(s.identify("tok-a", console: "k") == nil)
        #expect(!s.isValid(.device(id: "a")))
        #expect(s.identify("tok-b", console: "k") == .device(id: "b"))
        let r8 = s.revoke(id: "a")
        #expect(!r8)
        let r9 = s.revoke(id: "zzz")
        #expect(!r9)
    }

    @Test("an empty code never pairs")
    func emptyCode() {
        var s = PairingState(code: "123456")
        let r10 = s.pair(code: "", name: "", client: "c", now: 0, newCode: "1", newToken: "t", newID: "i")
        #expect(paired(r10) == nil)
        #expect(!PairingState.constantTimeEqual("12345", "123456"))
        #expect(PairingState.constantTimeEqual("123456", "123456"))
    }
}
