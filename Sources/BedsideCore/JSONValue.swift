import Foundation

/// Any JSON value, for the parts of a wire format that are the model's own (its `result` object, what it
/// declares about itself) and that Bedside passes on without knowing their shape. Everything Bedside itself
/// reads or writes is a named Codable type; this is only for what belongs to the research code.
public enum JSONValue: Sendable, Equatable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Parses JSON text; nil when it is not JSON.
    public init?(parsing text: String) {
        guard let v = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        self = v
    }

    /// Compact JSON text with sorted keys.
    public var text: String { JSONWire.string(self) }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// JSON text Bedside already holds (a model's result as the bridge validated it), carried inside a typed
/// message. Encodes as the JSON value it holds, not as a string; decodes any JSON value back to text.
public struct RawJSON: Sendable, Equatable, Codable, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }

    public init(from decoder: any Decoder) throws {
        text = try JSONValue(from: decoder).text
    }

    public func encode(to encoder: any Encoder) throws {
        guard let v = JSONValue(parsing: text) else {
            throw EncodingError.invalidValue(
                text, .init(codingPath: encoder.codingPath, debugDescription: "RawJSON holds text that is not JSON"))
        }
        try v.encode(to: encoder)
    }

    public var value: JSONValue? { JSONValue(parsing: text) }
    public var description: String { text }
}

/// The one JSON encoder and decoder configuration of Bedside's wire formats: compact, sorted keys (stable
/// lines for logs and tests), slashes not escaped.
public enum JSONWire {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .throw
        return e
    }

    /// A value as compact JSON text. Wire types keep their numbers finite; should one slip through, it is
    /// written as the string "nan" / "inf" rather than ending a clinical server over one field.
    public static func string(_ value: some Encodable) -> String {
        if let d = try? encoder().encode(value) { return String(decoding: d, as: UTF8.self) }
        let lenient = encoder()
        lenient.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? lenient.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    public static func data(_ value: some Encodable, pretty: Bool = false) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: some DataProtocol) throws -> T {
        try JSONDecoder().decode(type, from: Data(data))
    }
}
