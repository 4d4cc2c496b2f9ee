/// Prints a loaded `Spec` back in the spec language, resolved: includes, `extends`, named layer lists,
/// top-level `share:` and `--set` overrides are already merged into it, and every expression is printed as
/// its value where the value does not depend on a block argument (`sharesc compile SPEC --emit spec`).
///
/// The printed text is itself a spec that compiles to the same network (same graph, same report), so a
/// user can read exactly what the compiler built, and keep it as a self-contained file:
///
/// - `network` is always written, so a name that came from the file name survives a rename.
/// - `input`, the stem, the head, and each stage's `repeat`, `stride` and block arguments are evaluated
///   with the global variables, as the compiler evaluates them.
/// - Block templates keep their arguments (`$width`); the globals they name are replaced by their values
///   and constant parts folded (`$cardinality * $group_width` becomes `32`). Only the templates that the
///   stages use are printed, in order of first use; the validator's checks on an unused template can only
///   fail, never change a network that compiles.
/// - `vars:` keeps only what the printed text still reads: a global that a block argument's default can
///   fall back to (a default may name an argument the stage leaves unset), and any variable that does not
///   evaluate, so that a spec that fails still fails.
/// - Stage names are written out, also the automatic `stage<k>`: they name the layers, parameters and ties.
/// - Layer names appear only where given (`name:`), since automatic names are counted from the layer's
///   kind and position, which printing keeps.
/// - Keys come in a fixed order, that of the reference's examples (`docs/spec-language.md`): `network`,
///   `input`, `vars`, `blocks`, `stem`, `stages`, `head`; in a stage `name`, `block`, `repeat`, `stride`, the
///   block arguments as written, `share`; in a layer `name`, then the kind's keys in the reference's order.
///   Nothing depends on dictionary order. Numbers are exact: integers as integers, reals in the shortest
///   form that reads back as the same double, always with a `.` or an exponent so that they stay real.
///
/// Comments, `description`, and how a value was spelt (`010`, `1e-3`, quotes) are not in the model and are
/// not printed.
public enum SpecPrinter {
    /// The resolved spec as YAML, after a comment that names its source and the values of its variables;
    /// `sequential`: its sequential variant, every `share:` left out (what `--sequential` compiles).
    public static func yaml(_ spec: Spec, sequential: Bool = false) -> String {
        var resolver = Resolver(sequential ? spec.withoutTies : spec)
        let document = resolver.document()
        let header = resolver.header(sequential: sequential)
        return header.map { "# " + $0 + "\n" }.joined() + YAMLLayout.render(document)
    }

    /// The same content as JSON (which a YAML reader reads too, so it also compiles), keys in the
    /// language's order; the source is named in `description`, which the compiler ignores.
    public static func json(_ spec: Spec, sequential: Bool = false) -> String {
        var resolver = Resolver(sequential ? spec.withoutTies : spec)
        guard case .map(var entries, let style) = resolver.document() else { return "{}\n" }
        let description = "resolved from " + spec.path + (sequential ? ", " + sequentialNote : "")
        entries.insert(Node.Entry("description", .text(description)), at: min(1, entries.count))
        return JSONLayout.render(.map(entries, style)) + "\n"
    }

    private static let sequentialNote = "its sequential variant (--sequential): every share left out"

    /// Text that the expression parser reads back as the same expression: fewest parentheses, operators
    /// left-associative, numbers exact.
    static func text(_ expression: Expression) -> String { textAndPrecedence(expression).text }
}

// MARK: - The printed document

extension SpecPrinter {
    /// The printed spec as a tree, laid out afterwards as YAML or JSON.
    indirect enum Node {
        struct Entry {
            var key: String
            var value: Node
            init(_ key: String, _ value: Node) {
                self.key = key
                self.value = value
            }
        }

        enum Style {
            /// Written on one line where it fits.
            case flow
            /// One key per line: stages and block templates read best so, even when short.
            case block
            /// Block style with a blank line before each entry that takes several lines (top level, `blocks`).
            case spaced
        }

        /// A number as the expression parser reads it back: the same in YAML and JSON.
        case number(String)
        /// An expression or a keyword of the language (`$width * 4`, `all`): plain in YAML, a string in JSON.
        case word(String)
        /// A required block argument: `required` in YAML; `null` in JSON, since only a plain `required` is
        /// the keyword and JSON has no plain words (an empty value means `required` too).
        case required
        case flag(Bool)
        /// A name: quoted in YAML only where a plain scalar would not read back as itself.
        case text(String)
        case list([Node])
        case map([Entry], Style)

        var isScalar: Bool {
            switch self {
            case .list, .map: return false
            case .number, .word, .required, .flag, .text: return true
            }
        }

        /// The node on one line (`[...]`, `{...}`), or nil where it needs block style: a list holding
        /// collections, or a map whose style asks for block style. `word` writes bare words, `text`
        /// keys and strings, `required` a required block argument.
        func flow(word: (String) -> String, text: (String) -> String, required: String) -> String? {
            switch self {
            case .number(let number): return number
            case .word(let bare): return word(bare)
            case .text(let string): return text(string)
            case .required: return required
            case .flag(let flag): return flag ? "true" : "false"
            case .list(let items):
                guard items.allSatisfy(\.isScalar) else { return nil }
                return "["
                    + items.compactMap { $0.flow(word: word, text: text, required: required) }.joined(separator: ", ")
                    + "]"
            case .map(let entries, let style):
                guard style == .flow || entries.isEmpty else { return nil }
                var parts: [String] = []
                for entry in entries {
                    guard let value = entry.value.flow(word: word, text: text, required: required) else { return nil }
                    parts.append(text(entry.key) + ": " + value)
                }
                return "{" + parts.joined(separator: ", ") + "}"
            }
        }
    }
}

// MARK: - Resolution

extension SpecPrinter {
    private struct Resolver {
        let spec: Spec
        /// Every global variable that evaluates; one that fails (or is in a cycle) is missing.
        private(set) var values: [String: Number] = [:]
        /// Globals that the printed text still names with `$`, so that `vars:` must declare them.
        var referenced: Set<String> = []

        init(_ spec: Spec) {
            self.spec = spec
            evaluateGlobals()
            referenced = []
        }

        /// Every global that evaluates, as the compiler evaluates it (each operation folded by `Scope`), but
        /// without reporting anything, since printing never fails, and without recursion: a sum or a chain of
        /// variables can be as long as a file allows, deeper than the stack (the compiler's own `globalScope`
        /// recurses, so it is not used). Variables are visited depth-first in dependency order; one met again
        /// while its dependencies are being evaluated is in a cycle and gets no value.
        private mutating func evaluateGlobals() {
            var finished: Set<String> = []
            for root in spec.variables.keys.sorted() where !finished.contains(root) {
                var stack: [(name: String, dependenciesDone: Bool)] = [(root, false)]
                var inProgress: Set<String> = []
                while let (name, dependenciesDone) = stack.popLast() {
                    guard let declaration = spec.variables[name] else { continue }
                    if dependenciesDone {
                        inProgress.remove(name)
                        finished.insert(name)
                        if case .number(let value) = resolve(declaration.value.value) { values[name] = value }
                        continue
                    }
                    guard !finished.contains(name), inProgress.insert(name).inserted else { continue }
                    stack.append((name, true))
                    for dependency in Self.names(in: declaration.value.value) where !finished.contains(dependency) {
                        stack.append((dependency, false))
                    }
                }
            }
        }

        /// The variables an expression names, without recursion (`Expression.variables` recurses).
        private static func names(in expression: Expression) -> [String] {
            var names: [String] = []
            var stack = [expression]
            while let next = stack.popLast() {
                switch next {
                case .number: break
                case .variable(let name, _): names.append(name)
                case .negate(let operand, _): stack.append(operand)
                case .binary(_, let lhs, let rhs, _): stack += [rhs, lhs]
                }
            }
            return names
        }

        // MARK: Expressions

        /// `expression` with each global it names replaced by its value and each operation on numbers
        /// computed. `kept` names are block arguments, bound by the block rather than the globals; those
        /// in `unbound` may be left unset by a stage (a default naming a later argument), and then read
        /// the global of that name, which `vars:` must therefore keep. An operation that fails (`7 / 2`)
        /// is kept as written, so that the printed spec fails the same way.
        mutating func resolve(
            _ expression: Expression, kept: Set<String> = [],
            unbound: Set<String> = []
        ) -> Expression {
            switch expression {
            case .number:
                return expression
            case .variable(let name, _):
                if !kept.contains(name), let value = values[name] { return .number(value) }
                if spec.variables[name] != nil, !kept.contains(name) || unbound.contains(name) {
                    referenced.insert(name)
                }
                return expression
            case .negate(let operand, _):
                return Self.fold(.negate(resolve(operand, kept: kept, unbound: unbound)))
            case .binary:
                // `a + b + c + ...` nests to the left as deep as it is long: walk that spine in a loop.
                let (base, spine) = expression.leftSpine
                var result = resolve(base, kept: kept, unbound: unbound)
                for (op, rhs) in spine {
                    result = Self.fold(.binary(op, result, resolve(rhs, kept: kept, unbound: unbound)))
                }
                return result
            }
        }

        private static let nowhere = Location(file: "", line: 1, column: 1)

        /// One operation on numbers, computed as the compiler computes it; its operands are folded already.
        private static func fold(_ expression: Expression) -> Expression {
            switch expression {
            case .negate(.number, _), .binary(_, .number, .number, _):
                guard let value = try? Scope().evaluate(Located(expression, at: nowhere)) else { return expression }
                return .number(value)
            default:
                return expression
            }
        }

        /// A number where the expression is one, else its text.
        private func value(_ expression: Expression) -> Node {
            // Int.min has no literal (its digits overflow before the minus applies): it prints as an expression.
            if case .number(let number) = expression, number != .int(Int.min) { return .number(number.description) }
            return .word(SpecPrinter.text(expression))
        }

        private mutating func global(_ expression: LocatedExpression) -> Node { value(resolve(expression.value)) }

        // MARK: Document

        mutating func document() -> Node {
            var entries = [Node.Entry("network", .text(spec.network.value))]
            entries.append(.init("input", .list(spec.input.value.map { global($0) })))
            var blockNames: [String] = []
            for stage in spec.stages where !blockNames.contains(stage.block.value) {
                blockNames.append(stage.block.value)
            }
            let templates = blockNames.compactMap { spec.blocks[$0] }
            var sections: [Node.Entry] = []
            if !templates.isEmpty {
                sections.append(.init("blocks", .map(templates.map { .init($0.name, template($0)) }, .spaced)))
            }
            if !spec.stem.isEmpty { sections.append(.init("stem", layers(spec.stem))) }
            if !spec.stages.isEmpty { sections.append(.init("stages", .list(spec.stages.map { stage($0) }))) }
            if !spec.head.isEmpty { sections.append(.init("head", layers(spec.head))) }
            // Last: resolving the rest is what finds which variables are still named.
            if let variables = variables() { entries.append(.init("vars", variables)) }
            return .map(entries + sections, .spaced)
        }

        /// The globals still named in the printed text, and every one that does not evaluate (the compiler
        /// evaluates all of them, used or not); nil when there are none.
        private mutating func variables() -> Node? {
            var pending = referenced.union(spec.variables.keys.filter { values[$0] == nil })
            var printed: [String: Node] = [:]
            while let name = pending.popFirst() {
                guard printed[name] == nil, let declaration = spec.variables[name] else { continue }
                if let number = values[name] {
                    printed[name] = value(.number(number))
                } else {
                    let before = referenced
                    printed[name] = value(resolve(declaration.value.value))
                    pending.formUnion(referenced.subtracting(before))
                }
            }
            guard !printed.isEmpty else { return nil }
            return .map(printed.keys.sorted().map { .init($0, printed[$0]!) }, .flow)
        }

        /// Comment lines: the source, and each variable's value (they are no longer in the printed text).
        func header(sequential: Bool) -> [String] {
            var lines = ["resolved from " + YAMLLayout.escaped(spec.path)]
            if sequential { lines.append(SpecPrinter.sequentialNote) }
            let items = values.keys.sorted().map { name in
                let option = spec.variables[name]?.setBy
                return "\(name) = \(SpecPrinter.text(.number(values[name]!)))" + (option.map { " (\($0))" } ?? "")
            }
            guard !items.isEmpty else { return lines }
            var line = "variables:"
            for (index, item) in items.enumerated() {
                let piece = " " + item + (index < items.count - 1 ? "," : "")
                if line.count + piece.count > YAMLLayout.width - 2, line != "variables:" {
                    lines.append(line)
                    line = " "
                }
                line += piece
            }
            lines.append(line)
            return lines
        }

        private mutating func stage(_ stage: StageSpec) -> Node {
            var entries: [Node.Entry] = [
                .init("name", .text(stage.name.value)),
                .init("block", .text(stage.block.value)),
                .init("repeat", global(stage.repeatCount))
            ]
            if let stride = stage.stride { entries.append(.init("stride", global(stride))) }
            for argument in stage.arguments { entries.append(.init(argument.name.value, global(argument.value))) }
            if !stage.share.isEmpty { entries.append(.init("share", share(stage.share))) }
            return .map(entries, .block)
        }

        private func share(_ share: [ShareEntry]) -> Node {
            func selector(_ selector: BlockSelector) -> Node {
                switch selector {
                case .all: return .word("all")
                case .afterFirst: return .word("after-first")
                case .none: return .word("none")
                case .blocks(let list): return .list(list.map { .number(String($0.value)) })
                }
            }
            return .map(
                share.map { entry in
                    guard let group = entry.group else {
                        return .init(entry.conv.value, selector(entry.selector.value))
                    }
                    return .init(
                        entry.conv.value,
                        .map(
                            [
                                .init("blocks", selector(entry.selector.value)),
                                .init("group", .text(group.value))
                            ], .flow))
                }, .flow)
        }

        private mutating func template(_ template: BlockTemplate) -> Node {
            let names = Set(template.parameters.map(\.name)).union(BlockBuiltins.names)
            var entries: [Node.Entry] = []
            if !template.parameters.isEmpty {
                var arguments: [Node.Entry] = []
                for (index, parameter) in template.parameters.enumerated() {
                    guard let fallback = parameter.defaultValue else {
                        arguments.append(.init(parameter.name, .required))
                        continue
                    }
                    // Arguments declared before this one are bound by now; this one and later ones only if the
                    // stage gives them.
                    let unbound = Set(template.parameters[index...].map(\.name))
                    let resolved = resolve(fallback.value, kept: names, unbound: unbound)
                    arguments.append(.init(parameter.name, value(resolved)))
                }
                entries.append(.init("args", .map(arguments, .flow)))
            }
            if !template.pre.isEmpty { entries.append(.init("pre", layers(template.pre, arguments: names))) }
            entries.append(.init("body", layers(template.body, arguments: names)))
            if case .projection(let projection, let when) = template.shortcut {
                let list = layers(projection, arguments: names)
                entries.append(
                    .init(
                        "shortcut",
                        when == .changed
                            ? list
                            : .map([.init("layers", list), .init("when", .word(when.rawValue))], .flow)))
            }
            if template.merge != .add { entries.append(.init("merge", .word(template.merge.rawValue))) }
            if !template.post.isEmpty { entries.append(.init("post", layers(template.post, arguments: names))) }
            return .map(entries, .block)
        }

        /// Layers of the stem or head (`arguments` empty) or of a block template, in which every declared
        /// argument is bound (the validator requires the stage to give those without a default).
        private mutating func layers(_ layers: [LayerSpec], arguments: Set<String> = []) -> Node {
            .list(
                layers.map { layer in
                    var entries: [Node.Entry] = []
                    if let name = layer.name { entries.append(.init("name", .text(name.value))) }
                    let known = layer.kind.keys.map(\.key)
                    for key in known + layer.arguments.keys.filter({ !known.contains($0) }).sorted() {
                        switch layer.arguments[key]?.value {
                        case nil: continue
                        case .flag(let flag): entries.append(.init(key, .flag(flag)))
                        case .word(let word): entries.append(.init(key, .word(word)))
                        case .expression(let expression):
                            entries.append(.init(key, value(resolve(expression, kept: arguments))))
                        }
                    }
                    guard !entries.isEmpty else { return .word(layer.kind.rawValue) }
                    return .map([.init(layer.kind.rawValue, .map(entries, .flow))], .flow)
                })
        }
    }
}

// MARK: - Expression text

extension SpecPrinter {
    /// Precedence levels of the grammar: sums, products, then unary minus, numbers, variables.
    private static let sum = 1, product = 2, unary = 3

    private static func textAndPrecedence(_ expression: Expression) -> (text: String, precedence: Int) {
        switch expression {
        case .number(.int(Int.min)):
            return ("-9223372036854775807 - 1", sum)
        case .number(let number):
            // Swift prints a Double in its shortest form that reads back exactly, always with '.' or an
            // exponent ("0.1", "1e-05", "100.0"), so a real stays real.
            return (number.description, unary)
        case .variable(let name, _):
            return ("$" + name, unary)
        case .negate(let operand, _):
            return ("-" + text(operand, atLeast: unary), unary)
        case .binary:
            let (base, spine) = expression.leftSpine
            var (text, precedence) = textAndPrecedence(base)
            for (op, rhs) in spine {
                let level = op == .add || op == .subtract ? sum : product
                if precedence < level { text = "(" + text + ")" }
                // Operators are left-associative: a right operand of the same level needs parentheses.
                text += " " + op.rawValue + " " + Self.text(rhs, atLeast: level + 1)
                precedence = level
            }
            return (text, precedence)
        }
    }

    private static func text(_ expression: Expression, atLeast level: Int) -> String {
        let (text, precedence) = textAndPrecedence(expression)
        return precedence < level ? "(" + text + ")" : text
    }
}

// MARK: - Layout

extension SpecPrinter {
    fileprivate enum YAMLLayout {
        /// Flow collections longer than this (with their indentation) are written in block style.
        static let width = 100

        static func render(_ root: Node) -> String {
            var lines: [String] = []
            write(root, indent: 0, into: &lines)
            return lines.joined(separator: "\n") + "\n"
        }

        /// The one-line form of `node`, or nil when it has to be written in block style: a list holding
        /// collections (a list of layers), or a map whose style asks for block style.
        static func flow(_ node: Node) -> String? {
            node.flow(word: { $0 }, text: scalar, required: "required")
        }

        private static func write(_ node: Node, indent: Int, into lines: inout [String]) {
            switch node {
            case .map(let entries, let style) where !entries.isEmpty:
                writeEntries(entries, spaced: style == .spaced, indent: indent, lead: nil, into: &lines)
            case .list(let items) where !items.isEmpty && flow(node) == nil:
                let dash = String(repeating: " ", count: indent) + "- "
                for item in items {
                    // A map in a list is written in block style: `- conv: {out: 64, kernel: 3}`, not `- {conv: ...}`.
                    if case .map(let entries, let style) = item, !entries.isEmpty {
                        writeEntries(entries, spaced: style == .spaced, indent: indent + 2, lead: dash, into: &lines)
                    } else if let text = flow(item) {
                        lines.append(dash + text)
                    } else {
                        lines.append(String(dash.dropLast()))
                        write(item, indent: indent + 2, into: &lines)
                    }
                }
            default:
                lines.append(String(repeating: " ", count: indent) + (flow(node) ?? ""))
            }
        }

        /// `key: value` lines at `indent`; the first line starts with `lead` instead (`- ` of a list item).
        private static func writeEntries(
            _ entries: [Node.Entry], spaced: Bool, indent: Int, lead: String?,
            into lines: inout [String]
        ) {
            for (index, entry) in entries.enumerated() {
                let prefix = (index == 0 ? lead : nil) ?? String(repeating: " ", count: indent)
                let key = scalar(entry.key) + ":"
                if let text = flow(entry.value),
                    entry.value.isScalar || prefix.count + key.count + 1 + text.count <= width
                {
                    lines.append(prefix + key + " " + text)
                } else {
                    if spaced && index > 0 { lines.append("") }
                    lines.append(prefix + key)
                    write(entry.value, indent: indent + 2, into: &lines)
                }
            }
        }

        /// YAML 1.1 words that a reader may take for a boolean or null; quoted, even where sharesc reads
        /// them as text, so that no reader is misled.
        private static let reserved: Set<String> = [
            "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES",
            "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"
        ]

        /// A name as a YAML scalar: plain when it is a word of letters, digits, `_`, `-` and `.` starting
        /// with a letter or `_` (what names usually are), double-quoted otherwise.
        static func scalar(_ text: String) -> String {
            let scalars = text.unicodeScalars
            func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
                scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_-.".unicodeScalars.contains(scalar)
            }
            if let first = scalars.first, first.properties.isAlphabetic || first == "_", !reserved.contains(text),
                scalars.allSatisfy(isWordCharacter)
            {
                return text
            }
            return "\"" + escaped(text) + "\""
        }

        /// `text` with `\`, `"` and every character YAML does not allow unescaped as `\uXXXX` (or `\UXXXXXXXX`):
        /// the body of a double-quoted scalar in YAML and in JSON (where `\U` cannot occur: those characters
        /// are all in the BMP).
        static func escaped(_ text: String) -> String {
            var out = ""
            for scalar in text.unicodeScalars {
                switch scalar.value {
                case 0x5C: out += "\\\\"
                case 0x22: out += "\\\""
                case 0x2028, 0x2029, 0xFEFF: out += "\\u" + String(scalar.value, radix: 16, uppercase: true)
                case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...: out.unicodeScalars.append(scalar)
                default:
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                }
            }
            return out
        }
    }

    fileprivate enum JSONLayout {
        static func render(_ node: Node, indent: Int = 0) -> String {
            let line = flow(node)
            if let line, node.isScalar || indent + line.count <= YAMLLayout.width { return line }
            let inner = String(repeating: " ", count: indent + 2)
            switch node {
            case .list(let items):
                return "[\n" + items.map { inner + render($0, indent: indent + 2) }.joined(separator: ",\n")
                    + "\n" + String(repeating: " ", count: indent) + "]"
            case .map(let entries, _):
                return "{\n"
                    + entries.map { inner + string($0.key) + ": " + render($0.value, indent: indent + 2) }
                    .joined(separator: ",\n") + "\n" + String(repeating: " ", count: indent) + "}"
            case .number, .word, .required, .flag, .text:
                return line ?? "null"
            }
        }

        /// One line, under the same rules as YAML's flow style.
        private static func flow(_ node: Node) -> String? { node.flow(word: string, text: string, required: "null") }

        private static func string(_ text: String) -> String { "\"" + YAMLLayout.escaped(text) + "\"" }
    }
}

extension Expression {
    /// A chain of binary operators nested to the left (`((a + b) - c) * d`): its leftmost operand, then
    /// each operator with its right operand, innermost first.
    fileprivate var leftSpine: (base: Expression, spine: [(Expression.Operator, Expression)]) {
        var spine: [(Expression.Operator, Expression)] = []
        var base = self
        while case .binary(let op, let lhs, let rhs, _) = base {
            spine.append((op, rhs))
            base = lhs
        }
        return (base, spine.reversed())
    }
}
