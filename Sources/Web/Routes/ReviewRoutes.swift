import BedsideCore
import Hummingbird
import Study

/// The review page's data (admin): study sessions, their snapshots, the expert's best-image choices, export;
/// `GET /api/review/image` serves a snapshot PNG (token and admin PIN).
struct ReviewRoutes {
    let review: Review

    struct Sessions: Codable, Sendable { var sessions: [ReviewSessionSummary] }
    struct Exported: Codable, Sendable { var folder: String }

    func add(admin api: RouterGroup<BedsideRequestContext>, adminGet: RouterGroup<BedsideRequestContext>) {
        let review = self.review
        api.post("review/sessions") { _, _ in JSONReply.response(Sessions(sessions: review.sessions())) }
        api.post("review/session") { request, _ -> Response in
            let name = Query(request)["name"]
            guard let s = review.session(name) else {
                throw APIError(.notFound, "no study session named \(name ?? "(none)")", fix: "pick one from the list")
            }
            return JSONReply.response(s)
        }
        api.post("review/select") { request, _ -> Response in
            let q = Query(request)
            do {
                return JSONReply.response(ReviewSelection(best: try review.select(session: q["name"], plane: q["plane"], file: q["file"])))
            } catch {
                throw APIError(.notFound, "\(error)", fix: "pick a snapshot of this session")
            }
        }
        api.post("review/export") { request, _ -> Response in
            do {
                return JSONReply.response(Exported(folder: try review.export(session: Query(request)["name"])))
            } catch {
                throw APIError(.notFound, "\(error)", fix: "pick a session and mark images first")
            }
        }
        adminGet.get("/api/review/image") { request, _ -> Response in
            let q = Query(request)
            guard let bytes = review.image(session: q["name"], file: q["file"]) else {
                throw APIError(.notFound, "no such snapshot", fix: "pick one from the review page")
            }
            return Response(
                status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"],
                body: .init(byteBuffer: .init(bytes: bytes)))
        }
    }
}
