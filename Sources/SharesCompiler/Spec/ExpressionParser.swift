/// Parses the text of a YAML scalar as an `Expression`. Numbers are read from the text itself,
/// never through YAML's resolver (which reads `010` as 8 and `1:30` as 90).
struct ExpressionParser {
    static let maximumDepth = 64
    /// Binary operators in one expression: every stage after parsing walks the tree recursively, and a
    /// chain of 10,000 additions overflowed the stack.
    static let maximumOperators = 1000

    private let scalars: [Unicode.Scalar]
    private let positions: TextPositions
    private var position = 0
    private var depth = 0
    private var operators = 0

    /// Text on one line from `start` (a command-line value).
    static func parse(_ text: String, at start: Location) throws(CompileFailure) -> Expression {
        try parse(text, at: TextPositions(start: start))
    }

    /// `positions` says where each character of `text` is, for diagnostics and variables' locations.
    static func parse(_ text: String, at positions: TextPositions) throws(CompileFailure) -> Expression {
        var parser = ExpressionParser(scalars: Array(text.unicodeScalars), positions: positions)
        parser.skipSpaces()
        let expression = try parser.parseSum()
        parser.skipSpaces()
        if parser.position < parser.scalars.count {
            throw parser.failure(.expressionUnexpected(String(parser.scalars[parser.position]), text: text))
        }
        return expression
    }

    private init(scalars: [Unicode.Scalar], positions: TextPositions) {
        self.scalars = scalars
        self.positions = positions
    }

    private var here: Location { positions.location(at: position) }

    private func failure(_ message: Message) -> CompileFailure {
        CompileFailure(Diagnostic(at: here, message))
    }

    private var text: String { String(String.UnicodeScalarView(scalars)) }

    private mutating func skipSpaces() {
        // (Line breaks too: a block scalar, `|` or `>`, may spread a long expression over lines.)
        while position < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[position]) { position += 1 }
    }

    private func peek(_ symbol: String) -> Bool {
        let wanted = Array(symbol.unicodeScalars)
        guard position + wanted.count <= scalars.count else { return false }
        return Array(scalars[position..<position + wanted.count]) == wanted
    }

    private mutating func parseSum() throws(CompileFailure) -> Expression {
        var result = try parseProduct()
        while true {
            skipSpaces()
            let op: Expression.Operator
            if peek("+") { op = .add } else if peek("-") { op = .subtract } else { return result }
            try countOperator()
            let location = here
            position += 1
            result = .binary(op, result, try parseProduct(), at: location)
        }
    }

    private mutating func parseProduct() throws(CompileFailure) -> Expression {
        var result = try parseUnary()
        while true {
            skipSpaces()
            let op: Expression.Operator
            if peek("//") {
                op = .floorDivide
            } else if peek("*") {
                op = .multiply
            } else if peek("/") {
                op = .divide
            } else if peek("%") {
                op = .remainder
            } else {
                return result
            }
            try countOperator()
            let location = here
            position += op.rawValue.unicodeScalars.count
            result = .binary(op, result, try parseUnary(), at: location)
        }
    }

    private mutating func countOperator() throws(CompileFailure) {
        operators += 1
        if operators > Self.maximumOperators { throw failure(.expressionTooLong(limit: Self.maximumOperators)) }
    }

    private mutating func parseUnary() throws(CompileFailure) -> Expression {
        skipSpaces()
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { throw failure(.expressionTooDeep(limit: Self.maximumDepth)) }
        if peek("-") {
            let location = here
            position += 1
            return .negate(try parseUnary(), at: location)
        }
        if peek("(") {
            position += 1
            let inner = try parseSum()
            skipSpaces()
            guard peek(")") else { throw failure(.expressionExpected("')'", text: text)) }
            position += 1
            return inner
        }
        if peek("$") {
            let location = here
            position += 1
            let nameStart = position
            let name = takeWhile(Self.isNameCharacter)
            guard let first = name.unicodeScalars.first, Self.canStartName(first) else {
                position = nameStart  // at the digit (or mark) that cannot start a name
                throw failure(
                    .expressionExpected("a variable name after '$' (a name starts with a letter or '_')", text: text))
            }
            return .variable(name, location)
        }
        let numberStart = position
        var digits = takeWhile { ("0"..."9").contains($0) || $0 == "." }
        if !digits.isEmpty { digits += try takeExponent() }
        guard !digits.isEmpty else {
            let found = position < scalars.count ? "'\(scalars[position])'" : "the end"
            throw failure(.expressionExpected("a number, a $variable or '(' but found \(found)", text: text))
        }
        if let value = Int(digits) { return .number(.int(value)) }
        if digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            // A whole number past Int.max would otherwise become an inexact real.
            position = numberStart
            throw failure(.arithmeticOverflow)
        }
        if let value = Double(digits), digits.first != "." {
            // `1e400` is a number, only too large: say that.
            guard value.isFinite else {
                position = numberStart
                throw failure(.realOverflow)
            }
            return .number(.real(value))
        }
        position = numberStart
        throw failure(.expressionExpected("a number but found '\(digits)'", text: text))
    }

    /// `e5`, `e-5`, `E+3` after a number's digits; nothing if no `e` follows. An `e` without digits
    /// (`1e`, `2e+`) is an incomplete exponent, reported where its digits should be.
    private mutating func takeExponent() throws(CompileFailure) -> String {
        guard position < scalars.count, scalars[position] == "e" || scalars[position] == "E" else { return "" }
        var end = position + 1
        if end < scalars.count, scalars[end] == "+" || scalars[end] == "-" { end += 1 }
        let digitsStart = end
        while end < scalars.count, ("0"..."9").contains(scalars[end]) { end += 1 }
        guard end > digitsStart else {
            let exponent = String(String.UnicodeScalarView(scalars[position..<end]))
            position = end
            throw failure(.expressionExpected("the exponent's digits after '\(exponent)'", text: text))
        }
        defer { position = end }
        return String(String.UnicodeScalarView(scalars[position..<end]))
    }

    /// A character of a variable's name, as `$name` reads it: a letter, an ASCII digit, `_`, or a mark
    /// that combines with the letter before it (`é` written as `e` and U+0301, as some editors and
    /// systems write it); the first a letter or `_` (`canStartName`, `SpecParser.isVariableName`).
    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        canStartName(scalar) || ("0"..."9").contains(scalar)
            || [.nonspacingMark, .spacingMark].contains(scalar.properties.generalCategory)
    }

    static func canStartName(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isAlphabetic || scalar == "_" }

    private mutating func takeWhile(_ accept: (Unicode.Scalar) -> Bool) -> String {
        var result = String.UnicodeScalarView()
        while position < scalars.count, accept(scalars[position]) {
            result.append(scalars[position])
            position += 1
        }
        return String(result)
    }
}
