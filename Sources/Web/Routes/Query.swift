import Hummingbird

/// An action's parameters: the query string without the credentials (`token`, `pin`), last value wins.
///
/// Decoded as a form (`application/x-www-form-urlencoded`, what the pages' `URLSearchParams` send): `+` is a
/// space and `%2B` a plus. A note typed as "probe slipped at 00:40" arrives as that, not "probe+slipped+at+00:40".
public struct Query: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }
    public init(dictionaryLiteral elements: (String, String)...) { values = Dictionary(elements, uniquingKeysWith: { $1 }) }

    public init(_ request: Request) {
        self.init(formEncoded: request.uri.query ?? "")
    }

    /// The raw query string (without `?`), split on `&` and `=`, each part form-decoded.
    public init(formEncoded query: String) {
        var v: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.formDecode(parts[0])
            guard !key.isEmpty, key != "token", key != "pin" else { continue }
            v[key] = parts.count > 1 ? Self.formDecode(parts[1]) : ""
        }
        values = v
    }

    /// `+` -> space, then %XX -> the byte (UTF-8); a malformed escape is kept as written.
    static func formDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 48...57: b - 48
            case 65...70: b - 55
            case 97...102: b - 87
            default: nil
            }
        }
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), let j = utf8.index(i, offsetBy: 2, limitedBy: utf8.index(before: utf8.endIndex)),
                let hi = hex(utf8[utf8.index(after: i)]), let lo = hex(utf8[j])
            {
                bytes.append(hi << 4 | lo)
                i = j
            } else {
                bytes.append(b)
            }
            i = utf8.index(after: i)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public subscript(_ key: String) -> String? { values[key] }
}
