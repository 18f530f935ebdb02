/// A recording problem outside libav (folders, files), with the path in the message.
public struct RecordingError: Error, CustomStringConvertible, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
