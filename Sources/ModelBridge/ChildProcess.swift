import BedsideCore
import CSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`: the one thin layer over fork/exec/wait that Bedside uses.
///
/// Why not Foundation's `Process`: on Linux it learns of a child's exit through a socket the child inherits, so
/// when several workers start at once from different threads, one worker can inherit another's socket and its
/// exit is never seen (a model stuck in "starting" for minutes in CI). Here:
/// - every descriptor Bedside owns is closed in the child (`closefrom`), the pipes are created close-on-exec;
/// - the exit is learnt with `waitpid(WNOHANG)` on demand, no helper thread, no signal handler;
/// - the child gets its own process group (so the research code's own children can be signalled with it) and
///   default signal dispositions with an empty mask (Bedside ignores SIGTERM/SIGINT for its lifecycle handler,
///   and ignored signals survive exec).
public final class ChildProcess: Sendable {
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    public let pid: pid_t
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` (an absolute path) with `arguments` (without argv[0]). stdin is /dev/null; stdout and
    /// stderr go to the given descriptors (which stay open in the parent; close them after this returns).
    public init(
        executable: String, arguments: [String], environment: [String: String], directory: String?,
        stdout: Int32, stderr: Int32
    ) throws {
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        bedside_spawn_closefrom(&actions, 3)
        if let directory { bedside_spawn_chdir(&actions, directory) }

        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(SystemError.text(rc))")
        }
        self.pid = pid
    }

    /// Exit status once the child has ended (killed by signal N: 128+N), nil while it runs. Reaps it.
    public var exitStatus: Int32? {
        reaped.withLock { r in
            if let r { return r }
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            guard rc == pid else {
                // ECHILD: someone else reaped it (should not happen); treat as gone rather than running forever.
                if rc == -1 && errno == ECHILD { r = -1 }
                return r
            }
            let sig = status & 0x7f
            r = sig == 0 ? (status >> 8) & 0xff : 128 + sig
            return r
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Signals the child's process group (its own children too), or the child alone when that fails.
    /// Never after it was reaped: its PID may belong to someone else by then.
    public func signal(_ sig: Int32, group: Bool = true) {
        reaped.withLock { r in
            guard r == nil else { return }
            if !group || kill(-pid, sig) != 0 { kill(pid, sig) }
        }
    }

    /// Waits up to `timeout` seconds for the exit; true when it has exited.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() >= deadline { return false }
            usleep(5_000)
        }
        return true
    }
}

/// A pipe whose two ends are close-on-exec: no other child can inherit them by accident.
struct ChildPipe {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard bedside_pipe(&fds, O_CLOEXEC) == 0 else {
            throw ChildProcess.SpawnError(description: "cannot make a pipe: \(SystemError.text(errno))")
        }
        read = fds[0]
        write = fds[1]
    }
}
