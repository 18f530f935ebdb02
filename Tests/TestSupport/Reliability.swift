import Foundation

/// Appends one row to the reliability table's rows file, in the format of Tests/e2e/faults.py's `record`.
public enum Reliability {
    /// The repository's root (this file is Tests/TestSupport/Reliability.swift).
    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    public static func record(
        area: String = "input", fault: String, did: String, lost: String, recoverySeconds: Double? = nil, cases: Int?,
        crashes: Int, test: String
    ) {
        let env = ProcessInfo.processInfo.environment
        let path = env["BEDSIDE_RELIABILITY_OUT"] ?? repo + "/artifacts/reliability.jsonl"
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        let row: [String: Any] = [
            "area": area, "fault": fault, "did": did, "lost": lost,
            "recovery_s": recoverySeconds.map { ($0 * 100).rounded() / 100 } ?? NSNull(),
            "cases": cases ?? NSNull(), "crashes": crashes, "test": test, "at": formatter.string(from: Date()),
        ]
        guard var line = try? JSONSerialization.data(withJSONObject: row, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        defer { try? h.close() }
        _ = try? h.seekToEnd()
        try? h.write(contentsOf: line)
    }
}
