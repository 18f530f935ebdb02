import CSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking or CPU-heavy work on its own thread, so the Swift concurrency pool (two threads on a
/// 2-core box) stays free for the web server.
public enum DedicatedThread {
    /// Runs `body` on a new thread and waits for it; on task cancellation calls `stop`, which must make
    /// `body` return soon.
    public static func run(
        name: String, stop: @escaping @Sendable () -> Void, _ body: @escaping @Sendable () -> Void
    ) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let t = Thread {
                    ThreadName.set(name)
                    body()
                    done.resume()
                }
                t.name = name
                t.start()
            }
        } onCancel: {
            stop()
        }
    }
}

/// A flag one side sets and a worker thread polls.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func set() { flag.store(true, ordering: .relaxed) }
    public var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Names the calling thread for the kernel (`/proc/<pid>/task/*/comm`, `top -H`, perf): Foundation's
/// `Thread.name` does not reach it on Linux. The kernel keeps 15 characters.
public enum ThreadName {
    public static func set(_ name: String) {
        _ = bedside_name_this_thread(String(name.utf8.prefix(15)) ?? "bedside")
    }
}
