/// One finding about a spec: an error or warning at a location, with notes that point at related places.
public struct Diagnostic: Hashable, Sendable {
    public enum Severity: String, Sendable { case error, warning, note }

    public struct Note: Hashable, Sendable {
        public var location: Location
        public var message: String
    }

    public var severity: Severity
    public var location: Location
    /// The catalog entry, with its values: what tests match on.
    public var id: Message
    public var notes: [Note]

    public var message: String { id.text }

    public init(_ severity: Severity = .error, at location: Location, _ message: Message, notes: [Note] = []) {
        self.severity = severity
        self.location = location
        self.id = message
        self.notes = notes
    }

    public static func note(at location: Location, _ message: Message) -> Note {
        Note(location: location, message: message.text)
    }

    /// `path:line:column: error: message`, then one line per note. Control characters that a file or
    /// name brought into the text (a line break, an escape sequence) are written as escapes, so that
    /// each diagnostic stays one line and cannot drive the terminal.
    public var rendered: String {
        var lines = ["\(location): \(severity.rawValue): \(message)"]
        for note in notes { lines.append("\(note.location): note: \(note.message)") }
        return lines.map { Self.printable(Self.shortened($0)) }.joined(separator: "\n")
    }

    /// Lines longer than this lose their middle: a name of 900,000 characters, quoted in each of
    /// thousands of errors, made gigabytes of output.
    static let longestLine = 1000
    /// Words (runs without a space) longer than this lose their middle first, so that a long path or
    /// name leaves the words around it whole: a 600-character path, in the location and twice in
    /// "cannot write 'PATH': no such directory 'DIRECTORY'", pushed the reason into the line's cut.
    static let longestWord = 240

    static func shortened(_ line: String) -> String {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map { word in
            elided(Substring.UnicodeScalarView(word.unicodeScalars), keeping: longestWord * 2 / 3, longestWord / 4)
        }
        let text = words.joined(separator: " ")
        return elided(Substring.UnicodeScalarView(text.unicodeScalars), keeping: longestLine * 3 / 4, longestLine / 5)
    }

    /// `scalars` whole, or where longer than its two kept ends together with the note, its first `head`
    /// and last `tail` with how many were left out between them.
    private static func elided(_ scalars: Substring.UnicodeScalarView, keeping head: Int, _ tail: Int) -> String {
        let note = " ... (\(scalars.count - head - tail) characters left out) ... "
        guard scalars.count > head + tail + note.count else { return String(scalars) }
        return String(String.UnicodeScalarView(scalars.prefix(head))) + note
            + String(String.UnicodeScalarView(scalars.suffix(tail)))
    }

    /// `text` with its control and invisible characters written as escapes (`\n`, `\u{1b}`).
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where isControl(scalar): result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0 and C1 controls, DEL, and the line and paragraph separators; and what a message would show as
    /// a space or as nothing: the other spaces (a no-break space, U+00A0), format characters (a
    /// zero-width space, U+200B) and letters shown as nothing (a Hangul filler, U+3164), so that
    /// `unexpected '\u{a0}'` says which character it means.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029
        {
            return true
        }
        switch scalar.properties.generalCategory {
        case .spaceSeparator: return scalar != " "
        case .format: return true
        case .otherLetter: return scalar.properties.isDefaultIgnorableCodePoint
        default: return false
        }
    }
}

/// Thrown by every stage of the compiler: all the errors it found, in source order.
public struct CompileFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public init(_ diagnostic: Diagnostic) { self.diagnostics = [diagnostic] }

    /// Each file's diagnostics by line and column (the passes find them in their own order: a layer
    /// name in the head before one in a block), the files in the order they first appear.
    static func inSourceOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var files: [String: Int] = [:]
        for diagnostic in diagnostics where files[diagnostic.location.file] == nil {
            files[diagnostic.location.file] = files.count
        }
        return diagnostics.enumerated().sorted { x, y in
            let (a, b) = (x.element.location, y.element.location)
            return (files[a.file]!, a.line, a.column, x.offset) < (files[b.file]!, b.line, b.column, y.offset)
        }.map(\.element)
    }

    /// At most this many diagnostics are printed, then how many more there are: past the first
    /// hundred, more of the same helps nobody, and each costs its rendering.
    public static let mostShown = 100

    public var description: String {
        let shown = Self.inSourceOrder(diagnostics).prefix(Self.mostShown).map(\.rendered)
        let more = diagnostics.count - shown.count
        return (shown + (more > 0 ? ["(\(more) more diagnostics not shown: fix the ones above first)"] : []))
            .joined(separator: "\n")
    }
}

/// Collects diagnostics while a stage keeps going, so that one run reports every independent error.
public struct DiagnosticSink: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public mutating func emit(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

    public mutating func error(at location: Location, _ message: Message, notes: [Diagnostic.Note] = []) {
        emit(Diagnostic(.error, at: location, message, notes: notes))
    }

    public mutating func warning(at location: Location, _ message: Message, notes: [Diagnostic.Note] = []) {
        emit(Diagnostic(.warning, at: location, message, notes: notes))
    }

    /// Runs `body`, folding a thrown failure into this sink; returns nil when it threw.
    public mutating func recover<T>(_ body: () throws(CompileFailure) -> T) -> T? {
        do { return try body() } catch {
            diagnostics.append(contentsOf: error.diagnostics)
            return nil
        }
    }

    /// Throws everything collected when any of it is an error.
    public func check() throws(CompileFailure) {
        if hasErrors { throw CompileFailure(diagnostics) }
    }
}
