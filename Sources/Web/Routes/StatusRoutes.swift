import BedsideCore
import Hummingbird

/// `GET /healthz` (no token: a load balancer's probe), `GET /api/status` and `GET /metrics` (token).
struct StatusRoutes {
    let status: @Sendable () -> String
    let metrics: (@Sendable () -> String)?

    func add(public router: Router<BedsideRequestContext>, viewer: RouterGroup<BedsideRequestContext>) {
        router.get("/healthz") { _, _ in "ok\n" }
        let status = self.status
        viewer.get("/api/status") { _, _ in JSONReply.response(text: status()) }
        if let metrics {
            viewer.get("/metrics") { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: .init(string: metrics())))
            }
        }
    }
}
