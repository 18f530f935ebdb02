import ModelBridge
import ServiceLifecycle
import Web

/// Sends the status to every viewer once a second.
struct StatusTicker: Service {
    let hub: Hub
    let status: @Sendable () -> String
    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            hub.broadcast(text: status())
        }
    }
}

/// Ends the run after a fixed time (`--duration`).
struct RunTimer: Service {
    let seconds: Double
    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}

/// All model runners as one service, so a shutdown stops every model at once rather than one after another
/// (each may need a couple of seconds to let its worker exit).
struct ModelRunners: Service {
    let runners: [ModelRunner]

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for r in runners { group.addTask { try? await r.run() } }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            for r in runners { r.requestStop() }
        }
    }
}
