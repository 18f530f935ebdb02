import BedsideCore
import Hummingbird

/// Saves the frame on screen now (PNG + what the tablets were shown), into the recording session, the study
/// session or a `snapshots` folder.
public protocol SnapshotTaking: Sendable {
    func takeSnapshot() throws -> SnapshotReply
}

public struct SnapshotReply: Codable, Sendable, Equatable {
    public var png: String
    public var json: String
    public var seq: UInt64

    public init(png: String, json: String, seq: UInt64) {
        self.png = png
        self.json = json
        self.seq = seq
    }
}

/// `POST /api/snapshot`: any paired viewer (the expert's tablet), no admin PIN.
struct SnapshotRoutes {
    let snapshots: any SnapshotTaking

    func add(viewer api: RouterGroup<BedsideRequestContext>) {
        let snapshots = self.snapshots
        api.post("snapshot") { _, _ -> Response in
            do {
                return JSONReply.response(try snapshots.takeSnapshot())
            } catch let e as APIError {
                throw e
            } catch {
                throw APIError(.serviceUnavailable, "\(error)", fix: "check the source and the recording folder")
            }
        }
    }
}
