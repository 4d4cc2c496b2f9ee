/// Evaluates expressions against variables, with overflow and exact-division checks.
public struct Scope: Sendable {
    public private(set) var values: [String: Number]
    /// For each variable whose value comes (perhaps through others) from `--set`, or is a real, notes at
    /// where it came from (each such `--set`, the expression that made it real): an error in an
    /// expression that uses the variable says where its value came from.
    private var originNotes: [String: [Diagnostic.Note]]

    public init(_ values: [String: Number] = [:], originNotes: [String: [Diagnostic.Note]] = [:]) {
        self.values = values
        self.originNotes = originNotes
    }

    /// `name` bound to `value`, computed from `expression` in this scope, with the notes of the values it
    /// was computed from, and a note at `expression` where the value is real (sizes must be whole, and a
    /// real from `$width * 1.5` in a stage was reported inside the block, far from it, with no note).
    public func binding(_ name: String, to value: Number, from expression: LocatedExpression) -> Scope {
        var copy = adding(name, value)
        let notes =
            expression.value.variables.flatMap { originNotes[$0.name] ?? [] } + realNote(name, value, from: expression)
        var seen = Set<Diagnostic.Note>()
        copy.originNotes[name] = notes.filter { seen.insert($0).inserted }
        return copy
    }

    /// A note at `expression` where `name`'s value, computed from it, became real: the value is real and
    /// none of the variables it reads is (their own notes say where they did).
    func realNote(_ name: String, _ value: Number, from expression: LocatedExpression) -> [Diagnostic.Note] {
        guard !value.isWhole, expression.value.variables.allSatisfy({ values[$0.name]?.isWhole ?? true }) else {
            return []
        }
        return [Diagnostic.note(at: expression.location, .realValue(name, value: value.description))]
    }

    public func adding(_ name: String, _ value: Number) -> Scope {
        var copy = self
        copy.values[name] = value
        copy.originNotes[name] = nil
        return copy
    }

    public func evaluate(_ expression: LocatedExpression) throws(CompileFailure) -> Number {
        try pointingAtOverrides(expression) { () throws(CompileFailure) in
            try evaluate(expression.value, at: expression.location)
        }
    }

    /// A size, count or stride: whole and within `range`.
    public func integer(_ expression: LocatedExpression, _ what: String, in range: ClosedRange<Int>)
        throws(CompileFailure) -> Int
    {
        let number = try evaluate(expression)
        return try pointingAtOverrides(expression) { () throws(CompileFailure) in
            guard case .int(let value) = number else {
                throw CompileFailure(
                    Diagnostic(at: expression.location, .wholeNumberExpected(what, found: number.description)))
            }
            guard range.contains(value) else {
                let bound =
                    range.upperBound == Int.max
                    ? "at least \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
                throw CompileFailure(
                    Diagnostic(at: expression.location, .outOfRange(what, value: value, range: bound)))
            }
            return value
        }
    }

    /// `body`'s errors, each with a note at every `--set` that gave one of `expression`'s variables its
    /// value (the error's location is in the file, where nothing shows that value).
    private func pointingAtOverrides<T>(_ expression: LocatedExpression, _ body: () throws(CompileFailure) -> T)
        throws(CompileFailure) -> T
    {
        do {
            return try body()
        } catch {
            var seen = Set<Diagnostic.Note>()
            let notes = expression.value.variables.flatMap { originNotes[$0.name] ?? [] }.filter {
                seen.insert($0).inserted
            }
            var failure = error
            if !notes.isEmpty, !failure.diagnostics.isEmpty { failure.diagnostics[0].notes += notes }
            throw failure
        }
    }

    private func evaluate(_ expression: Expression, at location: Location) throws(CompileFailure) -> Number {
        switch expression {
        case .number(let number):
            return number
        case .variable(let name, let variableLocation):
            guard let value = values[name] else {
                throw CompileFailure(
                    Diagnostic(at: variableLocation, .unknownVariable(name, known: values.keys.sorted())))
            }
            return value
        case .negate(let operand, let minus):
            switch try evaluate(operand, at: location) {
            case .int(let value):
                let (result, overflow) = Int(0).subtractingReportingOverflow(value)
                if overflow { throw CompileFailure(Diagnostic(at: minus ?? location, .arithmeticOverflow)) }
                return .int(result)
            case .real(let value): return .real(-value)
            }
        case .binary(let op, let lhs, let rhs, let operatorLocation):
            let a = try evaluate(lhs, at: location), b = try evaluate(rhs, at: location)
            if case .int(let x) = a, case .int(let y) = b {
                return .int(try integerOperation(op, x, y, at: operatorLocation ?? location))
            }
            return .real(try realOperation(op, a.asDouble, b.asDouble, at: operatorLocation ?? location))
        }
    }

    private func integerOperation(_ op: Expression.Operator, _ x: Int, _ y: Int, at location: Location)
        throws(CompileFailure) -> Int
    {
        func fail(_ message: Message) -> CompileFailure { CompileFailure(Diagnostic(at: location, message)) }
        let result: (partialValue: Int, overflow: Bool)
        switch op {
        case .add: result = x.addingReportingOverflow(y)
        case .subtract: result = x.subtractingReportingOverflow(y)
        case .multiply: result = x.multipliedReportingOverflow(by: y)
        case .divide, .floorDivide, .remainder:
            guard y != 0 else { throw fail(.divisionByZero) }
            // Every integer is a multiple of -1, Int.min too, whose quotient alone overflows: its `%` is 0.
            if op == .remainder, y == -1 { return 0 }
            let (quotient, overflow) = x.dividedReportingOverflow(by: y)
            if overflow { throw fail(.arithmeticOverflow) }
            let remainder = x - quotient * y
            // `//` and `%` round toward minus infinity together (as in Python): x == (x // y) * y + x % y.
            let floors = remainder != 0 && (remainder < 0) != (y < 0)
            switch op {
            case .divide:
                guard remainder == 0 else { throw fail(.inexactDivision(x, y)) }
                result = (quotient, false)
            case .floorDivide:
                result = (floors ? quotient - 1 : quotient, false)
            default:
                result = (floors ? remainder + y : remainder, false)
            }
        }
        if result.overflow { throw fail(.arithmeticOverflow) }
        return result.partialValue
    }

    private func realOperation(_ op: Expression.Operator, _ x: Double, _ y: Double, at location: Location)
        throws(CompileFailure) -> Double
    {
        let value: Double
        switch op {
        case .add: value = x + y
        case .subtract: value = x - y
        case .multiply: value = x * y
        case .divide, .floorDivide, .remainder:
            guard y != 0 else { throw CompileFailure(Diagnostic(at: location, .divisionByZero)) }
            let floored = (x / y).rounded(.down)
            value = op == .divide ? x / y : (op == .floorDivide ? floored : x - floored * y)
        }
        guard value.isFinite else { throw CompileFailure(Diagnostic(at: location, .realOverflow)) }
        return value
    }
}

extension Spec {
    /// Evaluates every variable, each once, in dependency order; a variable may use others (`n: ($depth - 2) / 9`).
    /// Depth first with a stack of its own, not by recursion: a chain of 20,000 variables, each using the
    /// next, overflowed the call stack.
    func globalScope() throws(CompileFailure) -> Scope {
        var sink = DiagnosticSink()
        var values: [String: Number] = [:]
        var failed: Set<String> = []
        var originNotes: [String: [Diagnostic.Note]] = [:]

        // A variable under evaluation, and how many of its dependencies it has looked at.
        struct Pending {
            var name: String
            var dependencies: [(name: String, location: Location)]
            var next = 0
        }
        var pending: [Pending] = []
        var pendingNames: Set<String> = []
        // A failure fails every variable waiting on the one that failed.
        func failPending() {
            failed.formUnion(pendingNames)
            pending.removeAll()
            pendingNames.removeAll()
        }

        // All of `name`'s dependencies have values: its own value, with the --set notes it inherits.
        func evaluate(
            _ name: String, _ declaration: VariableDeclaration, after dependencies: [(name: String, location: Location)]
        ) {
            var local: [String: Number] = [:], localNotes: [String: [Diagnostic.Note]] = [:]
            for (dependency, _) in dependencies {
                local[dependency] = values[dependency]
                localNotes[dependency] = originNotes[dependency]
            }
            let scope = Scope(local, originNotes: localNotes)
            guard let value = sink.recover({ () throws(CompileFailure) in try scope.evaluate(declaration.value) })
            else {
                failed.insert(name)
                return failPending()
            }
            values[name] = value
            // Where --set gave this value, or the values it was computed from, or where it became real.
            let notes =
                declaration.setBy.map { option in
                    [
                        Diagnostic.note(
                            at: declaration.location,
                            .valueSetOnCommandLine(name, value: value.description, option: option))
                    ]
                } ?? localNotes.keys.sorted().flatMap { localNotes[$0]! }
                + scope.realNote(name, value, from: declaration.value)
            originNotes[name] = Array(Set(notes)).sorted { ($0.location, $0.message) < ($1.location, $1.message) }
        }

        for root in variables.keys.sorted() where values[root] == nil && !failed.contains(root) {
            pending = [Pending(name: root, dependencies: variables[root]!.value.value.variables)]
            pendingNames = [root]
            while let top = pending.last {
                guard top.next < top.dependencies.count else {
                    pending.removeLast()
                    pendingNames.remove(top.name)
                    evaluate(top.name, variables[top.name]!, after: top.dependencies)
                    continue
                }
                let (dependency, location) = top.dependencies[top.next]
                pending[pending.count - 1].next += 1
                if values[dependency] != nil { continue }
                guard let declaration = variables[dependency] else {
                    // Not the one being defined, a cycle of its own (`x: 1 + $nope` offered `$x`).
                    let known = variables.keys.filter { $0 != top.name }.sorted()
                    sink.error(at: location, .unknownVariable(dependency, known: known))
                    failPending()
                    continue
                }
                if failed.contains(dependency) {
                    failPending()
                } else if pendingNames.contains(dependency) {
                    let start = pending.firstIndex { $0.name == dependency }!
                    let chain = pending[start...].map(\.name) + [dependency]
                    sink.error(at: declaration.location, .variableCycle(chain: chain))
                    failPending()
                } else {
                    pending.append(Pending(name: dependency, dependencies: declaration.value.value.variables))
                    pendingNames.insert(dependency)
                }
            }
        }
        try sink.check()
        return Scope(values, originNotes: originNotes.filter { !$0.value.isEmpty })
    }
}
