import Foundation

/// Small pieces of Python source for the PyTorch exporter: identifiers, literals, and spec
/// expressions printed with only the parentheses Python needs.
enum PythonSource {
    static let keywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield"
    ]

    /// The public attributes of `nn.Module` and of the containers the export builds (`nn.Sequential`,
    /// `nn.ModuleDict`, `nn.ModuleList`), as of PyTorch 2.13: a child module of such a name cannot be
    /// registered (or hides a method its container calls), so a layer, stage or tie group named so
    /// cannot be mirrored. The PyTorch suite checks the list against the installed PyTorch.
    static let moduleAttributes: Set<String> = [
        "T_destination", "add_module", "append", "apply", "bfloat16", "buffers", "call_super_init", "children",
        "clear", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extend", "extra_repr", "float",
        "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "insert", "ipu", "items",
        "keys", "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
        "named_parameters", "parameters", "pop", "register_backward_hook", "register_buffer", "register_forward_hook",
        "register_forward_pre_hook", "register_full_backward_hook", "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook", "register_module",
        "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
        "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training",
        "type", "update", "values", "xpu", "zero_grad"
    ]

    /// A Python identifier that is not a keyword, as Python reads it: Unicode's identifier characters
    /// (XID_Start or `_`, then XID_Continue), already in NFKC form, to which Python normalises identifiers
    /// (written as `ﬁ`, the ligature, it would be `fi`: two names of the spec, one of Python).
    static func isIdentifier(_ text: String) -> Bool {
        let scalars = text.unicodeScalars
        guard let first = scalars.first, first == "_" || first.properties.isXIDStart, !keywords.contains(text),
            scalars.dropFirst().allSatisfy({ $0.properties.isXIDContinue }),
            scalars.elementsEqual(text.precomposedStringWithCompatibilityMapping.unicodeScalars)
        else { return false }
        return true
    }

    /// A name PyTorch can register a child module under: not empty, no `.` (it separates the levels
    /// of a module path), not an attribute `nn.Module` already has, and not starting with `_`, where
    /// its private attributes live (`_modules`, `_parameters`, `__init__`, more in each release).
    static func isModuleName(_ text: String) -> Bool {
        !text.isEmpty && !text.contains(".") && !text.hasPrefix("_") && !moduleAttributes.contains(text)
    }

    /// `self.conv1`, or `getattr(self, "3x3")` for a module name that is not an identifier.
    static func child(_ name: String, of object: String = "self") -> String {
        isIdentifier(name) ? "\(object).\(name)" : "getattr(\(object), \(string(name)))"
    }

    /// `self.conv1 = value`, or `self.add_module("3x3", value)` for a name that is not an identifier.
    static func register(_ name: String, _ value: String) -> String {
        isIdentifier(name) ? "self.\(name) = \(value)" : "self.add_module(\(string(name)), \(value))"
    }

    /// `name` if it is free to use as a local name, else `name_` (a keyword, or a name the generated
    /// code itself uses, such as `nn` or `in_channels`). A name Python would not read as written (`ﬁ`,
    /// read as `fi`; `ͺ`, no identifier) is spelled in ASCII, its other characters as `_xHHHH`; an
    /// accent written as a combining mark is composed with its letter first (`e` and U+0301 as `é`).
    static func localName(_ name: String, avoiding taken: Set<String>) -> String {
        var result = name.precomposedStringWithCanonicalMapping
        if !isIdentifier(result) && !keywords.contains(result) {
            result = result.unicodeScalars.map { scalar in
                scalar.isASCII && (scalar == "_" || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
                    ? String(scalar) : "_x" + String(scalar.value, radix: 16, uppercase: true)
            }.joined()
            if ("0"..."9").contains(result.unicodeScalars.first ?? "_") { result = "_" + result }
        }
        // A name that starts with two underscores and does not end with two is mangled inside a class
        // (`__w` becomes `_BBlock__w`), so that a keyword argument `__w=3` would miss it: `__w__`.
        while !isIdentifier(result) || taken.contains(result) || (result.hasPrefix("__") && !result.hasSuffix("__")) {
            result += "_"
        }
        return result
    }

    /// `sharesnet-50` -> `Sharesnet50`, `preact_bottleneck` -> `PreactBottleneck`.
    static func className(_ name: String) -> String {
        let words = name.split { !($0.isLetter || $0.isNumber) }
        let joined = words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return joined.first?.isLetter == true ? joined : "Net" + joined
    }

    static func string(_ text: String) -> String { Safetensors.json(text) }

    /// Text for inside a `"""` docstring: a backslash or quote in a name (`a"""b`, or a final `"`)
    /// would otherwise end the docstring or escape what follows.
    static func docstringText(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    static func literal(_ number: Number) -> String {
        switch number {
        case .int(let value): return String(value)
        // Swift prints the shortest text that reads back as the same double, which Python accepts.
        case .real(let value): return String(value)
        }
    }

    static func literal(_ flag: Bool) -> String { flag ? "True" : "False" }

    /// Prints `expression` with `$name` replaced by `names[name]`. `/` is exact division of whole
    /// numbers in a spec (checked when compiling); where the value must be whole (`whole`) it is `//`.
    static func expression(_ expression: Expression, names: [String: String], whole: Bool) -> String {
        printed(expression, names: names) { _ in whole }.text
    }

    /// The same, `/` printed as `//` where both its operands are whole (`isWhole`), else as `/`.
    static func expression(_ expression: Expression, names: [String: String], isWhole: (Expression) -> Bool)
        -> String
    {
        printed(expression, names: names, isWhole: isWhole).text
    }

    /// Binding strength: 1 additive, 2 multiplicative, 3 unary minus, 4 atoms (as in Python).
    private static func printed(_ expression: Expression, names: [String: String], isWhole: (Expression) -> Bool)
        -> (text: String, strength: Int)
    {
        switch expression {
        case .number(let number):
            let text = literal(number)
            return (text, text.hasPrefix("-") ? 3 : 4)
        case .variable(let name, _):
            return (names[name] ?? name, 4)
        case .negate(let operand, _):
            let inner = printed(operand, names: names, isWhole: isWhole)
            return ("-" + (inner.strength < 3 ? "(\(inner.text))" : inner.text), 3)
        case .binary(let op, let lhs, let rhs, _):
            let strength: Int
            let symbol: String
            switch op {
            case .add, .subtract: (strength, symbol) = (1, op.rawValue)
            case .multiply, .floorDivide, .remainder: (strength, symbol) = (2, op.rawValue)
            case .divide: (strength, symbol) = (2, isWhole(lhs) && isWhole(rhs) ? "//" : "/")
            }
            let left = printed(lhs, names: names, isWhole: isWhole)
            let right = printed(rhs, names: names, isWhole: isWhole)
            // Left-associative: the right operand needs parentheses at equal strength.
            let leftText = left.strength < strength ? "(\(left.text))" : left.text
            let rightText = right.strength <= strength ? "(\(right.text))" : right.text
            return ("\(leftText) \(symbol) \(rightText)", strength)
        }
    }

    /// A call with positional and keyword arguments: `nn.Conv2d(64, 64, 3, padding=1, bias=False)`.
    static func call(_ function: String, _ positional: [String], _ keywords: [(String, String)] = []) -> String {
        function + "(" + (positional + keywords.map { "\($0.0)=\($0.1)" }).joined(separator: ", ") + ")"
    }

    /// `source` with each line longer than `limit` that ends in a call (`self.conv1 = nn.Conv2d(...)`,
    /// `return F.conv2d(...)`) broken after its opening parenthesis, its arguments filling lines
    /// indented four more, as a person would write it. Lines with comments are left as they are.
    static func wrappingLongCalls(_ source: String, limit: Int = 110) -> String {
        source.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.count > limit, !line.contains("#"), line.last == ")",
                let (open, arguments) = callArguments(line)
            else { return String(line) }
            let indent = String(repeating: " ", count: line.prefix { $0 == " " }.count + 4)
            var lines = [String(line[...open])], current = indent
            for (index, argument) in arguments.enumerated() {
                let piece = argument + (index + 1 < arguments.count ? "," : ")")
                if current != indent && current.count + 1 + piece.count > limit {
                    lines.append(current)
                    current = indent
                }
                current += (current == indent ? "" : " ") + piece
            }
            return (lines + [current]).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// The opening parenthesis of the call that runs to the end of `line`, and its arguments split at
    /// the commas outside any bracket or string; nil when the line's last parenthesis closes no such call.
    private static func callArguments(_ line: Substring) -> (Substring.Index, [String])? {
        var depth = 0, open: Substring.Index?
        var arguments: [String] = [], current = ""
        var quote: Character?
        for index in line.indices {
            let character = line[index]
            if let closing = quote {  // inside a string: nothing counts until it closes
                if character == closing { quote = nil }
                current.append(character)
                continue
            }
            switch character {
            case "\"", "'":
                quote = character
            case "(", "[", "{":
                depth += 1
                if depth == 1 && character == "(" && open == nil {
                    open = index
                    continue
                }
            case ")", "]", "}":
                depth -= 1
                if depth == 0 {
                    guard open != nil, index == line.index(before: line.endIndex) else { return nil }
                    arguments.append(current.trimmingCharacters(in: .whitespaces))
                    return arguments.count > 1 ? (open!, arguments) : nil
                }
            case "," where depth == 1:
                arguments.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            if open != nil { current.append(character) }
        }
        return nil
    }

    /// `nn.Sequential(OrderedDict(a=..., b=...))` (`OrderedDict([("3x3", ...)])` when some name is not
    /// an identifier), on one line for a single entry, else one per line.
    static func sequential(_ entries: [(name: String, constructor: String)], indent: String) -> String {
        if entries.isEmpty { return "nn.Sequential()" }
        let keywords = entries.allSatisfy { isIdentifier($0.name) }
        let items = entries.map {
            keywords ? "\($0.name)=\($0.constructor)" : "(\(string($0.name)), \($0.constructor))"
        }
        let (open, close) = keywords ? ("OrderedDict(", ")") : ("OrderedDict([", "])")
        if items.count == 1 { return "nn.Sequential(\(open)\(items[0])\(close))" }
        return "nn.Sequential(\(open)\n" + items.map { "\(indent)    \($0),\n" }.joined() + "\(indent)\(close))"
    }
}
