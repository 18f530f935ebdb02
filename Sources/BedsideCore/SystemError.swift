#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call (with its argument, a path or a device), the `errno` it left, and an
/// optional fix for the user. The one place errno becomes a Swift error (`strerror`'s message).
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call and what it was called on, as the user would recognise it: `open(/dev/video0)`, `mkdir(/data/rec)`.
    public var call: String
    public var errno: Int32
    /// What the user can do about it, one sentence; empty when there is nothing to add.
    public var fix: String

    public init(call: String, errno: Int32, fix: String = "") {
        self.call = call
        self.errno = errno
        self.fix = fix
    }

    /// Reads the calling thread's `errno` now: call it right after the failed call.
    public static func last(_ call: String, fix: String = "") -> SystemError {
        SystemError(call: call, errno: Glibc.errno, fix: fix)
    }

    /// `strerror`'s text for this errno ("No such file or directory").
    public var reason: String { SystemError.text(errno) }

    public static func text(_ code: Int32) -> String { String(cString: strerror(code)) }

    public var description: String {
        fix.isEmpty ? "\(call) failed: \(reason)" : "\(call) failed: \(reason). \(fix)"
    }

    /// Runs a call that returns -1 and sets errno on failure; returns its result otherwise.
    @discardableResult
    public static func check<T: BinaryInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
        let rc = body()
        if rc < 0 { throw SystemError.last(call()) }
        return rc
    }
}
