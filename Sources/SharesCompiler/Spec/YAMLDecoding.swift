/// Small typed readers over `YAMLNode` that report "expected X, found Y" at the node's location.
/// Each returns nil after emitting its diagnostic, so a parser can go on and find further errors.
struct YAMLDecoding {
    var sink = DiagnosticSink()

    typealias Entry = (key: Located<String>, value: YAMLNode)

    /// The pairs of a mapping with string keys, checked against `allowed` (nil: any key); an unknown
    /// key's error lists `listed` (by default the allowed keys themselves).
    mutating func mapping(_ node: YAMLNode, _ what: String, allowed: [String]? = nil, listed: [String]? = nil)
        -> [Entry]?
    {
        guard case .mapping(let pairs) = node.value else {
            sink.error(at: node.location, .expected(what + " (a mapping)", found: node.kindDescription))
            return nil
        }
        var entries: [Entry] = []
        for pair in pairs {
            guard let key = pair.key.scalar, !pair.key.isNull else {
                sink.error(
                    at: pair.key.location, .expected("a name as key in \(what)", found: pair.key.kindDescription))
                continue
            }
            if let allowed, !allowed.contains(key) {
                sink.error(at: pair.key.location, .unknownKey(key, context: what, allowed: listed ?? allowed))
                continue
            }
            entries.append((Located(key, at: pair.key.location), pair.value))
        }
        return entries
    }

    mutating func sequence(_ node: YAMLNode, _ what: String) -> [YAMLNode]? {
        guard case .sequence(let items) = node.value else {
            sink.error(at: node.location, .expected(what + " (a list)", found: node.kindDescription))
            return nil
        }
        return items
    }

    mutating func string(_ node: YAMLNode, _ what: String) -> Located<String>? {
        guard let text = node.scalar, !node.isNull else {
            sink.error(at: node.location, .expected(what, found: node.kindDescription))
            return nil
        }
        return Located(text, at: node.location)
    }

    /// A file path: a string, and not an empty one, which would resolve to the including file's folder.
    mutating func path(_ node: YAMLNode, _ what: String) -> Located<String>? {
        guard let path = string(node, what) else { return nil }
        guard !path.value.isEmpty else {
            sink.error(at: node.location, .expected(what, found: "an empty string"))
            return nil
        }
        return path
    }

    /// A scalar read as a number or an arithmetic expression (`64`, `$width * 4`); `kinds` says what
    /// else the value may be, for the error.
    mutating func expression(_ node: YAMLNode, _ what: String, kinds: String = "a number or expression")
        -> LocatedExpression?
    {
        let expected = "\(what) (\(kinds))"
        guard let text = node.scalar, !node.isNull else {
            sink.error(at: node.location, .expected(expected, found: node.kindDescription))
            return nil
        }
        do {
            return Located(try ExpressionParser.parse(text, at: node.textPositions), at: node.location)
        } catch {
            // Not an attempt at a number at all (`out: four`): say what the key wants, not which character failed.
            // A name alone (`out: width`) is a variable without its '$'.
            if let first = text.unicodeScalars.first, !("0"..."9").contains(first),
                text.unicodeScalars.allSatisfy(ExpressionParser.isNameCharacter)
            {
                sink.error(at: node.location, .nameWithoutDollar(text, what: expected))
            } else if !text.unicodeScalars.contains(where: { ("0"..."9").contains($0) || $0 == "$" || $0 == "(" }) {
                sink.error(at: node.location, .expected(expected, found: node.kindDescription))
            } else {
                for diagnostic in error.diagnostics { sink.emit(diagnostic) }
            }
            return nil
        }
    }

    mutating func flag(_ node: YAMLNode, _ what: String) -> Bool? {
        switch node.scalar {
        case "true": return true
        case "false": return false
        default:
            sink.error(at: node.location, .expected(what + " (true or false)", found: node.kindDescription))
            return nil
        }
    }

    /// A value that may be one path or a list of paths (`include: a.yaml` or `include: [a.yaml, b.yaml]`).
    mutating func paths(_ node: YAMLNode, _ what: String) -> [Located<String>] {
        if case .sequence(let items) = node.value {
            return items.compactMap { path($0, what) }
        }
        return path(node, what).map { [$0] } ?? []
    }
}
