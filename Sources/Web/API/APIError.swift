import BedsideCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Every refusal and failure of the HTTP API: the status, what is wrong and the fix, as `{"error","fix"}` JSON.
/// A route throws it; Hummingbird turns it into the response (`HTTPResponseError`).
public struct APIError: Error, HTTPResponseError, Encodable, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var error: String
    public var fix: String
    /// Wrong pairing codes: how many tries are left before the lockout.
    public var attemptsLeft: Int?

    public init(_ status: HTTPResponse.Status, _ error: String, fix: String, attemptsLeft: Int? = nil) {
        self.status = status
        self.error = error
        self.fix = fix
        self.attemptsLeft = attemptsLeft
    }

    public var description: String { "\(status.code) \(error) (fix: \(fix))" }

    enum CodingKeys: String, CodingKey {
        case error, fix
        case attemptsLeft = "attempts_left"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONReply.response(self, status: status)
    }

    // The refusals more than one route gives.
    public static let noToken = APIError(
        .unauthorized, "pairing token missing or wrong", fix: "open the link with ?token=... that Bedside printed at start-up")
    public static func wrongPIN(fix: String) -> APIError { APIError(.forbidden, "admin PIN missing or wrong", fix: fix) }
    public static let foreignOrigin = APIError(.forbidden, "request from another site's page", fix: "use Bedside's own pages")
}

/// A JSON answer: any wire type, encoded the one way (`JSONWire`), never cached.
public enum JSONReply {
    public static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: JSONWire.string(value))))
    }

    /// JSON text Bedside already holds (the status it broadcasts).
    public static func response(text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
