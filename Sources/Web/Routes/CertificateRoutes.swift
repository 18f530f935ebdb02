import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /bedside-ca.crt`, `.pem`, `.mobileconfig` and `/secure` over HTTPS and from this machine (no token: the
/// CA is public, and a tablet needs it before it can pair). In plain HTTP from another machine the gate answers
/// the same requests itself (`SecureTransport.answerPlain`). Without Bedside's own CA (loopback only, or your
/// own certificate) they answer 404 saying why.
struct CertificateRoutes {
    let transport: SecureTransport?

    func add(public router: Router<BedsideRequestContext>) {
        let transport = self.transport
        @Sendable func file(_ form: PlainRequestPolicy.CertificateForm) throws -> Response {
            guard let bytes = transport?.certificateBytes(form) else { throw Self.none }
            return Response(
                status: .ok,
                headers: [
                    .contentType: form.contentType, .cacheControl: "no-store",
                    .contentDisposition: "attachment; filename=\"bedside-ca.\(form.rawValue)\"",
                ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // Literal paths, one per form (the route lists of the security tests read them from here).
        router.get("/bedside-ca.crt") { _, _ in try file(.crt) }
        router.get("/bedside-ca.pem") { _, _ in try file(.pem) }
        router.get("/bedside-ca.mobileconfig") { _, _ in try file(.mobileconfig) }
        router.get("/secure") { _, _ -> Response in
            guard let transport, transport.ca != nil else { throw Self.none }
            var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            for line in SecureTransport.pageHeaders {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let name = HTTPField.Name(parts[0]) { headers[name] = parts[1] }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: transport.setupPage())))
        }
    }

    static let none = APIError(
        .notFound, "this Bedside has no certificate of its own to install",
        fix: "it serves plain HTTP on this machine only, or HTTPS with the certificate of web.tls; nothing to install on the tablet")
}
