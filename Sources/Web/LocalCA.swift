import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// Bedside's own certificate authority, made at first start and kept in the state folder (`<state>/tls`), and the
/// server certificate it signs for this machine's addresses and names. A tablet that installs the CA once (the
/// pairing page says how) then trusts Bedside's HTTPS without any warning, and nothing else: the CA is
/// name-constrained to `.local` names, `localhost`, this machine's name and private address ranges, so installing
/// it cannot let it vouch for a bank's site.
public struct LocalCA: Sendable {
    /// The CA certificate, PEM (what a tablet installs) and DER (`.crt`, what iPadOS, Android and Windows open).
    public let caPEM: String
    public let caDER: [UInt8]
    /// SHA-256 of the CA's DER, as `AB:CD:...` (what the console prints and the pairing page shows to compare).
    public let fingerprint: String
    /// The server certificate and its private key, PEM.
    public let serverPEM: String
    public let serverKeyPEM: String
    /// When the server certificate stops being valid.
    public let serverNotAfter: Date
    /// What the server certificate covers.
    public let names: ServerNames
    /// Why the server certificate was (re)issued at this start, nil when the kept one still fits.
    public let issued: String?
    /// Names and addresses the machine has that the CA may not vouch for (left out of the certificate).
    public let outsideConstraints: [String]

    /// The files in the folder.
    public static let caFile = "bedside-ca.pem", caKeyFile = "bedside-ca-key.pem"
    public static let serverFile = "server.pem", serverKeyFile = "server-key.pem"

    /// A server certificate lives 397 days (what browsers accept of a public one; Apple's rules for a locally
    /// installed CA allow more, nothing is gained by it) and is reissued 30 days before it ends.
    public static let serverLifetime: TimeInterval = 397 * 86_400
    public static let renewBefore: TimeInterval = 30 * 86_400
    public static let caLifetime: TimeInterval = 10 * 365 * 86_400

    /// Loads the CA and server certificate from `folder`, making what is missing: the CA once (a new CA means
    /// every tablet installs it again, so it is kept whatever else changes), the server certificate whenever it
    /// does not cover `names`, ends within 30 days, or was not signed by this CA.
    public static func loadOrCreate(folder: String, names: ServerNames, now: Date = Date()) throws -> LocalCA {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LocalCAError("cannot make \(folder) for Bedside's certificates (\(error.localizedDescription))")
        }
        let caPath = "\(folder)/\(caFile)", caKeyPath = "\(folder)/\(caKeyFile)"
        let serverPath = "\(folder)/\(serverFile)", serverKeyPath = "\(folder)/\(serverKeyFile)"

        var ca: Certificate
        var caKey: Certificate.PrivateKey
        chmod(folder, 0o700)  // an existing folder too: the keys are in it
        if fm.fileExists(atPath: caPath) && fm.fileExists(atPath: caKeyPath) {
            do {
                ca = try Certificate(pemEncoded: try String(contentsOfFile: caPath, encoding: .utf8))
                caKey = try Certificate.PrivateKey(pemEncoded: try String(contentsOfFile: caKeyPath, encoding: .utf8))
            } catch {
                throw LocalCAError(
                    "\(caPath) or \(caKeyPath) cannot be read as Bedside's certificate authority (\(error)). Remove the folder \(folder) "
                        + "to make a new one (every tablet then installs the new certificate once), or give web.tls your own certificate")
            }
            guard ca.publicKey == caKey.publicKey else {
                throw LocalCAError("\(caKeyPath) is not the key of \(caPath): remove the folder \(folder) to make a new pair")
            }
        } else {
            let key = P256.Signing.PrivateKey()
            caKey = Certificate.PrivateKey(key)
            ca = try makeCA(key: caKey, names: names, now: now)
            // The key last: a crash between the two leaves a certificate without a key, which is made again,
            // never a key without its certificate.
            try writeFile(ca.serializeAsPEM().pemString, to: caPath + ".new", private: false)
            try writeFile(caKey.serializeAsPEM().pemString, to: caKeyPath, private: true)
            try? fm.removeItem(atPath: caPath)
            try fm.moveItem(atPath: caPath + ".new", toPath: caPath)
        }

        // A certificate naming anything the CA may not sign for is refused by browsers for every name in it
        // (a renamed machine, a container's changing host name, a name under another domain): those are left
        // out, and said.
        let (names, outside) = ServerNames.permitted(names, by: (try? ca.extensions.nameConstraints) ?? nil)
        var reason: String? = nil
        var server: Certificate? = nil
        var serverKey: Certificate.PrivateKey? = nil
        if let pem = try? String(contentsOfFile: serverPath, encoding: .utf8), let cert = try? Certificate(pemEncoded: pem),
            let keyPEM = try? String(contentsOfFile: serverKeyPath, encoding: .utf8),
            let key = try? Certificate.PrivateKey(pemEncoded: keyPEM), key.publicKey == cert.publicKey
        {
            let signed = ca.publicKey.isValidSignature(cert.signature, for: cert) && cert.issuer == ca.subject
            reason = ServerNames.reissueReason(
                covered: ServerNames(certificate: cert), wanted: names, notAfter: cert.notValidAfter, signedByCA: signed, now: now)
            if reason == nil {
                server = cert
                serverKey = key
            }
        } else {
            reason = fm.fileExists(atPath: serverPath) ? "the kept server certificate could not be read" : "first start"
        }
        if server == nil {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let cert = try makeServer(key: key, names: names, ca: ca, caKey: caKey, now: now)
            try writeFile(key.serializeAsPEM().pemString, to: serverKeyPath, private: true)
            try writeFile(cert.serializeAsPEM().pemString, to: serverPath, private: false)
            server = cert
            serverKey = key
        }
        guard let server, let serverKey else { throw LocalCAError("no server certificate") }
        var der = DER.Serializer()
        try der.serialize(ca)
        let caDER = der.serializedBytes
        return LocalCA(
            caPEM: try ca.serializeAsPEM().pemString, caDER: caDER, fingerprint: fingerprint(of: caDER),
            serverPEM: try server.serializeAsPEM().pemString, serverKeyPEM: try serverKey.serializeAsPEM().pemString,
            serverNotAfter: server.notValidAfter, names: ServerNames(certificate: server), issued: reason,
            outsideConstraints: outside)
    }

    public static func fingerprint(of der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    static func makeCA(key: Certificate.PrivateKey, names: ServerNames, now: Date) throws -> Certificate {
        let host = names.hostName ?? "this machine"
        let subject = try DistinguishedName {
            OrganizationName("Bedside")
            CommonName("Bedside local CA (\(host), \(Self.stamp(now)))")
        }
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: now - 3600,
            notValidAfter: now + caLifetime, issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
                Critical(ServerNames.constraints(for: names))
            }, issuerPrivateKey: key)
    }

    static func makeServer(
        key: Certificate.PrivateKey, names: ServerNames, ca: Certificate, caKey: Certificate.PrivateKey, now: Date
    ) throws -> Certificate {
        let subject = try DistinguishedName {
            OrganizationName("Bedside")
            CommonName(names.dns.first ?? "localhost")
        }
        let caKeyID = try? ca.extensions.subjectKeyIdentifier?.keyIdentifier
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: now - 3600,
            notValidAfter: min(now + serverLifetime, ca.notValidAfter), issuer: ca.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectKeyIdentifier(hash: key.publicKey)
                if let caKeyID { AuthorityKeyIdentifier(keyIdentifier: caKeyID) }
                SubjectAlternativeNames(names.generalNames)
            }, issuerPrivateKey: caKey)
    }

    static func stamp(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f.string(from: d)
    }

    /// Written whole or not at all (a temporary file renamed over it), created with its final mode: a private
    /// key is never readable by others, not even for a moment.
    static func writeFile(_ text: String, to path: String, private isPrivate: Bool) throws {
        let tmp = path + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, isPrivate ? 0o600 : 0o644)
        guard fd >= 0 else { throw LocalCAError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(tmp)
            throw LocalCAError("cannot write \(tmp) (is the disk full?)")
        }
        guard rename(tmp, path) == 0 else { throw LocalCAError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// An Apple configuration profile holding the CA (what iPadOS installs from Safari), with stable UUIDs (the
    /// same CA gives the same profile, so installing it twice replaces it instead of adding a second).
    public func mobileConfig(displayName: String) -> String {
        let base64 = Data(caDER).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        let hex = fingerprint.replacingOccurrences(of: ":", with: "")
        func uuid(_ salt: String) -> String {
            let h = Array(SHA256.hash(data: Data((salt + hex).utf8)).prefix(16))
            let s = h.map { String(format: "%02X", $0) }.joined()
            let c = Array(s)
            return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
        }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let short = String(hex.prefix(12)).lowercased()
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
            <plist version="1.0">
            <dict>
              <key>PayloadContent</key>
              <array>
                <dict>
                  <key>PayloadCertificateFileName</key><string>bedside-ca.crt</string>
                  <key>PayloadContent</key>
                  <data>
            \(base64)
                  </data>
                  <key>PayloadDescription</key><string>Lets this device trust the Bedside live page served from the clinic's mini PC.</string>
                  <key>PayloadDisplayName</key><string>\(esc(displayName))</string>
                  <key>PayloadIdentifier</key><string>org.bedside.ca.\(short).cert</string>
                  <key>PayloadType</key><string>com.apple.security.root</string>
                  <key>PayloadUUID</key><string>\(uuid("cert"))</string>
                  <key>PayloadVersion</key><integer>1</integer>
                </dict>
              </array>
              <key>PayloadDisplayName</key><string>\(esc(displayName))</string>
              <key>PayloadIdentifier</key><string>org.bedside.ca.\(short)</string>
              <key>PayloadRemovalDisallowed</key><false/>
              <key>PayloadType</key><string>Configuration</string>
              <key>PayloadUUID</key><string>\(uuid("profile"))</string>
              <key>PayloadVersion</key><integer>1</integer>
            </dict>
            </plist>

            """
    }
}

public struct LocalCAError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The names and addresses a server certificate must cover, and the rules on them: a pure value, tested alone.
public struct ServerNames: Sendable, Equatable {
    /// DNS names: `<host>.local`, `<host>`, `localhost`.
    public var dns: [String]
    /// IP addresses, as text (IPv4 dotted, IPv6 as written).
    public var ips: [String]

    public init(dns: [String], ips: [String]) {
        self.dns = Self.unique(dns.map { $0.lowercased() })
        self.ips = Self.unique(ips)
    }

    /// This machine: its host name (and `.local`, what mDNS answers on a clinic network), `localhost`, every IPv4
    /// address it has, and loopback.
    public static func current(hostName: String = ServerNames.machineName(), addresses: [String]) -> ServerNames {
        var dns: [String] = []
        let host = hostName.split(separator: ".").first.map(String.init)?.lowercased() ?? ""
        if Self.isDNSLabel(host), host != "localhost" { dns += ["\(host).local", host] }
        dns.append("localhost")
        return ServerNames(dns: dns, ips: addresses + ["127.0.0.1", "::1"])
    }

    /// gethostname(2): no name lookup (Foundation's hostName may ask DNS, which an offline clinic box cannot
    /// answer quickly).
    public static func machineName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The machine's name, as the first DNS name says it (nil when only `localhost`).
    public var hostName: String? { dns.first.flatMap { $0 == "localhost" ? nil : $0 } }

    init(certificate: Certificate) {
        var dns: [String] = [], ips: [String] = []
        if let san = try? certificate.extensions.subjectAlternativeNames {
            for n in san {
                switch n {
                case .dnsName(let d): dns.append(d)
                case .ipAddress(let o): if let t = Self.text(ofIP: Array(o.bytes)) { ips.append(t) }
                default: break
                }
            }
        }
        self.init(dns: dns, ips: ips)
    }

    /// Why a kept certificate must be reissued, or nil: a name or address it does not cover (a new network), an
    /// end within `LocalCA.renewBefore`, or another signer.
    public static func reissueReason(covered: ServerNames, wanted: ServerNames, notAfter: Date, signedByCA: Bool, now: Date) -> String? {
        guard signedByCA else { return "the kept server certificate was not signed by this CA" }
        if notAfter.timeIntervalSince(now) < LocalCA.renewBefore {
            return notAfter < now ? "the kept server certificate has expired" : "the kept server certificate ends within 30 days"
        }
        let missing = wanted.dns.filter { !covered.dns.contains($0) } + wanted.ips.filter { !covered.ips.contains($0) }
        if !missing.isEmpty { return "new name or address: \(missing.joined(separator: ", "))" }
        return nil
    }

    var generalNames: [GeneralName] {
        dns.map { GeneralName.dnsName($0) } + ips.compactMap { Self.bytes(ofIP: $0).map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0[...])) } }
    }

    /// What the CA may sign for: `.local` names, `localhost`, this machine's plain name; private, link-local,
    /// shared (CGNAT) and loopback IPv4 ranges, IPv6 unique-local, link-local and loopback; plus any address the
    /// machine has beyond those at the CA's making (a clinic network on public addresses).
    static func constraints(for names: ServerNames) -> NameConstraints {
        var dns = ["local", "localhost"]
        dns += names.dns.filter { !$0.contains(".") && $0 != "localhost" }
        var ranges: [[UInt8]] = [
            [10, 0, 0, 0, 255, 0, 0, 0], [172, 16, 0, 0, 255, 240, 0, 0], [192, 168, 0, 0, 255, 255, 0, 0],
            [169, 254, 0, 0, 255, 255, 0, 0], [100, 64, 0, 0, 255, 192, 0, 0], [127, 0, 0, 0, 255, 0, 0, 0],
            [0xfc] + [UInt8](repeating: 0, count: 15) + [0xfe] + [UInt8](repeating: 0, count: 15),
            [0xfe, 0x80] + [UInt8](repeating: 0, count: 14) + [0xff, 0xc0] + [UInt8](repeating: 0, count: 14),
            [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0xff, count: 16),
        ]
        for ip in names.ips {
            guard let b = bytes(ofIP: ip), !ranges.contains(where: { covers($0, b) }) else { continue }
            ranges.append(b + [UInt8](repeating: 0xff, count: b.count))
        }
        return NameConstraints(permittedDNSDomains: dns, permittedIPRanges: ranges.map { ASN1OctetString(contentBytes: $0[...]) })
    }

    /// The names a CA with `constraints` may sign for, and the ones it may not (DNS: the name or under it; IP: in
    /// a permitted range). No constraints: all.
    static func permitted(_ names: ServerNames, by constraints: NameConstraints?) -> (ServerNames, outside: [String]) {
        guard let c = constraints else { return (names, []) }
        let domains = Array(c.permittedDNSDomains).map { $0.lowercased() }
        let ranges = Array(c.permittedIPRanges).map { Array($0.bytes) }
        let dnsOK = names.dns.filter { n in domains.contains { n == $0 || n.hasSuffix("." + $0) } }
        let ipOK = names.ips.filter { ip in bytes(ofIP: ip).map { b in ranges.contains { covers($0, b) } } ?? false }
        let outside = names.dns.filter { !dnsOK.contains($0) } + names.ips.filter { !ipOK.contains($0) }
        return (ServerNames(dns: dnsOK, ips: ipOK), outside)
    }

    /// Whether a constraint range (address then mask) holds an address of the same family.
    static func covers(_ range: [UInt8], _ address: [UInt8]) -> Bool {
        guard range.count == address.count * 2 else { return false }
        let n = address.count
        return (0..<n).allSatisfy { address[$0] & range[n + $0] == range[$0] & range[n + $0] }
    }

    public static func isIPAddress(_ s: String) -> Bool { bytes(ofIP: s) != nil }

    static func bytes(ofIP s: String) -> [UInt8]? {
        if s.contains(":") {
            var a = in6_addr()
            guard inet_pton(AF_INET6, s, &a) == 1 else { return nil }
            return withUnsafeBytes(of: &a) { Array($0) }
        }
        var a = in_addr()
        guard inet_pton(AF_INET, s, &a) == 1 else { return nil }
        return withUnsafeBytes(of: &a) { Array($0) }
    }

    static func text(ofIP b: [UInt8]) -> String? {
        var out = [CChar](repeating: 0, count: 64)
        let family = b.count == 4 ? AF_INET : (b.count == 16 ? AF_INET6 : -1)
        guard family != -1, b.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &out, 64) }) != nil else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isDNSLabel(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 63 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } && s.first != "-"
            && s.last != "-"
    }

    static func unique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }
}
