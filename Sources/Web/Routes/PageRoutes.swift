import Foundation
import Hummingbird
import Logging
import NIOCore

/// The pages and their files (HTML, ES modules, CSS), served as plain files from the page folder: one
/// middleware for every file, so a new module is served by adding it to `Page/` (no route per file).
/// Public: the pages hold no patient data and ask for the token themselves.
public enum PageRoutes {
    /// The pages reached without a file name, and the file each one is.
    public static let pages: [(path: String, file: String)] = [("/", "index.html"), ("/admin", "admin.html"), ("/review", "review.html")]

    public static func add<Context: RequestContext>(to router: Router<Context>, folder: String?, logger: Logger) {
        guard let folder else {
            // Without its page files Bedside still captures, records and serves the API; the page says what is wrong.
            router.add(middleware: MissingPageFiles())
            return
        }
        router.add(
            middleware: FileMiddleware(folder, cacheControl: .init([(MediaType(type: .any), [.noCache])]), logger: logger)
                .withAdditionalMediaType(.init(type: .text, subType: "javascript", parameter: ("charset", "utf-8")), mappedToFileExtension: "js"))
        router.get("/") { _, _ in try page("index.html", folder: folder) }
        router.get("/admin") { _, _ in try page("admin.html", folder: folder) }
        router.get("/review") { _, _ in try page("review.html", folder: folder) }
    }

    static func page(_ name: String, folder: String) throws -> Response {
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(name)") else { throw HTTPError(.notFound) }
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The page folder is missing: the pages and their files answer 500 with what to do; the API goes on.
    struct MissingPageFiles<Context: RequestContext>: RouterMiddleware {
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let path = request.uri.path
            let isPage = PageRoutes.pages.contains { $0.path == path }
            let isFile = [".js", ".css", ".html"].contains { path.hasSuffix($0) }
            guard request.method == .get || request.method == .head, isPage || isFile else {
                return try await next(request, context)
            }
            return Response(
                status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: WebServer.missingPageFiles + "\n")))
        }
    }
}
