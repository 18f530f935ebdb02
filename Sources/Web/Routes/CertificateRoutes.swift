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
        @Sendable func respond(_ d: SecureTransport.Document?) throws -> Response {
            guard let d else { throw Self.none }
            var headers: HTTPFields = [.contentType: d.contentType, .cacheControl: "no-store"]
            for h in d.headers { if let name = HTTPField.Name(h.name) { headers[name] = h.value } }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: d.bytes)))
        }
        // Literal paths, one per form (the route lists of the security tests read them from here).
        router.get("/bedside-ca.crt") { _, _ in try respond(transport?.certificateDocument(.crt)) }
        router.get("/bedside-ca.pem") { _, _ in try respond(transport?.certificateDocument(.pem)) }
        router.get("/bedside-ca.mobileconfig") { _, _ in try respond(transport?.certificateDocument(.mobileconfig)) }
        router.get("/secure") { _, _ -> Response in
            try respond(transport.flatMap { $0.ca != nil ? $0.setupDocument() : nil })
        }
    }

    static let none = APIError(
        .notFound, "this Bedside has no certificate of its own to install",
        fix: "it serves plain HTTP on this machine only, or HTTPS with the certificate of web.tls; nothing to install on the tablet")
}
