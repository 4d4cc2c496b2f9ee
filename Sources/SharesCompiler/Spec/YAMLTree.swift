/// A YAML document converted to our own located values right after parsing, so that nothing past
/// `YAMLReader` sees Yams (whose `Node` is not `Sendable` and loses key positions).
public struct YAMLNode: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        /// A scalar's text as written; `plain` is false for quoted and block scalars.
        case scalar(String, plain: Bool)
        case mapping([Pair])
        case sequence([YAMLNode])
    }

    public struct Pair: Sendable, Hashable {
        public var key: YAMLNode
        public var value: YAMLNode
    }

    public var value: Value
    public var location: Location
    /// Where a scalar's text lies, where not along one line from `location` (see `textPositions`).
    var positions: TextPositions? = nil

    /// Where each character of a scalar's text is in the file: for an expression's diagnostics.
    var textPositions: TextPositions { positions ?? TextPositions(start: location) }

    public var scalar: String? {
        if case .scalar(let text, _) = value { return text }
        return nil
    }

    /// True for `~`, `null` and an empty plain value (`key:`).
    public var isNull: Bool {
        if case .scalar(let text, plain: true) = value { return ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }

    /// What a user would call this node's kind, for "expected X, found Y" messages.
    public var kindDescription: String {
        switch value {
        case .scalar(let text, _): return isNull ? "an empty value" : "'\(text)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}
