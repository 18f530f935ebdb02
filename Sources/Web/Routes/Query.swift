import Hummingbird

/// An action's parameters: the query string without the credentials (`token`, `pin`), last value wins.
public struct Query: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }
    public init(dictionaryLiteral elements: (String, String)...) { values = Dictionary(elements, uniquingKeysWith: { $1 }) }

    public init(_ request: Request) {
        var v: [String: String] = [:]
        for (k, value) in request.uri.queryParameters where k != "token" && k != "pin" { v[String(k)] = String(value) }
        values = v
    }

    public subscript(_ key: String) -> String? { values[key] }
}
