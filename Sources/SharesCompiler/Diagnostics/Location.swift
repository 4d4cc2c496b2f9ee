/// A position in a spec file: 1-based line and column (columns count Unicode scalars, as libyaml does).
///
/// Not named `SourceLocation`: Swift Testing exports a type of that name.
public struct Location: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// Where command-line options such as `--set` are reported.
    public static func commandLine(_ argument: String) -> Location {
        Location(file: "<command line: \(argument)>", line: 1, column: 1)
    }

    /// `path:line:column`; a file given as an empty path (`-o ''`) is named as the command line's.
    public var description: String { "\(file.isEmpty ? "<command line: ''>" : file):\(line):\(column)" }

    public static func < (a: Location, b: Location) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}
