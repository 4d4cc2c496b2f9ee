import Yams

/// Parses YAML text into located `YAMLNode`s. The only file that sees Yams.
enum YAMLReader {
    /// Specs are short: these bounds keep hostile files (deep nesting, alias bombs) from exhausting
    /// the stack or memory, since Yams composes recursively and aliases expand on traversal.
    static let maximumBytes = 1 << 20
    static let maximumDepth = 200
    static let maximumNodes = 200_000

    static func read(_ text: String, file: String) throws(CompileFailure) -> YAMLNode? {
        let start = Location(file: file, line: 1, column: 1)
        // A UTF-8 byte order mark (some editors write one) reaches libyaml as content; drop it.
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        if text.utf8.count > maximumBytes {
            throw CompileFailure(Diagnostic(at: start, .fileTooLarge(bytes: text.utf8.count, limit: maximumBytes)))
        }
        let substituted = substituteOtherBreaks(&text)
        if let deep = NestingScan.firstTooDeep(text, limit: maximumDepth) {
            throw CompileFailure(
                Diagnostic(
                    at: Location(file: file, line: deep.line, column: deep.column),
                    .nestingTooDeep(limit: maximumDepth)))
        }
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            if case .duplicatedKeysInMapping(let duplicates, let context) = error {
                throw CompileFailure(
                    duplicateKeys(duplicates.first ?? "", firstAt: context.mark, file: file, text: text))
            }
            throw CompileFailure(diagnostic(for: error, file: file, text: text))
        } catch {
            throw CompileFailure(Diagnostic(at: start, .yamlSyntax(String(describing: error))))
        }
        guard let root else { return nil }
        var budget = Budget(
            remaining: maximumNodes, furthest: start, substituted: substituted, lines: TextPositions.lines(of: text))
        return try convert(root, file: file, budget: &budget)
    }

    /// Nodes left to convert, and the furthest position reached: an expanded alias revisits its anchor's
    /// earlier positions, so the furthest one is where the expansion was asked for.
    /// (And whether the text's other line breaks stand as private-use characters, to put back; the
    /// text's lines, and the positions of the scalars' texts found in them, each scalar's once however
    /// many aliases repeat it.)
    private struct Budget {
        var remaining: Int
        var furthest: Location
        var substituted: Bool
        var lines: [[Unicode.Scalar]]
        var positions: [Location: TextPositions?] = [:]
    }

    /// Where the characters of `scalar` (at `location`) lie: nil where along one line from `location`.
    private static func positions(of scalar: Node.Scalar, at location: Location, budget: inout Budget)
        -> TextPositions?
    {
        if let known = budget.positions[location] { return known }
        let style: TextPositions.Style =
            switch scalar.style {
            case .singleQuoted: .quoted
            case .doubleQuoted: .doubleQuoted
            case .literal, .folded: .block
            case .any, .plain: .plain
            }
        let found = TextPositions(locating: scalar.string, style: style, in: budget.lines, at: location)
        // Quoted text not found (a single-quoted `''`): from after the quote, as it starts.
        let fallback = style == .quoted || style == .doubleQuoted ? TextPositions(start: location.advanced(by: 1)) : nil
        var positions = found ?? fallback
        if positions == TextPositions(start: location) { positions = nil }
        budget.positions[location] = positions
        return positions
    }

    /// YAML 1.2 breaks lines at `\n` and `\r` only; libyaml (YAML 1.1) also at U+0085, U+2028 and
    /// U+2029, which put every later line number past the one editors show (and ended a comment). While
    /// parsing, each stands as a private-use character of its own, put back in the values; not where
    /// the text holds those characters already. Whether it substituted.
    private static let otherBreaks: [(Unicode.Scalar, Unicode.Scalar)] = [
        ("\u{85}", "\u{E085}"), ("\u{2028}", "\u{E028}"), ("\u{2029}", "\u{E029}")
    ]

    private static func substituteOtherBreaks(_ text: inout String) -> Bool {
        func isBreak(_ scalar: Unicode.Scalar) -> Bool { otherBreaks.contains { $0.0 == scalar } }
        func isStandIn(_ scalar: Unicode.Scalar) -> Bool { otherBreaks.contains { $0.1 == scalar } }
        guard text.unicodeScalars.contains(where: isBreak), !text.unicodeScalars.contains(where: isStandIn) else {
            return false
        }
        text = String(
            String.UnicodeScalarView(text.unicodeScalars.map { s in otherBreaks.first { $0.0 == s }?.1 ?? s }))
        return true
    }

    private static func restoringBreaks(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { s in otherBreaks.first { $0.1 == s }?.0 ?? s }))
    }

    /// What libyaml's terse problems usually mean in a spec, as a hint after them.
    static let hints: [(problem: String, hint: String)] = [
        (
            "mapping values are not allowed in this context",
            "a key needs its ':' right after it ('conv: {out: 16}', not 'conv {out: 16}'), and a plain value cannot hold ': ' (quote it)"
        ),
        (
            "did not find expected key",
            "a line is probably indented unlike the keys beside it (a mapping's keys start in one column)"
        )
    ]

    private static func convert(
        _ node: Yams.Node, file: String, isKey: Bool = false, budget: inout Budget
    ) throws(CompileFailure) -> YAMLNode {
        let location = Location(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        budget.remaining -= 1
        budget.furthest = max(budget.furthest, location)
        if budget.remaining < 0 {
            throw CompileFailure(Diagnostic(at: budget.furthest, .tooManyNodes(limit: maximumNodes)))
        }
        // A tag would change what a value means in YAML (`!!str`), or ask for a meaning sharesc does not
        // give it (`!custom`): refused rather than ignored. Untagged values have the empty or "!" tag, but
        // a quoted or block scalar (`|`, `>`) the string tag, as if written `!!str`, and a mapping's keys
        // the standard tag their text resolves to (Yams resolves them in place to find duplicates).
        let tag: String? =
            switch node {
            case .scalar(let scalar):
                [.singleQuoted, .doubleQuoted, .literal, .folded].contains(scalar.style) ? nil : scalar.tag.description
            case .mapping(let mapping): mapping.tag.description
            case .sequence(let sequence): sequence.tag.description
            case .alias: nil
            }
        let standard = "tag:yaml.org,2002:"
        if let tag, !tag.isEmpty, tag != "!", !(isKey && tag.hasPrefix(standard)) {
            // As written: the parser resolves `!!int` to the standard tag's full name.
            let written = tag.hasPrefix(standard) ? "!!" + tag.dropFirst(standard.count) : tag
            throw CompileFailure(Diagnostic(at: location, .tagUnsupported(written)))
        }
        switch node {
        case .scalar(let scalar):
            return YAMLNode(
                value: .scalar(
                    budget.substituted ? restoringBreaks(scalar.string) : scalar.string,
                    plain: scalar.style == .plain || scalar.style == .any),
                location: location, positions: positions(of: scalar, at: location, budget: &budget))
        case .mapping(let mapping):
            if let merge = mapping.keys.first(where: { $0.scalar?.string == "<<" && $0.scalar?.style == .plain }) {
                // `compose` does not apply `<<` merges; refuse them rather than silently ignore them.
                throw CompileFailure(
                    Diagnostic(
                        at: Location(
                            file: file, line: merge.mark?.line ?? location.line,
                            column: merge.mark?.column ?? location.column), .mergeKeyUnsupported))
            }
            var pairs: [YAMLNode.Pair] = []
            for (key, value) in mapping {
                // Keys are names: a sequence or mapping as a key (`? [a, b]`) has no meaning here.
                if key.scalar == nil {
                    throw CompileFailure(
                        Diagnostic(
                            at: Location(
                                file: file, line: key.mark?.line ?? location.line,
                                column: key.mark?.column ?? location.column),
                            .complexKey(found: key.mapping == nil ? "a sequence" : "a mapping")))
                }
                pairs.append(
                    YAMLNode.Pair(
                        key: try convert(key, file: file, isKey: true, budget: &budget),
                        value: try convert(value, file: file, budget: &budget)))
            }
            return YAMLNode(value: .mapping(pairs), location: location)
        case .sequence(let sequence):
            var items: [YAMLNode] = []
            for item in sequence { items.append(try convert(item, file: file, budget: &budget)) }
            return YAMLNode(value: .sequence(items), location: location)
        case .alias:
            // Yams 6 resolves aliases while composing; an unresolved one is reported as a syntax error.
            throw CompileFailure(Diagnostic(at: location, .yamlSyntax("unresolved alias")))
        }
    }

    private static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        func at(_ mark: Mark) -> Location { Location(file: file, line: max(mark.line, 1), column: max(mark.column, 1)) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            if problem.hasPrefix("Maximum nesting level") {
                // libyaml's own bound (1000), reached when `NestingScan` underestimates.
                return Diagnostic(at: at(mark), .nestingTooDeep(limit: maximumDepth))
            }
            if problem.hasPrefix("found character that cannot start any token"), character(at: mark, in: text) == "\t" {
                return Diagnostic(at: at(mark), .yamlSyntax("found a tab; YAML indentation must use spaces"))
            }
            if let key = overlongKey(endingAt: mark, in: text) {
                return Diagnostic(
                    at: Location(file: file, line: mark.line, column: key.column),
                    .nameTooLong(what: "key", length: key.length, limit: SpecValidator.longestName))
            }
            let hint = Self.hints.first { problem.hasPrefix($0.problem) }.map { "; " + $0.hint } ?? ""
            guard let context else { return Diagnostic(at: at(mark), .yamlSyntax(problem + hint)) }
            // "while parsing a flow sequence": the construct starts at the context mark, often lines above the problem.
            var notes: [Diagnostic.Note] = []
            for prefix in ["while parsing ", "while scanning "] where context.text.hasPrefix(prefix) {
                let construct = context.text.dropFirst(prefix.count)
                guard !construct.isEmpty, (context.mark.line, context.mark.column) != (mark.line, mark.column) else {
                    break
                }
                let article = construct.hasPrefix("an ") ? 3 : (construct.hasPrefix("a ") ? 2 : 0)
                guard article > 0 else { break }
                notes.append(Diagnostic.note(at: at(context.mark), .yamlContext("the " + construct.dropFirst(article))))
            }
            // libyaml's contexts read "while parsing ..."; Yams' own read "expected ..." and come before the problem.
            let detail = context.text.hasPrefix("while ") ? "\(problem) \(context.text)" : "\(context.text), \(problem)"
            return Diagnostic(at: at(mark), .yamlSyntax(detail + hint), notes: notes)
        case .reader(let problem, let offset, _, _):
            return Diagnostic(at: location(ofCharacter: offset ?? 0, in: text, file: file), .yamlSyntax(problem))
        default:
            return Diagnostic(at: Location(file: file, line: 1, column: 1), .yamlSyntax(error.description))
        }
    }

    /// Where character `offset` of `text` is: Yams turns libyaml's byte offset into a count of Swift
    /// characters (so `\r\n` is one, and so is `é` however written); the column counted in Unicode
    /// scalars as marks count them, a line ending at `\n`, `\r\n` or a lone `\r` (as `TextPositions.lines`).
    private static func location(ofCharacter offset: Int, in text: String, file: String) -> Location {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r" || character == "\r\n" {
                (line, column) = (line + 1, 1)
            } else {
                column += character.unicodeScalars.count
            }
        }
        return Location(file: file, line: line, column: column)
    }

    /// The key before the `:` at `mark` where it is longer than the 1024 characters libyaml reads as a
    /// key (past that it says "mapping values are not allowed"): its column and length.
    private static func overlongKey(endingAt mark: Mark, in text: String) -> (column: Int, length: Int)? {
        guard let line = line(of: mark, in: text), line.indices.contains(mark.column - 1), line[mark.column - 1] == ":",
            mark.column > 1025
        else { return nil }
        var start = mark.column - 1
        while start > 0, !" \t,{[".unicodeScalars.contains(line[start - 1]) { start -= 1 }
        let length = mark.column - 1 - start
        return length > 1024 ? (start + 1, length) : nil
    }

    private static func character(at mark: Mark, in text: String) -> Unicode.Scalar? {
        guard let line = line(of: mark, in: text), mark.column >= 1, mark.column <= line.count else { return nil }
        return line[mark.column - 1]
    }

    /// The line that `mark` is on, where the text has it.
    private static func line(of mark: Mark, in text: String) -> [Unicode.Scalar]? {
        let lines = TextPositions.lines(of: text)
        return mark.line >= 1 && mark.line <= lines.count ? lines[mark.line - 1] : nil
    }

    /// Every duplicated key of the text, each at its repeated occurrence with a note at the first.
    /// Yams stops at one duplicate and marks where the key first appears: that occurrence is renamed
    /// (one letter changed) and the text composed again, which then finds the next duplicate, until it
    /// composes; the repeated keys are then found in the composed tree. Where that cannot be done (a
    /// key that starts with a symbol), the duplicates found so far, at their first occurrences.
    private static func duplicateKeys(_ key: String, firstAt mark: Mark, file: String, text: String) -> [Diagnostic] {
        func at(_ mark: Mark) -> Location { Location(file: file, line: max(mark.line, 1), column: max(mark.column, 1)) }
        var lines = TextPositions.lines(of: text)
        var found: [(key: String, first: Mark)] = []
        var next: (key: String, first: Mark)? = (key, mark)
        var root: Node?
        while let (key, first) = next, found.count < 16, rename(at: first, in: &lines, to: found.count) {
            found.append((key, first))
            next = nil
            do {
                root = try Yams.compose(
                    yaml: lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n"))
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                next = (duplicates.first ?? "", context.mark)
            } catch {}
        }
        if found.isEmpty { return [Diagnostic(at: at(mark), .duplicateKey(key))] }
        let diagnostics = found.enumerated().map { index, duplicate in
            let (key, first) = duplicate
            // A key given three times was renamed twice: its second occurrence is the next renamed one.
            let later = found[(index + 1)...].filter { $0.key == key }.map(\.first)
            guard let root, let second = repeated(key, firstAt: first, orAt: later, in: root) else {
                return Diagnostic(at: at(first), .duplicateKey(key))
            }
            return Diagnostic(
                at: at(second), .duplicateKey(key), notes: [Diagnostic.note(at: at(first), .previousDefinition)])
        }
        return diagnostics.sorted { $0.location < $1.location }
    }

    /// Changes the first character of the key at `mark` (after an opening quote) to a private-use
    /// character of its own (`index`), so that it equals no other key; false where that character
    /// is one that YAML reads as structure or an escape (`*k`, `"\x61"`), which the change would break.
    private static func rename(at mark: Mark, in lines: inout [[Unicode.Scalar]], to index: Int) -> Bool {
        guard mark.line >= 1, mark.line <= lines.count, mark.column >= 1 else { return false }
        let line = lines[mark.line - 1]
        var column = mark.column - 1
        if column < line.count, line[column] == "\"" || line[column] == "'" { column += 1 }
        guard column < line.count, !"-?:,[]{}#&*!|>'\"%@`\\".unicodeScalars.contains(line[column]),
            !line[column].properties.isWhitespace
        else {
            return false
        }
        lines[mark.line - 1][column] = Unicode.Scalar(0xE000 + UInt32(index)) ?? "Z"
        return true
    }

    /// Where `key` appears again in the mapping whose (renamed) key at `first` it duplicates: the
    /// first key after it that reads `key` or was renamed at one of `later`.
    private static func repeated(_ key: String, firstAt first: Mark, orAt later: [Mark], in root: Node) -> Mark? {
        func position(_ mark: Mark) -> (Int, Int) { (mark.line, mark.column) }
        var budget = maximumNodes
        func search(_ node: Node) -> Mark? {
            budget -= 1
            guard budget >= 0 else { return nil }
            switch node {
            case .mapping(let mapping):
                if mapping.keys.contains(where: { $0.mark.map { position($0) == position(first) } ?? false }) {
                    let marks = mapping.keys.compactMap { node -> Mark? in
                        guard let mark = node.mark, position(mark) > position(first) else { return nil }
                        let renamed = later.contains { position($0) == position(mark) }
                        return node.scalar?.string == key || renamed ? mark : nil
                    }
                    return marks.min { position($0) < position($1) }
                }
                for (child, value) in mapping {
                    if let found = search(child) ?? search(value) { return found }
                }
            case .sequence(let sequence):
                for item in sequence { if let found = search(item) { return found } }
            case .scalar, .alias:
                break
            }
            return nil
        }
        return search(root)
    }
}
