import BedsideCore

/// A recording problem (folders, files, frames), with the path in the message. When a system call failed,
/// `system` holds its errno (through `SystemError`) and the message ends with its reason.
public struct RecordingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var system: SystemError?

    public init(_ message: String) {
        self.message = message
    }

    /// `what` (naming the path) failed on a system call: "<what>: <strerror's reason>[. <fix>]".
    public init(_ what: String, _ system: SystemError) {
        self.system = system
        message = system.fix.isEmpty ? "\(what): \(system.reason)" : "\(what): \(system.reason). \(system.fix)"
    }

    public var description: String { message }
}
