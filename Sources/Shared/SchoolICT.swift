/// Facts about this build shared by every executable.
public enum SchoolICT {
    /// The release; `--version` prints it and `schoolict_build_info{version}` carries it.
    public static let version = "1.4.0"
}
