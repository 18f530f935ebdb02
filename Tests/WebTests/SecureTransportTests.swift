import BedsideCore
import Foundation
import SwiftASN1
import Testing
import X509

@testable import Web

@Suite("HTTPS beyond loopback")
struct SecureTransportTests {
    @Test("the plan: loopback stays plain, the network gets Bedside's CA unless told otherwise")
    func plan() {
        #expect(TransportPlan.decide(bind: "127.0.0.1", tls: .auto) == .loopback)
        #expect(TransportPlan.decide(bind: "::1", tls: .auto) == .loopback)
        #expect(TransportPlan.decide(bind: "localhost", tls: .auto) == .loopback)
        #expect(TransportPlan.decide(bind: "0.0.0.0", tls: .auto) == .localCA)
        #expect(TransportPlan.decide(bind: "192.168.1.20", tls: .auto) == .localCA)
        #expect(TransportPlan.decide(bind: "0.0.0.0", tls: .off) == .plainOnNetwork)
        #expect(TransportPlan.decide(bind: "127.0.0.1", tls: .off) == .loopback)
        #expect(TransportPlan.decide(bind: "127.0.0.1", tls: .files(certificate: "c", key: "k")) == .files(certificate: "c", key: "k"))
        #expect(TransportPlan.localCA.encrypted && !TransportPlan.plainOnNetwork.encrypted && !TransportPlan.loopback.encrypted)
    }

    func decide(
        _ target: String, method: String = "GET", html: Bool = true, upgrade: Bool = false, secure: Bool = false,
        loopback: Bool = false, own: Bool = false
    ) -> PlainRequestPolicy.Answer {
        PlainRequestPolicy.decide(
            method: method, target: target, host: "10.0.0.1:8080", acceptsHTML: html, isUpgrade: upgrade, secure: secure,
            peerIsLoopback: loopback, ownCertificate: own)
    }

    @Test("plain HTTP from another machine: the CA and the page that explains, nothing of the patient")
    func plainPolicy() {
        #expect(decide("/?token=abc", secure: true) == .serve)
        #expect(decide("/api/status?token=abc", html: false, loopback: true) == .serve)
        #expect(decide("/?token=abc") == .setupPage)
        #expect(decide("/admin?token=abc") == .setupPage)
        #expect(decide("/secure") == .setupPage)
        #expect(decide("/bedside-ca.crt", html: false) == .certificate(.crt))
        #expect(decide("/bedside-ca.mobileconfig", method: "HEAD", html: false) == .certificate(.mobileconfig))
        #expect(decide("/bedside-ca.pem?x=1", html: false) == .certificate(.pem))
        // The API and the WebSocket: refused, naming the HTTPS address without echoing the token.
        #expect(decide("/api/status?token=abc", html: false) == .refuse("https://10.0.0.1:8080/api/status"))
        #expect(decide("/api/pair?token=abc", method: "POST") == .refuse("https://10.0.0.1:8080/api/pair"))
        #expect(decide("/ws?token=abc", upgrade: true) == .refuse("https://10.0.0.1:8080/ws"))
        // Your own certificate: straight to HTTPS; it has no CA to hand out.
        #expect(decide("/?token=abc", own: true) == .redirect("https://10.0.0.1:8080/?token=abc"))
        #expect(decide("/bedside-ca.crt", html: false, own: true) == .refuse("https://10.0.0.1:8080/bedside-ca.crt"))
    }

    @Test("where a tablet reaches Bedside: web.names first, then every address when bound to all, never loopback")
    func tabletHosts() {
        let addrs = ["192.168.8.20", "10.0.0.5"]
        #expect(BedsideSetup.tabletHosts(bind: "0.0.0.0", names: [], addresses: addrs) == addrs)
        #expect(BedsideSetup.tabletHosts(bind: "::", names: [], addresses: addrs) == addrs)
        #expect(
            BedsideSetup.tabletHosts(bind: "0.0.0.0", names: ["bedside.local", "10.0.0.5"], addresses: addrs)
                == ["bedside.local", "10.0.0.5", "192.168.8.20"])
        #expect(BedsideSetup.tabletHosts(bind: "192.168.8.20", names: [], addresses: addrs) == ["192.168.8.20"])
        #expect(BedsideSetup.tabletHosts(bind: "127.0.0.1", names: [], addresses: addrs).isEmpty)
        #expect(BedsideSetup.tabletHosts(bind: "127.0.0.1", names: ["bedside.local"], addresses: addrs).isEmpty)
        #expect(BedsideSetup.tabletHosts(bind: "localhost", names: [], addresses: addrs).isEmpty)
        // The admin overview carries them only when tablets are served over the network.
        #expect(TransportSummary(plan: .loopback, ca: nil, hosts: addrs).hosts.isEmpty)
        #expect(TransportSummary(plan: .plainOnNetwork, ca: nil, hosts: addrs).hosts == addrs)
    }

    @Test("a Host header is written back only when it is a name or address and a port")
    func hostHeader() {
        #expect(PlainRequestPolicy.checkedHost("10.0.0.1:8080") == "10.0.0.1:8080")
        #expect(PlainRequestPolicy.checkedHost("[fe80::1]:8080") == "[fe80::1]:8080")
        #expect(PlainRequestPolicy.checkedHost("bedside-pc.local") == "bedside-pc.local")
        #expect(PlainRequestPolicy.checkedHost("evil\"><script>") == nil)
        #expect(PlainRequestPolicy.checkedHost("a b") == nil)
        #expect(PlainRequestPolicy.checkedHost(nil) == nil)
    }

    @Test("the machine's names: <host>.local, <host>, localhost, its addresses and loopback")
    func names() {
        let n = ServerNames.current(hostName: "Bedside-PC.clinic.example", addresses: ["192.168.0.7"])
        #expect(n.dns == ["bedside-pc.local", "bedside-pc", "localhost"])
        #expect(n.ips == ["192.168.0.7", "127.0.0.1", "::1"])
        #expect(n.hostName == "bedside-pc.local")
        #expect(ServerNames.current(hostName: "localhost", addresses: []).dns == ["localhost"])
        #expect(ServerNames.current(hostName: "bad_name!", addresses: []).dns == ["localhost"])
    }

    @Test("a kept server certificate is reissued for a new address, near its end, or another signer; else kept")
    func reissue() {
        let now = Date()
        let covered = ServerNames(dns: ["pc.local", "localhost"], ips: ["10.0.0.5", "127.0.0.1"])
        let later = now + 200 * 86_400
        #expect(ServerNames.reissueReason(covered: covered, wanted: covered, notAfter: later, signedByCA: true, now: now) == nil)
        let moved = ServerNames(dns: ["pc.local", "localhost"], ips: ["10.0.0.9", "127.0.0.1"])
        #expect(ServerNames.reissueReason(covered: covered, wanted: moved, notAfter: later, signedByCA: true, now: now)?.contains("10.0.0.9") == true)
        #expect(
            ServerNames.reissueReason(covered: covered, wanted: covered, notAfter: now + 10 * 86_400, signedByCA: true, now: now)?.contains("30 days") == true)
        #expect(ServerNames.reissueReason(covered: covered, wanted: covered, notAfter: now - 1, signedByCA: true, now: now)?.contains("expired") == true)
        #expect(ServerNames.reissueReason(covered: covered, wanted: covered, notAfter: later, signedByCA: false, now: now)?.contains("signed") == true)
        // An address the machine no longer has is no reason (a cable unplugged for a day).
        let fewer = ServerNames(dns: ["pc.local"], ips: ["10.0.0.5"])
        #expect(ServerNames.reissueReason(covered: covered, wanted: fewer, notAfter: later, signedByCA: true, now: now) == nil)
    }

    @Test("name constraints: private ranges and the machine's own public address, not the world")
    func constraints() {
        let n = ServerNames(dns: ["pc.local", "pc", "localhost"], ips: ["192.168.1.4", "203.0.113.9", "127.0.0.1"])
        let c = ServerNames.constraints(for: n)
        #expect(Set(c.permittedDNSDomains) == ["local", "localhost", "pc"])
        let ranges = c.permittedIPRanges.map { Array($0.bytes) }
        #expect(ranges.contains([203, 0, 113, 9, 255, 255, 255, 255]))
        #expect(!ranges.contains { $0.count == 8 && $0[4] == 0 }, "no /0: the CA cannot vouch for every address")
        #expect(ServerNames.covers([192, 168, 0, 0, 255, 255, 0, 0], [192, 168, 1, 4]))
        #expect(!ServerNames.covers([192, 168, 0, 0, 255, 255, 0, 0], [192, 169, 1, 4]))
    }

    static func folder() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-ca-\(UUID().uuidString)").path
        return d
    }

    @Test("first start makes a CA and a server certificate that verifies against it, names, constraints and all")
    func makesAndVerifies() async throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = ServerNames.current(hostName: "clinic-pc", addresses: ["10.20.0.1"])
        let ca = try LocalCA.loadOrCreate(folder: dir, names: names)
        #expect(ca.issued == "first start")
        #expect(ca.fingerprint.count == 32 * 3 - 1)
        let root = try Certificate(derEncoded: ca.caDER)
        let leaf = try Certificate(pemEncoded: ca.serverPEM)
        #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(try root.extensions.nameConstraints != nil)
        #expect(try leaf.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(ServerNames(certificate: leaf) == names)
        #expect(leaf.notValidAfter.timeIntervalSinceNow < 398 * 86_400)
        // RFC 5280 path validation, with the CA's name constraints applied to the leaf's names.
        var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        guard case .validCertificate = result else {
            Issue.record("the server certificate does not verify: \(result)")
            return
        }
        // The private keys are the owner's alone.
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(LocalCA.caKeyFile)")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("the next start keeps both; a new address reissues the server certificate under the same CA")
    func keepsAndReissues() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = ServerNames.current(hostName: "clinic-pc", addresses: ["10.20.0.1"])
        let first = try LocalCA.loadOrCreate(folder: dir, names: names)
        let again = try LocalCA.loadOrCreate(folder: dir, names: names)
        #expect(again.issued == nil && again.fingerprint == first.fingerprint && again.serverPEM == first.serverPEM)
        let moved = try LocalCA.loadOrCreate(folder: dir, names: ServerNames.current(hostName: "clinic-pc", addresses: ["10.20.0.7"]))
        #expect(moved.issued?.contains("10.20.0.7") == true)
        #expect(moved.fingerprint == first.fingerprint, "the tablets keep the CA they installed")
        #expect(moved.serverPEM != first.serverPEM)
        // A year on, within 30 days of its end: reissued.
        let late = try LocalCA.loadOrCreate(
            folder: dir, names: moved.names, now: Date() + LocalCA.serverLifetime - 10 * 86_400)
        #expect(late.issued?.contains("30 days") == true && late.fingerprint == first.fingerprint)
    }

    @Test("names the CA may not vouch for (a renamed machine, another domain) are left out of the certificate and said")
    func outsideConstraints() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try LocalCA.loadOrCreate(folder: dir, names: ServerNames.current(hostName: "pc-one", addresses: ["10.0.0.2"]))
        // The machine renamed, and a public address it did not have when the CA was made.
        let later = try LocalCA.loadOrCreate(
            folder: dir, names: ServerNames(dns: ["pc-two.local", "pc-two", "localhost"], ips: ["10.0.0.2", "198.51.100.7"]))
        #expect(Set(later.outsideConstraints) == ["pc-two", "198.51.100.7"])
        #expect(later.names.dns.contains("pc-two.local") && !later.names.dns.contains("pc-two"))
        #expect(!later.names.ips.contains("198.51.100.7") && later.names.ips.contains("10.0.0.2"))
        // Kept at the next start with the same names (the ones left out are no reason to reissue each time).
        let again = try LocalCA.loadOrCreate(
            folder: dir, names: ServerNames(dns: ["pc-two.local", "pc-two", "localhost"], ips: ["10.0.0.2", "198.51.100.7"]))
        #expect(again.issued == nil)
    }

    @Test("a CA whose key is not its own is an error naming the folder and the fix")
    func mismatchedKey() throws {
        let a = Self.folder(), b = Self.folder()
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        let names = ServerNames.current(hostName: "pc", addresses: [])
        _ = try LocalCA.loadOrCreate(folder: a, names: names)
        _ = try LocalCA.loadOrCreate(folder: b, names: names)
        try FileManager.default.removeItem(atPath: "\(a)/\(LocalCA.caKeyFile)")
        try FileManager.default.copyItem(atPath: "\(b)/\(LocalCA.caKeyFile)", toPath: "\(a)/\(LocalCA.caKeyFile)")
        #expect {
            try LocalCA.loadOrCreate(folder: a, names: names)
        } throws: { e in
            "\(e)".contains(a) && "\(e)".contains("remove the folder")
        }
    }

    @Test("the iPad profile holds the CA and is the same each time (installing it twice replaces it)")
    func mobileConfig() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = try LocalCA.loadOrCreate(folder: dir, names: ServerNames.current(hostName: "pc", addresses: []))
        let profile = ca.mobileConfig(displayName: "Bedside (pc.local)")
        #expect(profile == ca.mobileConfig(displayName: "Bedside (pc.local)"))
        #expect(profile.contains("com.apple.security.root"))
        let b64 = Data(ca.caDER).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        #expect(profile.contains(b64))
        let uuids = profile.components(separatedBy: "<key>PayloadUUID</key><string>").dropFirst().map { String($0.prefix(36)) }
        #expect(uuids.count == 2 && Set(uuids).count == 2 && uuids.allSatisfy { UUID(uuidString: $0) != nil })
    }
}
