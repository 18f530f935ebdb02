/// A video file that cannot be opened or decoded; the message names the file and gives libav's reason.
public struct FileSourceError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { message }
}
