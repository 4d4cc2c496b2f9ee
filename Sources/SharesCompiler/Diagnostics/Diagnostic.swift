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

    /// `path:line:column: error: message`, then one line per note.
    public var rendered: String {
        var lines = ["\(location): \(severity.rawValue): \(message)"]
        for note in notes { lines.append("\(note.location): note: \(note.message)") }
        return lines.joined(separator: "\n")
    }
}

/// Thrown by every stage of the compiler: all the errors it found, in source order.
public struct CompileFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public init(_ diagnostic: Diagnostic) { self.diagnostics = [diagnostic] }

    public var description: String { diagnostics.map(\.rendered).joined(separator: "\n") }
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
