/// The version every part reports: `bedside --version`, the hello and status messages, session.json.
public enum BedsideVersion {
    public static let string = "0.1.0"
}
