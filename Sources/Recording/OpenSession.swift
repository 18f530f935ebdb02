/// One open session's files, owned by the recorder's encoder thread.
final class OpenSession {
    let folder: String
    let log: PredictionLog?
    var writer: Mp4Writer?
    var nextSegment = 0
    /// Bytes of the session's finished files.
    var bytesBeforeWriter: Int64 = 0

    init(folder: String, log: PredictionLog?) {
        self.folder = folder
        self.log = log
    }
}
