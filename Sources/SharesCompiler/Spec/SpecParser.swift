/// Turns one file's `YAMLNode` tree into a `SpecFile`, reporting every misplaced or mistyped key.
struct SpecParser {
    static let topLevelKeys = [
        "network", "description", "include", "extends", "input", "vars",
        "stem", "stages", "head", "blocks", "layers", "share"
    ]
    static let blockKeys = ["args", "pre", "body", "shortcut", "merge", "post"]
    static let stageKeys = ["name", "block", "repeat", "stride", "share"]

    private var decode = YAMLDecoding()
    var diagnostics: [Diagnostic] { decode.sink.diagnostics }

    /// Top-level keys as written, so the loader can refuse network keys in an included file.
    private(set) var keysPresent: [Located<String>] = []

    /// A `library` (an included file) lists only the keys a library may hold when a key is unknown;
    /// the network's keys parse, so that the loader can say they are not allowed there.
    mutating func parse(_ root: YAMLNode, path: String, library: Bool = false) -> SpecFile {
        var file = SpecFile(path: path)
        let libraryKeys = Self.topLevelKeys.filter(SpecLoader.libraryKeys.contains)
        guard
            let entries = decode.mapping(
                root, library ? "the library" : "the spec", allowed: Self.topLevelKeys,
                listed: library ? libraryKeys : nil)
        else { return file }
        for (key, value) in entries {
            keysPresent.append(key)
            switch key.value {
            case "network": file.network = decode.string(value, "the network's name")
            case "description": _ = decode.string(value, "a description")
            case "include": file.includes = decode.paths(value, "the path of a file to include")
            case "extends": file.extends = decode.path(value, "the path of the spec this one extends")
            case "input": file.input = parseInput(value)
            case "vars": file.variables = parseVariables(value)
            case "stem": file.stem = parseLayerList(value, "'stem'")
            case "stages": file.stages = parseStages(value)
            case "head": file.head = parseLayerList(value, "'head'")
            case "blocks": file.blocks = parseBlocks(value)
            case "layers":
                file.layerLists = (decode.mapping(value, "'layers' (name: list of layers)") ?? []).map { key, list in
                    (key, parseLayers(list, "'\(key.value)'"))
                }
            case "share": file.shareByStage = parseShareByStage(value)
            default: break
            }
        }
        return file
    }

    private mutating func parseInput(_ node: YAMLNode) -> Located<[LocatedExpression]>? {
        guard let items = decode.sequence(node, "'input' as [channels, height, width]") else { return nil }
        guard items.count == 3 else {
            // Four values are usually a batch size in front, as PyTorch shapes have it.
            let found = "\(items.count) values" + (items.count == 4 ? " (no batch size: a plan runs any batch)" : "")
            decode.sink.error(at: node.location, .expected("'input' as [channels, height, width]", found: found))
            return nil
        }
        let dims = items.compactMap { decode.expression($0, "an input size") }
        return dims.count == 3 ? Located(dims, at: node.location) : nil
    }

    private mutating func parseVariables(_ node: YAMLNode) -> [VariableDeclaration] {
        guard let entries = decode.mapping(node, "'vars'") else { return [] }
        return entries.compactMap { key, value in
            guard Self.isVariableName(key.value) else {
                decode.sink.error(at: key.location, .badVariableName(key.value))
                return nil
            }
            return decode.expression(value, "the value of variable '\(key.value)'").map {
                VariableDeclaration(name: key.value, value: $0, location: key.location)
            }
        }
    }

    // MARK: Layers

    private mutating func parseLayerList(_ node: YAMLNode, _ context: String) -> LayerList {
        if case .scalar = node.value, !node.isNull, let name = node.scalar {
            return .named(Located(name, at: node.location))
        }
        return .inline(parseLayers(node, context))
    }

    mutating func parseLayers(_ node: YAMLNode, _ context: String) -> [LayerSpec] {
        if node.isNull { return [] }
        guard let items = decode.sequence(node, "the layers of \(context)") else { return [] }
        return items.compactMap { parseLayer($0) }
    }

    private static let layerKinds = LayerKind.allCases.map(\.rawValue)

    private mutating func parseLayer(_ node: YAMLNode) -> LayerSpec? {
        let kindNode: YAMLNode
        var argumentsNode: YAMLNode?
        switch node.value {
        case .scalar:
            kindNode = node
        case .mapping(let pairs) where pairs.count == 1:
            kindNode = pairs[0].key
            argumentsNode = pairs[0].value.isNull ? nil : pairs[0].value
        default:
            var found = node.kindDescription
            if case .mapping(let pairs) = node.value {
                // Usually arguments indented as siblings of the kind (`- conv:` then `out: 64` on the next line).
                found =
                    pairs.isEmpty
                    ? "an empty mapping"
                    : "a mapping with \(pairs.count) keys ("
                        + pairs.map { $0.key.kindDescription }.joined(separator: ", ") + ")"
            }
            decode.sink.error(
                at: node.location,
                .expected(
                    "a layer: a kind such as 'relu', or a one-key mapping such as '{conv: {out: 64, kernel: 3}}'",
                    found: found))
            return nil
        }
        guard let kindName = decode.string(kindNode, "a layer kind") else { return nil }
        guard let kind = LayerKind(rawValue: kindName.value) else {
            decode.sink.error(at: kindNode.location, .unknownLayerKind(kindName.value, known: Self.layerKinds))
            return nil
        }
        var layer = LayerSpec(kind: kind, name: nil, arguments: [:], location: kindNode.location)
        let allowed = ["name"] + kind.keys.map(\.key)
        var given: Set<String> = []
        if let argumentsNode {
            // Arguments that are not a mapping were reported already; do not also call every key missing.
            guard let entries = decode.mapping(argumentsNode, "the arguments of '\(kind.rawValue)'", allowed: allowed)
            else { return layer }
            for (key, value) in entries {
                given.insert(key.value)
                switch key.value {
                case "name": layer.name = decode.string(value, "a layer name")
                case "bias":
                    if let flag = decode.flag(value, "'bias'") {
                        layer.arguments["bias"] = Located(.flag(flag), at: value.location)
                    }
                case let key where LayerKind.wordKeys[key] != nil:
                    let words = LayerKind.wordKeys[key]!
                    let expected = "'\(key)' to be " + words.map { "'\($0)'" }.joined(separator: " or ")
                    guard let word = decode.string(value, expected) else { break }
                    guard words.contains(word.value) else {
                        decode.sink.error(
                            at: value.location, .unknownWord(word.value, expected: expected, known: words))
                        break
                    }
                    layer.arguments[key] = Located(.word(word.value), at: value.location)
                default:
                    if let expression = decode.expression(value, "'\(key.value)'") {
                        layer.arguments[key.value] = Located(.expression(expression.value), at: value.location)
                    }
                }
            }
        }
        // A key given with a bad value was reported already; do not also call it missing. Nor one that a
        // key not allowed misspells (`kernal`), reported as unknown with "did you mean" already.
        for (key, required) in kind.keys where required && !given.contains(key) {
            if Self.misspells(key, in: argumentsNode, allowed: allowed) { continue }
            decode.sink.error(at: kindNode.location, .missingKey(key, context: "'\(kind.rawValue)'"))
        }
        return layer
    }

    // MARK: Blocks

    private mutating func parseBlocks(_ node: YAMLNode) -> [BlockTemplate] {
        guard let entries = decode.mapping(node, "'blocks'") else { return [] }
        return entries.compactMap { key, value in parseBlock(named: key, value) }
    }

    private mutating func parseBlock(named name: Located<String>, _ node: YAMLNode) -> BlockTemplate? {
        let context = "block '\(name.value)'"
        guard let entries = decode.mapping(node, context, allowed: Self.blockKeys) else { return nil }
        var block = BlockTemplate(
            name: name.value, parameters: [], pre: [], body: [], shortcut: .identity,
            merge: .add, post: [], location: name.location)
        var hasBody = false
        for (key, value) in entries {
            switch key.value {
            case "args": block.parameters = parseParameters(value, context)
            case "pre": block.pre = parseLayers(value, "'pre' of \(context)")
            case "body":
                hasBody = true
                block.body = parseLayers(value, "'body' of \(context)")
            case "shortcut": block.shortcut = parseShortcut(value, context) ?? .identity
            case "merge":
                let expected = "'merge' to be 'add', 'add-if-same-shape' or 'none'"
                guard let text = decode.string(value, expected) else { break }
                guard let merge = Merge(rawValue: text.value) else {
                    let known = ["add", "add-if-same-shape", "none"]
                    decode.sink.error(at: value.location, .unknownWord(text.value, expected: expected, known: known))
                    break
                }
                block.merge = merge
            case "post": block.post = parseLayers(value, "'post' of \(context)")
            default: break
            }
        }
        // (A misspelt `body` is reported as the unknown key it is, with "did you mean".)
        if !hasBody && !Self.misspells("body", in: node, allowed: Self.blockKeys) {
            decode.sink.error(at: name.location, .missingKey("body", context: context))
        }
        return block
    }

    /// Whether a key of mapping `node` that is not `allowed` is a typo of `key`: reported as unknown,
    /// with "did you mean", so not also as a missing `key`.
    private static func misspells(_ key: String, in node: YAMLNode?, allowed: [String]) -> Bool {
        guard case .mapping(let pairs)? = node?.value else { return false }
        return pairs.contains { pair in
            guard let written = pair.key.scalar, !allowed.contains(written) else { return false }
            return !Suggestion.closest(to: written, among: [key]).isEmpty
        }
    }

    /// What can be written as `$name` in an expression (`ExpressionParser.isNameCharacter`): letters,
    /// digits, `_` and combining marks, starting with a letter or `_`. Variables and block arguments are
    /// named so.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ExpressionParser.canStartName(first) else { return false }
        return name.unicodeScalars.allSatisfy(ExpressionParser.isNameCharacter)
    }

    private mutating func parseParameters(_ node: YAMLNode, _ context: String) -> [BlockParameter] {
        guard let entries = decode.mapping(node, "'args' of \(context)") else { return [] }
        var parameters: [BlockParameter] = []
        for (key, value) in entries {
            guard Self.isVariableName(key.value) else {
                decode.sink.error(at: key.location, .badVariableName(key.value))
                continue
            }
            if Self.stageKeys.contains(key.value) && key.value != "stride" {
                decode.sink.error(at: key.location, .reservedArgument(key.value))
                continue
            }
            if BlockBuiltins.names.contains(key.value) {
                decode.sink.error(at: key.location, .builtinArgument(key.value))
                continue
            }
            let what = "the default of argument '\(key.value)'", kinds = "a number or expression, or 'required'"
            if value.isNull || value.scalar == "required" {
                parameters.append(BlockParameter(name: key.value, defaultValue: nil, location: key.location))
            } else if let word = value.scalar, !Suggestion.closest(to: word, among: ["required"]).isEmpty {
                decode.sink.error(
                    at: value.location, .unknownWord(word, expected: "\(what) (\(kinds))", known: ["required"]))
            } else if let expression = decode.expression(value, what, kinds: kinds) {
                parameters.append(BlockParameter(name: key.value, defaultValue: expression, location: key.location))
            }
        }
        return parameters
    }

    private mutating func parseShortcut(_ node: YAMLNode, _ context: String) -> Shortcut? {
        switch node.value {
        case .scalar("identity", _): return .identity
        case .sequence: return .projection(parseLayers(node, "'shortcut' of \(context)"), when: .changed)
        case .mapping:
            guard let entries = decode.mapping(node, "'shortcut' of \(context)", allowed: ["layers", "when"]) else {
                return nil
            }
            var layers: [LayerSpec] = []
            var when = Shortcut.When.changed
            for (key, value) in entries {
                if key.value == "layers" { layers = parseLayers(value, "'shortcut' of \(context)") }
                if key.value == "when", let text = decode.string(value, "'when'") {
                    if let parsed = Shortcut.When(rawValue: text.value) {
                        when = parsed
                    } else {
                        decode.sink.error(
                            at: value.location,
                            .unknownWord(
                                text.value, expected: "'when' to be 'changed' or 'always'", known: ["changed", "always"]
                            ))
                    }
                }
            }
            return .projection(layers, when: when)
        default:
            let expected =
                "'shortcut' to be 'identity', a list of projection layers, or {layers: [...], when: changed|always}"
            if let word = node.scalar, !node.isNull {
                decode.sink.error(at: node.location, .unknownWord(word, expected: expected, known: ["identity"]))
            } else {
                decode.sink.error(at: node.location, .expected(expected, found: node.kindDescription))
            }
            return nil
        }
    }

    // MARK: Stages and sharing

    private mutating func parseStages(_ node: YAMLNode) -> [StageSpec] {
        guard let items = decode.sequence(node, "'stages'") else { return [] }
        return items.enumerated().compactMap { index, item in parseStage(item, index: index + 1) }
    }

    private mutating func parseStage(_ node: YAMLNode, index: Int) -> StageSpec? {
        guard let entries = decode.mapping(node, "stage \(index)") else { return nil }
        var name = Located("stage\(index)", at: node.location)
        var block: Located<String>?
        var repeatCount = LocatedExpression(.number(.int(1)), at: node.location)
        var stride: LocatedExpression?
        var arguments: [BlockArgument] = []
        var share: [ShareEntry] = []
        for (key, value) in entries {
            switch key.value {
            case "name": if let parsed = decode.string(value, "a stage name") { name = parsed }
            case "block": block = decode.string(value, "a block name")
            case "repeat": if let parsed = decode.expression(value, "'repeat'") { repeatCount = parsed }
            case "stride": stride = decode.expression(value, "'stride'")
            case "share": share = parseShare(value)
            default:
                // Near a stage key and no number: a misspelt stage key, not a block argument with a bad value.
                if !Suggestion.closest(to: key.value, among: Self.stageKeys).isEmpty, !Self.isExpression(value) {
                    decode.sink.error(at: key.location, .unknownStageKey(key.value, found: value.kindDescription))
                } else if let parsed = decode.expression(value, "block argument '\(key.value)'") {
                    arguments.append(BlockArgument(name: key, value: parsed))
                }
            }
        }
        guard let block else {
            decode.sink.error(at: node.location, .missingKey("block", context: "stage \(index)"))
            return nil
        }
        return StageSpec(
            name: name, block: block, repeatCount: repeatCount, stride: stride,
            arguments: arguments, share: share, location: node.location)
    }

    private static func isExpression(_ node: YAMLNode) -> Bool {
        guard let text = node.scalar, !node.isNull else { return false }
        return (try? ExpressionParser.parse(text, at: node.textPositions)) != nil
    }

    mutating func parseShare(_ node: YAMLNode) -> [ShareEntry] {
        guard let entries = decode.mapping(node, "'share' as {convolution name: which blocks}") else { return [] }
        var result: [ShareEntry] = []
        for (conv, value) in entries {
            if case .mapping = value.value {
                guard let fields = decode.mapping(value, "the sharing of '\(conv.value)'", allowed: ["blocks", "group"])
                else { continue }
                var selector = Located(BlockSelector.all, at: value.location)
                var group: Located<String>?
                for (key, field) in fields {
                    if key.value == "blocks", let parsed = parseSelector(field) { selector = parsed }
                    if key.value == "group" { group = decode.string(field, "a tie group name") }
                }
                result.append(ShareEntry(conv: conv, selector: selector, group: group))
            } else if let selector = parseSelector(value) {
                result.append(ShareEntry(conv: conv, selector: selector, group: nil))
            }
        }
        return result
    }

    private mutating func parseSelector(_ node: YAMLNode) -> Located<BlockSelector>? {
        let expected = "'all', 'after-first', 'none' or a list of block numbers"
        switch node.value {
        case .scalar("all", _): return Located(.all, at: node.location)
        case .scalar("after-first", _): return Located(.afterFirst, at: node.location)
        case .scalar("none", _): return Located(.none, at: node.location)
        case .sequence(let items):
            var indices: [Located<Int>] = []
            for item in items {
                guard let text = item.scalar, let index = Int(text) else {
                    decode.sink.error(at: item.location, .expected("a block number", found: item.kindDescription))
                    continue
                }
                indices.append(Located(index, at: item.location))
            }
            return Located(.blocks(indices), at: node.location)
        case .scalar(let word, _) where !node.isNull:
            decode.sink.error(
                at: node.location, .unknownWord(word, expected: expected, known: ["all", "after-first", "none"]))
            return nil
        default:
            decode.sink.error(at: node.location, .expected(expected, found: node.kindDescription))
            return nil
        }
    }

    private mutating func parseShareByStage(_ node: YAMLNode) -> [(stage: Located<String>, entries: [ShareEntry])] {
        guard let entries = decode.mapping(node, "'share' (stage name: {convolution: which blocks})") else { return [] }
        return entries.map { key, value in (key, parseShare(value)) }
    }
}
