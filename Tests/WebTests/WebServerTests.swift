import BedsideCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import Web

@Suite("Web server: page, status and access control")
struct WebServerTests {
    func makeServer() -> WebServer {
        let hub = Hub(displayWidth: nil, quality: 70, logger: Logger(label: "test"))
        var config = WebConfig()
        config.port = 0
        return WebServer(
            hub: hub, config: config, token: "secret-token-1", logger: Logger(label: "test"),
            status: { #"{"type":"status","viewers":0}"# }, hello: { #"{"type":"hello"}"# }, onListening: { _ in })
    }

    @Test("status needs the pairing token; the refusal says how to fix it")
    func statusNeedsToken() async throws {
        try await makeServer().makeApplication().test(.live) { client in
            try await client.execute(uri: "/api/status", method: .get) { r in
                #expect(r.status == .unauthorized)
                #expect(String(buffer: r.body).contains("token"))
            }
            try await client.execute(uri: "/api/status?token=wrong-token-1", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/api/status?token=secret-token-1", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"status\""))
            }
            try await client.execute(
                uri: "/api/status", method: .get, headers: [.authorization: "Bearer secret-token-1"]
            ) { r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test("the page and its assets are served without a build step")
    func pageServed() async throws {
        try await makeServer().makeApplication().test(.live) { client in
            for (path, type) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .ok)
                    #expect(r.headers[.contentType]?.hasPrefix(type) == true)
                    #expect(r.body.readableBytes > 100)
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
        }
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
