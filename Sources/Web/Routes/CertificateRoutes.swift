import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /bedside-ca.crt`, `.pem`, `.mobileconfig` and `/secure` over HTTPS and from this machine (no token: the
/// CA is public, and a tablet needs it before it can pair). In plain HTTP from another machine the gate answers
/// the same requests itself (`SecureTransport.answerPlain`).
struct CertificateRoutes {
    let transport: SecureTransport

    func add(public router: Router<BedsideRequestContext>) {
        let transport = self.transport
        for form in PlainRequestPolicy.CertificateForm.allCases {
            router.get(RouterPath(form.path)) { _, _ -> Response in
                guard let bytes = transport.certificateBytes(form) else { throw HTTPError(.notFound) }
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: form.contentType, .cacheControl: "no-store",
                        .contentDisposition: "attachment; filename=\"bedside-ca.\(form.rawValue)\"",
                    ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        router.get("/secure") { _, _ -> Response in
            var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            for line in SecureTransport.pageHeaders {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let name = HTTPField.Name(parts[0]) { headers[name] = parts[1] }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: transport.setupPage())))
        }
    }
}
