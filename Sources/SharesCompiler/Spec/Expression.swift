/// A number in a spec. Sizes must be whole; rates (dropout) may be fractional.
public enum Number: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case real(Double)

    public var description: String {
        switch self {
        case .int(let value): return String(value)
        case .real(let value): return String(value)
        }
    }

    /// Whether it is a whole number (`.int`), as the spec's arithmetic keeps it: `2.0` is real.
    public var isWhole: Bool {
        if case .int = self { return true }
        return false
    }

    var asDouble: Double {
        switch self {
        case .int(let value): return Double(value)
        case .real(let value): return value
        }
    }
}

/// Integer arithmetic on variables and block arguments, written in a scalar: `$width * 4`, `($depth - 2) / 9`.
/// `/` must divide exactly (a depth that does not fit the formula is an error, not a silent floor);
/// `//` floors and `%` is the remainder.
public indirect enum Expression: Hashable, Sendable, CustomStringConvertible {
    public enum Operator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", remainder = "%"
    }

    case number(Number)
    /// A `$name` reference; the location is the `$` itself.
    case variable(String, Location)
    /// `-a`; parsed from text, with the `-`'s location (where an overflow is reported).
    case negate(Expression, at: Location? = nil)
    /// `a op b`; parsed from text, with the operator's location (where a division by zero, an inexact
    /// `/` or an overflow is reported).
    case binary(Operator, Expression, Expression, at: Location? = nil)

    public var description: String {
        switch self {
        case .number(let number): return number.description
        case .variable(let name, _): return "$" + name
        case .negate(let operand, _): return "-" + operand.description
        case .binary(let op, let lhs, let rhs, _): return "(\(lhs) \(op.rawValue) \(rhs))"
        }
    }

    /// The names this expression reads, in order of appearance.
    public var variables: [(name: String, location: Location)] {
        switch self {
        case .number: return []
        case .variable(let name, let location): return [(name, location)]
        case .negate(let operand, _): return operand.variables
        case .binary(_, let lhs, let rhs, _): return lhs.variables + rhs.variables
        }
    }
}

/// A spec value together with where it was written.
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var location: Location

    public init(_ value: Value, at location: Location) {
        self.value = value
        self.location = location
    }
}

public typealias LocatedExpression = Located<Expression>
