import Testing

@testable import Web

/// The admin PIN lockout: five wrong in a row lock that caller out, doubling; a right PIN resets; others unaffected.
@Suite struct AdminPINStateTests {
    @Test func fiveWrongLockTheCallerOutAndTheLockDoubles() {
        var s = AdminPINState()
        for left in [4, 3, 2, 1] { #expect(s.check(caller: "tablet", correct: false, now: 0) == .wrong(left: left)) }
        #expect(s.check(caller: "tablet", correct: false, now: 0) == .locked(seconds: 60))
        #expect(s.check(caller: "tablet", correct: true, now: 30) == .locked(seconds: 30), "even the right PIN waits")
        #expect(s.check(caller: "console", correct: true, now: 30) == .ok, "another device is not locked out")
        for _ in 0..<4 { _ = s.check(caller: "tablet", correct: false, now: 61) }
        #expect(s.check(caller: "tablet", correct: false, now: 61) == .locked(seconds: 120))
        #expect(s.check(caller: "tablet", correct: true, now: 182) == .ok)
        #expect(s.check(caller: "tablet", correct: false, now: 183) == .wrong(left: 4), "a right PIN resets the count")
    }

    @Test func theLockNeverExceedsFifteenMinutes() {
        var s = AdminPINState()
        var now = 0.0
        var last = AdminPINState.Verdict.ok
        for _ in 0..<12 {
            for _ in 0..<5 { last = s.check(caller: "x", correct: false, now: now) }
            if case .locked(let seconds) = last { now += Double(seconds) }
        }
        #expect(last == .locked(seconds: 900))
    }
}
