import BedsideCore
import Hummingbird
import Study

/// `POST /api/study/start|end|arm|note` (admin): the study session the admin page runs.
struct StudyRoutes {
    let study: StudyController
    /// After a start, an end or an arm change: what the tablets show changed (clear what each model showed,
    /// broadcast the status so every tablet follows at once, no reload).
    let changed: @Sendable () -> Void

    struct Started: Codable, Sendable {
        var folder: String
        var study: StudyStatus
    }

    struct ArmSet: Codable, Sendable {
        var arm: String
        var show: [String]
    }

    struct Noted: Codable, Sendable { var noted: Bool }

    /// `targets=head, abdomen,,femur` -> the planes to time, blanks dropped.
    static func targets(_ text: String?) -> [String]? {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    func add(admin api: RouterGroup<BedsideRequestContext>) {
        let study = self.study, changed = self.changed
        api.post("study/start") { request, _ -> Response in
            let q = Query(request)
            do {
                let folder = try await study.start(
                    participant: q["participant"] ?? "", arm: q["arm"], targets: Self.targets(q["targets"]), notes: q["notes"])
                changed()
                return JSONReply.response(Started(folder: folder, study: study.status))
            } catch {
                throw APIError(.conflict, "\(error)", fix: "see the admin page's study section")
            }
        }
        api.post("study/end") { _, _ -> Response in
            do {
                let summary = try await study.end()
                changed()
                return JSONReply.response(summary)
            } catch {
                throw APIError(.conflict, "\(error)", fix: "start a session first")
            }
        }
        api.post("study/arm") { request, _ -> Response in
            do {
                try study.setArm(Query(request)["arm"] ?? "")
            } catch {
                throw APIError(.badRequest, "\(error)", fix: "use one of the arms in `study.arms`")
            }
            changed()
            return JSONReply.response(ArmSet(arm: study.arm.name, show: study.arm.shows.map(\.rawValue)))
        }
        api.post("study/note") { request, _ -> Response in
            guard let text = Query(request)["text"], !text.isEmpty else {
                throw APIError(.badRequest, "empty note", fix: "send ?text=...")
            }
            guard study.note(text) else {
                throw APIError(.conflict, "no study session is running", fix: "start a session first")
            }
            return JSONReply.response(Noted(noted: true))
        }
    }
}
