import BedsideCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Study
import Synchronization
import Testing

@testable import Web

/// A recorder stand-in: answers what it was told to, counts the calls.
final class FakeRecording: RecordingControl {
    let reply: RecordingStartReply
    let stops = Mutex(0)
    init(_ reply: RecordingStartReply) { self.reply = reply }
    func startRecording() async -> RecordingStartReply { reply }
    func stopRecording() -> RecordingStopReply {
        stops.withLock { $0 += 1 }
        return RecordingStopReply(stopped: true)
    }
}

struct FailingSnapshots: SnapshotTaking {
    struct NoFrame: Error, CustomStringConvertible { var description: String { "no frame captured yet" } }
    func takeSnapshot() throws -> SnapshotReply { throw NoFrame() }
}

final class FakeRegions: RegionEditing {
    let applied = Mutex<[Regions]>([])
    var inputSize: (width: Int, height: Int) { (320, 240) }
    var modelNames: [String] { ["demo"] }
    func regions() -> RegionsState {
        RegionsState(
            width: 320, height: 240, masks: [], masksForThisSize: false, allowUnmasked: false,
            models: [.init(name: "demo", crop: nil, input: .init(width: nil, height: nil))], regionsFile: nil, saved: false)
    }
    func apply(_ update: Regions, size: String) -> RegionsState {
        applied.withLock { $0.append(update) }
        return regions()
    }
}

@Suite("Web server: routes, middleware and access control")
struct WebServerTests {
    static let token = "secret-token-1"
    static let pin = "424242"

    func makeServer(features: WebFeatures? = nil) -> WebServer {
        let hub = Hub(displayWidth: nil, quality: 70, logger: Logger(label: "test"))
        var config = WebConfig()
        config.port = 0
        let f =
            features
            ?? WebFeatures(
                status: { #"{"type":"status","viewers":0}"# },
                hello: { HelloMessage(version: "t", model: "m", models: ["m"], fps: 30, staleMs: 1000, width: 0, height: 0) })
        return WebServer(
            hub: hub, config: config, pairing: Pairing(consoleToken: Self.token, file: nil), adminPIN: Self.pin,
            logger: Logger(label: "test"), features: f, onListening: { _ in })
    }

    func features(
        recording: (any RecordingControl)? = nil, snapshots: (any SnapshotTaking)? = nil, study: StudyController? = nil,
        review: Review? = nil, regions: (any RegionEditing)? = nil
    ) -> WebFeatures {
        WebFeatures(
            status: { #"{"type":"status","viewers":0}"# },
            hello: { HelloMessage(version: "t", model: "m", models: ["m"], fps: 30, staleMs: 1000, width: 0, height: 0) },
            snapshots: snapshots, recording: recording, study: study, review: review, regions: regions)
    }

    static func admin(_ path: String, pin: String? = WebServerTests.pin) -> String {
        "/api/\(path)\(path.contains("?") ? "&" : "?")token=\(token)" + (pin.map { "&pin=\($0)" } ?? "")
    }

    static func body(_ r: TestResponse) -> APIErrorBody? { try? JSONWire.decode(APIErrorBody.self, from: String(buffer: r.body)) }

    struct APIErrorBody: Decodable {
        var error: String
        var fix: String
    }

    @Test("status needs the pairing token; the refusal says how to fix it")
    func statusNeedsToken() async throws {
        try await makeServer().makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/status", method: .get) { r in
                #expect(r.status == .unauthorized)
                #expect(Self.body(r)?.fix.contains("?token=") == true)
            }
            try await client.execute(uri: "/api/status?token=wrong-token-1", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/api/status?token=\(Self.token)", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"status\""))
            }
            try await client.execute(uri: "/api/status", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/status", method: .get, headers: [.cookie: "a=b; \(Access.cookieName)=\(Self.token)"]) { r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test("the page and its assets are served without a route per file")
    func pageServed() async throws {
        try await makeServer().makeApplication().test(.router) { client in
            for (path, type) in [("/", "text/html"), ("/admin", "text/html"), ("/review", "text/html"), ("/style.css", "text/css")] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .ok, "\(path)")
                    #expect(r.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    #expect(r.body.readableBytes > 100, "\(path)")
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    @Test("admin actions need the PIN: none or a wrong one is 403 with the fix, the right one passes")
    func adminNeedsPIN() async throws {
        let recording = FakeRecording(RecordingStartReply(started: true, state: "recording"))
        try await makeServer(features: features(recording: recording)).makeApplication().test(.router) { client in
            try await client.execute(uri: Self.admin("recording/stop", pin: nil), method: .post) { r in
                #expect(r.status == .forbidden)
                #expect(Self.body(r)?.fix.contains("admin PIN") == true)
            }
            try await client.execute(uri: Self.admin("recording/stop", pin: "000000"), method: .post) { r in #expect(r.status == .forbidden) }
            try await client.execute(uri: "/api/recording/stop?pin=\(Self.pin)", method: .post) { r in #expect(r.status == .unauthorized) }
            #expect(recording.stops.withLock { $0 } == 0)
            try await client.execute(
                uri: "/api/recording/stop?token=\(Self.token)", method: .post, headers: [HTTPField.Name("X-Admin-PIN")!: Self.pin]
            ) { r in
                #expect(r.status == .ok)
                #expect((try? JSONWire.decode(RecordingStopReply.self, from: String(buffer: r.body)))?.stopped == true)
            }
            try await client.execute(uri: Self.admin("recording/start"), method: .post) { r in
                #expect((try? JSONWire.decode(RecordingStartReply.self, from: String(buffer: r.body))) == .init(started: true, state: "recording"))
            }
        }
    }

    @Test("repeated wrong PINs lock the caller out (429), and even the right PIN waits")
    func pinLockout() async throws {
        try await makeServer(features: features()).makeApplication().test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<12 {
                try await client.execute(uri: Self.admin("recording/stop", pin: "111111"), method: .post) { r in statuses.append(r.status) }
            }
            #expect(statuses.first == .forbidden)
            #expect(statuses.last == .tooManyRequests)
            try await client.execute(uri: Self.admin("recording/stop"), method: .post) { r in #expect(r.status == .tooManyRequests) }
        }
    }

    @Test("a POST from another site's page is refused before anything else, even with the token and PIN")
    func foreignOrigin() async throws {
        let recording = FakeRecording(RecordingStartReply(started: true, state: "recording"))
        try await makeServer(features: features(recording: recording)).makeApplication().test(.router) { client in
            try await client.execute(
                uri: Self.admin("recording/stop"), method: .post, headers: [.origin: "http://evil.example"]
            ) { r in
                #expect(r.status == .forbidden)
                #expect(Self.body(r)?.error.contains("another site") == true)
            }
            try await client.execute(uri: "/api/pair", method: .post, headers: [.origin: "http://evil.example"], body: ByteBuffer(string: #"{"code":"1"}"#)) {
                r in
                #expect(r.status == .forbidden)
            }
            #expect(recording.stops.withLock { $0 } == 0)
        }
    }

    @Test("recording off in the config: both actions say so (409) with the config fix; a failed start is 500 with its fix")
    func recordingOffAndFailed() async throws {
        try await makeServer(features: features()).makeApplication().test(.router) { client in
            for path in ["recording/start", "recording/stop"] {
                try await client.execute(uri: Self.admin(path), method: .post) { r in
                    #expect(r.status == .conflict)
                    #expect(Self.body(r)?.fix.contains("recording: {enabled: true}") == true)
                }
            }
        }
        let failing = FakeRecording(.init(started: false, state: "failed", error: "cannot create /ro/x", fix: "make the recording folder writable"))
        try await makeServer(features: features(recording: failing)).makeApplication().test(.router) { client in
            try await client.execute(uri: Self.admin("recording/start"), method: .post) { r in
                #expect(r.status == .internalServerError)
                #expect(Self.body(r)?.error == "cannot create /ro/x")
            }
        }
    }

    @Test("a snapshot that cannot be taken is 503 with the reason and the fix; it needs only the token")
    func snapshotFails() async throws {
        try await makeServer(features: features(snapshots: FailingSnapshots())).makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/snapshot?token=\(Self.token)", method: .post) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(Self.body(r)?.error == "no frame captured yet")
            }
        }
    }

    @Test("the region editor's rectangles are checked against the frame; a bad one is 400 naming it, a good one is applied")
    func regions() async throws {
        let editor = FakeRegions()
        try await makeServer(features: features(regions: editor)).makeApplication().test(.router) { client in
            try await client.execute(uri: Self.admin("regions/save?size=320x240&masks=0,0,10,10;300,200,40,10"), method: .post) { r in
                #expect(r.status == .badRequest)
                #expect(Self.body(r)?.error.contains("mask 2") == true)
            }
            try await client.execute(uri: Self.admin("regions/save?size=320x240&masks=0,0,10,10&crop.demo=none"), method: .post) { r in
                #expect(r.status == .ok)
                #expect((try? JSONWire.decode(RegionsState.self, from: String(buffer: r.body)))?.size == "320x240")
            }
            try await client.execute(uri: Self.admin("regions/get"), method: .post) { r in #expect(r.status == .ok) }
        }
        let applied = editor.applied.withLock { $0 }
        #expect(applied.count == 1)
        #expect(applied.first?.masksBySize["320x240"] == [CropRect(x: 0, y: 0, width: 10, height: 10)])
        #expect(applied.first?.crops["demo"] == .some(nil))
    }

    @Test("study routes: start, a note with its spaces, arm, end; the review lists the session")
    func studyAndReview() async throws {
        let dir = NSTemporaryDirectory() + "web-study-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let study = StudyController(config: StudyConfig(), recorder: nil, recordingDirectory: dir, logger: Logger(label: "test"))
        let changes = Mutex(0)
        var f = features(study: study, review: Review(directory: dir))
        f.studyChanged = { changes.withLock { $0 += 1 } }
        try await makeServer(features: f).makeApplication().test(.router) { client in
            try await client.execute(uri: Self.admin("study/note?text=early"), method: .post) { r in #expect(r.status == .conflict) }
            try await client.execute(uri: Self.admin("study/start?participant=P07"), method: .post) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("P07"))
            }
            try await client.execute(uri: Self.admin("study/note?text=probe%20slipped"), method: .post) { r in #expect(r.status == .ok) }
            // What the admin page's URLSearchParams sends: + for a space, %2B for a plus (issue 18 #5).
            try await client.execute(uri: Self.admin("study/note?text=probe+slipped+at+00%3A40+%2B+gel"), method: .post) { r in
                #expect(r.status == .ok)
            }
            let folder = try #require(study.currentFolder)
            let log = try String(contentsOfFile: folder + "/study.jsonl", encoding: .utf8)
            #expect(log.contains("\"text\":\"probe slipped at 00:40 + gel\""))
            #expect(!log.contains("probe+slipped"))
            try await client.execute(uri: Self.admin("study/note"), method: .post) { r in #expect(r.status == .badRequest) }
            try await client.execute(uri: Self.admin("study/arm?arm=nonsense"), method: .post) { r in
                #expect(r.status == .badRequest)
                #expect(Self.body(r)?.fix.contains("study.arms") == true)
            }
            try await client.execute(uri: Self.admin("study/end"), method: .post) { r in #expect(r.status == .ok) }
            try await client.execute(uri: Self.admin("study/end"), method: .post) { r in #expect(r.status == .conflict) }
            try await client.execute(uri: Self.admin("review/sessions"), method: .post) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("P07"))
            }
            try await client.execute(uri: Self.admin("review/session?name=nope"), method: .post) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/api/review/image?token=\(Self.token)&pin=\(Self.pin)&name=../..&file=passwd", method: .get) { r in
                #expect(r.status == .notFound)
            }
        }
        #expect(changes.withLock { $0 } == 2)  // start and end; a refused arm changes nothing
    }

    @Test("pairing: bad JSON is 400 with the shape to send; a wrong code is 403 with the attempts left")
    func pairing() async throws {
        try await makeServer().makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/pair", method: .post, body: ByteBuffer(string: "nope")) { r in
                #expect(r.status == .badRequest)
                #expect(Self.body(r)?.error.contains(#""code""#) == true)
            }
            try await client.execute(uri: "/api/pair", method: .post, body: ByteBuffer(string: #"{"code":"000000x"}"#)) { r in
                #expect(r.status == .forbidden)
                #expect(String(buffer: r.body).contains("attempts_left"))
            }
        }
    }

    @Test("RegionRequest: sizes and rectangles are parsed or refused with the rule")
    func regionRequest() throws {
        #expect(throws: APIError.self) { try RegionRequest.parse(["size": "axb"], width: 10, height: 10, models: []) }
        #expect(throws: APIError.self) { try RegionRequest.parse(["masks": "0,0,0,5"], width: 10, height: 10, models: []) }
        #expect(throws: APIError.self) { try RegionRequest.parse(["masks": "1,2,3"], width: 10, height: 10, models: []) }
        let (size, update) = try RegionRequest.parse(["masks": "0,0,5,5", "crop.m": "1,1,4,4"], width: 10, height: 10, models: ["m"])
        #expect(size == "10x10")
        #expect(update.masksBySize["10x10"]?.count == 1)
        #expect(update.crops["m"] == .some(CropRect(x: 1, y: 1, width: 4, height: 4)))
    }
}

@Suite("JPEG encoding")
struct JPEGEncoderTests {
    @Test("gray and RGB images compress to JPEG")
    func compress() throws {
        let enc = try JPEGEncoder(quality: 75)
        let gray = [UInt8]((0..<(64 * 48)).map { UInt8($0 % 251) })
        let j = try enc.compress(gray, width: 64, height: 48, format: .gray8)
        #expect(j.prefix(2) == [0xFF, 0xD8])
        #expect(j.suffix(2) == [0xFF, 0xD9])
        let rgb = [UInt8](repeating: 128, count: 64 * 48 * 3)
        #expect(try enc.compress(rgb, width: 64, height: 48, format: .rgb24).prefix(2) == [0xFF, 0xD8])
    }
}

@Suite("Review: byte ranges and tickets")
struct ReviewAccessTests {
    @Test("Range: bytes=... as a video element sends it; a bad one is the whole file, past the end is 416")
    func ranges() {
        #expect(ByteRange.parse("bytes=0-", size: 1000) == .bytes(0...999))
        #expect(ByteRange.parse("bytes=100-199", size: 1000) == .bytes(100...199))
        #expect(ByteRange.parse("bytes=900-5000", size: 1000) == .bytes(900...999))
        #expect(ByteRange.parse("bytes=-100", size: 1000) == .bytes(900...999))
        #expect(ByteRange.parse("bytes=-5000", size: 1000) == .bytes(0...999))
        #expect(ByteRange.parse("bytes=0-9, 20-29", size: 1000) == .bytes(0...9))
        #expect(ByteRange.parse("bytes=1000-", size: 1000) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-0", size: 1000) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=20-10", size: 1000) == nil)
        #expect(ByteRange.parse("items=0-10", size: 1000) == nil)
        #expect(ByteRange.parse("bytes=abc", size: 1000) == nil)
        #expect(ByteRange.parse(nil, size: 1000) == nil)
    }

    @Test("a ticket is valid until it expires; an unknown one never; the oldest goes past the limit")
    func tickets() {
        let t = ReviewTickets(lifetimeSeconds: 100, limit: 2)
        let a = t.issue(now: 1000)
        #expect(t.isValid(a, now: 1050))
        #expect(!t.isValid(a, now: 1101))
        #expect(!t.isValid("made-up", now: 1000) && !t.isValid(nil) && !t.isValid(""))
        let b = t.issue(now: 1010), c = t.issue(now: 1020)
        #expect(!t.isValid(a, now: 1030) && t.isValid(b, now: 1030) && t.isValid(c, now: 1030))
        #expect(t.cookie(b, secure: true).contains("HttpOnly") && t.cookie(b, secure: true).contains("Path=/api/review"))
        #expect(t.cookie(b, secure: true).hasSuffix("; Secure") && !t.cookie(b, secure: false).contains("Secure"))
    }
}

extension WebServerTests {
    @Test("the review's video: byte ranges (206) by a ticket cookie the page got with the PIN; without either, 403")
    func reviewVideo() async throws {
        let dir = NSTemporaryDirectory() + "web-review-\(UUID().uuidString)"
        let folder = dir + "/S1"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "".write(toFile: folder + "/study.jsonl", atomically: true, encoding: .utf8)
        try Data((0..<1000).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: folder + "/video-000.mp4"))
        let f = features(review: Review(directory: dir))
        try await makeServer(features: f).makeApplication().test(.router) { client in
            let video = "/api/review/video?token=\(Self.token)&name=S1&file=video-000.mp4"
            try await client.execute(uri: video, method: .get) { r in #expect(r.status == .forbidden) }
            var cookie = ""
            try await client.execute(uri: Self.admin("review/ticket"), method: .post) { r in
                #expect(r.status == .ok)
                let set = r.headers[.setCookie] ?? ""
                #expect(set.hasPrefix("bedside_review=") && set.contains("HttpOnly"))
                cookie = String(set.split(separator: ";")[0])
            }
            try await client.execute(uri: video, method: .get, headers: [.cookie: cookie, .range: "bytes=100-199"]) { r in
                #expect(r.status == .partialContent)
                #expect(r.headers[.contentRange] == "bytes 100-199/1000")
                #expect(Array(r.body.readableBytesView) == (100..<200).map { UInt8($0 % 251) })
            }
            try await client.execute(uri: video, method: .get, headers: [.cookie: cookie]) { r in
                #expect(r.status == .ok)
                #expect(r.body.readableBytes == 1000)
                #expect(r.headers[.acceptRanges] == "bytes")
            }
            try await client.execute(uri: video, method: .get, headers: [.cookie: cookie, .range: "bytes=5000-"]) { r in
                #expect(r.status == .rangeNotSatisfiable)
            }
            try await client.execute(uri: video, method: .get, headers: [.cookie: "bedside_review=forged"]) { r in
                #expect(r.status == .forbidden)
            }
            let other = "/api/review/video?token=\(Self.token)&name=S1&file=study.jsonl"
            try await client.execute(uri: other, method: .get, headers: [.cookie: cookie]) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: Self.admin("review/answers?name=S1&from=5&to=1"), method: .post) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: Self.admin("review/timeline?name=S1"), method: .post) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains(#""segments":[]"#))
            }
        }
    }
}
