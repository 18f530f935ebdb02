import BedsideCore
import Foundation
import Hummingbird
import Study

/// The review page's data (admin): study sessions, their snapshots, the expert's best-image choices, export,
/// the recording's timeline and the models' answers over it; `GET /api/review/image` serves a snapshot PNG and
/// `GET /api/review/video` a recording's file with byte ranges (token, and the admin PIN or a review ticket).
struct ReviewRoutes {
    let review: Review
    let tickets: ReviewTickets
    /// Served over HTTPS: the ticket cookie is then `Secure`.
    let secure: Bool

    struct Ticket: Codable, Sendable {
        var expiresInS: Int
        enum CodingKeys: String, CodingKey { case expiresInS = "expires_in_s" }
    }

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
        let tickets = self.tickets, secure = self.secure
        // The page unlocks once with the PIN: images and video then load by a cookie, never a PIN in an address.
        api.post("review/ticket") { _, _ -> Response in
            JSONReply.response(
                Ticket(expiresInS: Int(tickets.lifetimeSeconds)), headers: [.setCookie: tickets.cookie(tickets.issue(), secure: secure)])
        }
        api.post("review/timeline") { request, _ -> Response in
            let name = Query(request)["name"]
            guard let t = review.timeline(name) else {
                throw APIError(.notFound, "no study session named \(name ?? "(none)")", fix: "pick one from the list")
            }
            return JSONReply.response(t)
        }
        api.post("review/answers") { request, _ -> Response in
            let q = Query(request)
            guard let from = q["from"].flatMap(Double.init), let to = q["to"].flatMap(Double.init), from.isFinite, to.isFinite, to >= from
            else {
                throw APIError(.badRequest, "from and to must be seconds of the recording, from <= to", fix: "e.g. ?from=12.0&to=32.0")
            }
            guard let a = review.answers(q["name"], from: from, to: to, model: q["model"]) else {
                throw APIError(.notFound, "no study session named \(q["name"] ?? "(none)")", fix: "pick one from the list")
            }
            return JSONReply.response(a)
        }
        adminGet.get("/api/review/video") { request, context -> Response in
            let q = Query(request)
            guard let path = review.videoFile(session: q["name"], file: q["file"]),
                let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber
            else {
                throw APIError(.notFound, "no such video file in that session", fix: "take the file from the session's timeline")
            }
            let total = size.intValue
            var headers: HTTPFields = [.contentType: "video/mp4", .cacheControl: "no-store", .acceptRanges: "bytes"]
            switch ByteRange.parse(request.headers[.range], size: total) {
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(total)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            case .bytes(let r):
                headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(total)"
                headers[.contentLength] = "\(r.count)"
                let body = try await FileIO().loadFile(path: path, range: r, context: context)
                return Response(status: .partialContent, headers: headers, body: body)
            case nil:
                headers[.contentLength] = "\(total)"
                guard total > 0 else { return Response(status: .ok, headers: headers) }
                return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
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
