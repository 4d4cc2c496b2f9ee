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
        if text.utf8.count > maximumBytes {
            throw CompileFailure(Diagnostic(at: start, .fileTooLarge(bytes: text.utf8.count, limit: maximumBytes)))
        }
        if let deep = NestingScan.firstTooDeep(text, limit: maximumDepth) {
            throw CompileFailure(Diagnostic(at: Location(file: file, line: deep.line, column: deep.column),
                                            .nestingTooDeep(limit: maximumDepth)))
        }
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw CompileFailure(diagnostic(for: error, file: file))
        } catch {
            throw CompileFailure(Diagnostic(at: start, .yamlSyntax(String(describing: error))))
        }
        guard let root else { return nil }
        var budget = maximumNodes
        return try convert(root, file: file, budget: &budget)
    }

    private static func convert(_ node: Yams.Node, file: String, budget: inout Int) throws(CompileFailure) -> YAMLNode {
        let location = Location(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        budget -= 1
        if budget < 0 { throw CompileFailure(Diagnostic(at: location, .tooManyNodes(limit: maximumNodes))) }
        switch node {
        case .scalar(let scalar):
            return YAMLNode(value: .scalar(scalar.string, plain: scalar.style == .plain || scalar.style == .any),
                            location: location)
        case .mapping(let mapping):
            if mapping.keys.contains(where: { $0.scalar?.string == "<<" && $0.scalar?.style == .plain }) {
                // `compose` does not apply `<<` merges; refuse them rather than silently ignore them.
                throw CompileFailure(Diagnostic(at: location, .mergeKeyUnsupported))
            }
            var pairs: [YAMLNode.Pair] = []
            for (key, value) in mapping {
                pairs.append(YAMLNode.Pair(key: try convert(key, file: file, budget: &budget),
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

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> Location { Location(file: file, line: max(mark.line, 1), column: max(mark.column, 1)) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = [problem, context.map { "(\($0.text))" }].compactMap { $0 }.joined(separator: " ")
            return Diagnostic(at: at(mark), .yamlSyntax(detail))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(at: at(context.mark), .duplicateKey(duplicates.joined(separator: ", ")))
        case .reader(let problem, _, _, _):
            return Diagnostic(at: Location(file: file, line: 1, column: 1), .yamlSyntax(problem))
        default:
            return Diagnostic(at: Location(file: file, line: 1, column: 1), .yamlSyntax(error.description))
        }
    }
}
