import Recording
import Testing

/// The recording rules, one test each: no files, no encoder, no clock (time is passed in, in ns).
@Suite struct RecordingStateMachineTests {
    typealias Machine = RecordingStateMachine
    static let s: UInt64 = 1_000_000_000

    static func frame(_ t: UInt64, masked: Bool = true, width: Int = 640, height: Int = 360) -> Machine.FrameFacts {
        .init(ptsNanos: t, width: width, height: height, masked: masked)
    }

    /// A machine with a session open at time 0 in `/rec/a`.
    static func recording(_ policy: Machine.Policy = .init(minFreeMB: 100)) -> Machine {
        var m = Machine(policy: policy)
        let started = m.requestStart()
        #expect(started)
        #expect(m.sessionBegins() == [.openSession(retry: false)])
        #expect(m.sessionOpened(folder: "/rec/a", now: 0) == [.writeSessionFile, .checkDisk])
        return m
    }

    /// Writes one frame as the recorder would, the open file then `seconds` long and `bytes` big.
    static func write(_ m: inout Machine, _ f: Machine.FrameFacts, seconds: Double, bytes: Int64) -> [Machine.Action] {
        let actions = m.frame(f)
        if actions.contains(.writeFrame(newFile: true)) { m.fileOpened(path: "/rec/a/video", codec: "libx264") }
        if actions.contains(where: { if case .writeFrame = $0 { true } else { false } }) {
            m.frameWritten(.init(fileSeconds: seconds, fileBytes: bytes, sessionBytes: bytes))
        }
        return actions
    }

    static func isPaused(_ m: Machine) -> Bool {
        if case .paused = m.status.state { return true }
        return false
    }

    @Test func rotatesByDuration() {
        var m = Self.recording(.init(segmentSeconds: 2, minFreeMB: 100))
        #expect(Self.write(&m, Self.frame(0), seconds: 1, bytes: 10) == [.writeFrame(newFile: true)])
        #expect(Self.write(&m, Self.frame(1 * Self.s), seconds: 1.9, bytes: 20) == [.writeFrame(newFile: false)])
        #expect(Self.write(&m, Self.frame(2 * Self.s), seconds: 2, bytes: 30) == [.writeFrame(newFile: false)])
        #expect(Self.write(&m, Self.frame(3 * Self.s), seconds: 0.1, bytes: 5) == [.closeFile, .writeFrame(newFile: true)])
        #expect(m.status.segments == 2 && m.status.framesWritten == 4)
    }

    @Test func rotatesBySizeAndOnANewFrameSize() {
        var m = Self.recording(.init(segmentMB: 1, minFreeMB: 100))
        _ = Self.write(&m, Self.frame(0), seconds: 0.1, bytes: 1_048_575)
        #expect(Self.write(&m, Self.frame(1), seconds: 0.2, bytes: 1_048_576) == [.writeFrame(newFile: false)])
        #expect(Self.write(&m, Self.frame(2), seconds: 0.1, bytes: 10) == [.closeFile, .writeFrame(newFile: true)])
        #expect(Self.write(&m, Self.frame(3, width: 641, height: 361), seconds: 0.1, bytes: 10) == [.writeFrame(newFile: false)], "odd sizes encode even")
        #expect(Self.write(&m, Self.frame(4, width: 1280, height: 720), seconds: 0.1, bytes: 10) == [.closeFile, .writeFrame(newFile: true)])
    }

    @Test func lowDiskPausesAtTheThresholdAndResumesOnlyAboveItsHysteresis() {
        var m = Self.recording(.init(minFreeMB: 100))  // resumes at 100 + max(10, 10) = 110
        _ = Self.write(&m, Self.frame(0), seconds: 0.1, bytes: 10)
        #expect(m.diskChecked(freeMB: 100) == [])
        let paused = m.diskChecked(freeMB: 99)
        #expect(paused.first == .closeFile && paused.count == 2)
        guard case .paused(let why) = m.status.state else { Issue.record("not paused: \(m.status.state)"); return }
        #expect(why.contains("only 99 MB free") && why.contains("min_free_mb is 100") && m.status.alert == why)
        #expect(m.frame(Self.frame(1)) == [] && m.status.framesSkippedForDisk == 1)
        #expect(m.diskChecked(freeMB: 105) == [] && Self.isPaused(m), "inside the hysteresis band")
        #expect(m.diskChecked(freeMB: 109) == [])
        #expect(m.diskChecked(freeMB: 110).count == 1)
        #expect(m.status.state == .recording && m.status.alert == nil && m.status.freeMB == 110)
        #expect(m.frame(Self.frame(2)) == [.writeFrame(newFile: true)], "a new file after the pause")
    }

    @Test func aFailedWriteNearTheFloorPausesInsteadOfFailing() {
        var m = Self.recording(.init(minFreeMB: 100))
        _ = Self.write(&m, Self.frame(0), seconds: 0.1, bytes: 10)
        #expect(m.writeFailed("No space left on device", freeMB: 110, now: Self.s).first == .closeFile)
        #expect(Self.isPaused(m) && m.status.failures == 0)
    }

    @Test func unmaskedFramesPauseAndMaskedFramesResume() {
        var m = Self.recording(.init(minFreeMB: 100, requireMasks: true))
        _ = Self.write(&m, Self.frame(0), seconds: 0.1, bytes: 10)
        let pause = m.frame(Self.frame(1, masked: false))
        #expect(pause.first == .closeFile)
        guard case .notePause(let why)? = pause.last else { Issue.record("no pause: \(pause)"); return }
        #expect(why.contains("640x360 have no privacy mask") && m.status.alert == why)
        #expect(m.frame(Self.frame(2, masked: false)) == [], "noted once per size; never written")
        #expect(m.status.framesSkippedUnmasked == 2)
        let resume = m.frame(Self.frame(3))
        #expect(resume.count == 2 && resume.last == .writeFrame(newFile: true))
        #expect(m.status.state == .recording && m.status.alert == nil)
    }

    @Test func unmaskedFramesAreWrittenWhenAllowed() {
        var m = Self.recording(.init(minFreeMB: 100, requireMasks: false))
        #expect(m.frame(Self.frame(0, masked: false)) == [.writeFrame(newFile: true)])
    }

    @Test func alwaysModeRetriesAFailureEveryTenSeconds() {
        var m = Self.recording(.init(minFreeMB: 100, mode: "always"))
        #expect(m.writeFailed("encoder broke", freeMB: 5000, now: 3 * Self.s) == [.closeFile, .noteFailure("encoder broke"), .finishSession])
        m.sessionClosed()
        #expect(m.status.state == .failed("encoder broke") && m.status.failures == 1)
        #expect(m.status.alert?.contains("tries again every 10 s") == true)
        #expect(m.tick(now: 12 * Self.s) == [], "not before 10 s")
        #expect(m.tick(now: 13 * Self.s) == [.openSession(retry: true)])
        #expect(m.accepting)
        // The retry fails too (the folder still cannot be made): the next one is 10 s later again.
        #expect(m.failed("cannot create the recording folder", now: 13 * Self.s) == [.noteFailure("cannot create the recording folder")])
        #expect(m.retryAt == 23 * Self.s && m.status.failures == 2)
        #expect(m.tick(now: 23 * Self.s) == [.openSession(retry: true)])
        #expect(m.sessionOpened(folder: "/rec/b", now: 23 * Self.s).count == 2)
        #expect(m.status.state == .recording && m.status.failures == 2 && m.status.sessions == 2)
        #expect(m.status.sessionFolders == ["/rec/a", "/rec/b"], "every folder of the run, for the shutdown summary")
    }

    @Test func manualModeAndAnOperatorsStopDoNotRetry() {
        var manual = Self.recording(.init(minFreeMB: 100, mode: "manual"))
        _ = manual.failed("x", now: 0)
        #expect(manual.retryAt == nil && manual.status.alert?.contains("start recording again") == true)
        var always = Self.recording(.init(minFreeMB: 100, mode: "always"))
        _ = always.failed("x", now: 0)
        #expect(always.requestStop() == .cancelledRetry && always.retryAt == nil && always.status.alert == nil)
        #expect(always.tick(now: 60 * Self.s) == [])
    }

    @Test func retentionRunsAtOnceThenOnceAMinute() {
        var m = Machine(policy: .init(retention: true))
        #expect(m.tick(now: 5 * Self.s) == [.applyRetention])
        #expect(m.tick(now: 64 * Self.s) == [])
        #expect(m.tick(now: 65 * Self.s) == [.applyRetention])
        let started = m.requestStart()
        #expect(started && m.sessionBegins() == [.openSession(retry: false)])
        #expect(m.tick(now: 66 * Self.s) == [.applyRetention], "a new session runs it at once")
        var off = Machine(policy: .init(retention: false))
        #expect(off.tick(now: 0) == [])
    }

    @Test func checksTheDiskEverySecondAndRewritesSessionJSONEveryTen() {
        var m = Self.recording()
        #expect(m.tick(now: Self.s / 2) == [])
        #expect(m.tick(now: Self.s) == [.checkDisk])
        #expect(m.tick(now: 10 * Self.s) == [.checkDisk, .writeSessionFile])
    }

    @Test func aDeletedFolderIsMadeAgainAndRecordingGoesOnInANewFile() {
        var m = Self.recording()
        _ = Self.write(&m, Self.frame(0), seconds: 0.1, bytes: 10)
        #expect(m.folderMissing() == [.closeFile, .remakeFolder])
        let told = m.folderRemade("/rec/a")
        #expect(m.status.alert?.contains("/rec/a was deleted") == true && told.count == 1)
        #expect(m.status.state == .recording)
        #expect(m.frame(Self.frame(1)) == [.writeFrame(newFile: true)])
    }

    @Test func aDeletedFolderThatCannotBeMadeAgainFailsTheSessionAndTheRetryOpensANewFolder() {
        var m = Self.recording(.init(minFreeMB: 100, mode: "always"))
        #expect(m.folderMissing() == [.closeFile, .remakeFolder])
        #expect(m.failed("cannot be made again", now: 0) == [.noteFailure("cannot be made again"), .finishSession])
        #expect(!m.hasSession && m.tick(now: 10 * Self.s) == [.openSession(retry: true)])
    }

    @Test func stopEndsTheSessionAfterTheFramesOfferedBeforeIt() {
        var m = Self.recording()
        #expect(m.requestStop() == .endSession && !m.accepting)
        #expect(m.requestStop() == .refused)
        #expect(m.frame(Self.frame(0)) == [.writeFrame(newFile: true)], "queued before the end marker: written")
        #expect(m.sessionEnds() == [.finishSession])
        #expect(m.status.state == .recording, "idle only once the files are finished")
        m.sessionClosed()
        #expect(m.status.state == .idle)
        #expect(m.frame(Self.frame(1)) == [])
        let again = m.requestStart()
        #expect(again)
    }

    @Test func shutdownRefusesNewSessionsAndDrainingFinishesTheOpenOne() {
        var m = Self.recording()
        m.shutdown()
        let started = m.requestStart()
        #expect(!started && !m.accepting)
        #expect(m.drained() == [.finishSession])
        _ = m.closeFailed("trailer", now: 0)
        #expect(m.retryAt == nil, "no retry after shutdown")
    }

    @Test func aSecondStartMarkerFinishesTheOpenSessionFirst() {
        var m = Self.recording()
        #expect(m.sessionBegins() == [.finishSession, .openSession(retry: false)])
    }
}
