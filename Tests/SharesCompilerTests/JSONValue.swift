/// A JSON document as the schema validator sees it: integers apart from other numbers, so that
/// `"type": "integer"` means what JSON Schema says (a number without a fractional part, 3.0 too).
indirect enum JSONValue: Equatable {
    case null, bool(Bool), integer(Int), number(Double), string(String), array([JSONValue])
    case object([String: JSONValue])

    /// Reads a whole document (RFC 8259). A parser of its own rather than `Decodable`, which can only
    /// try each type in turn: every failed try throws, and Swift Testing records a backtrace for each
    /// thrown error, which made a quarter of the whole suite's time.
    static func parse(_ text: String) throws -> JSONValue {
        var parser = JSONParser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.failure("text after the document") }
        return value
    }

    var number: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        case .null, .bool, .string, .array, .object: return nil
        }
    }
}

struct JSONParseError: Error, CustomStringConvertible {
    var description: String
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ message: String) -> JSONParseError {
        JSONParseError(description: "JSON at byte \(index): \(message)")
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func take(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes[index...].starts(with: expected) else { return false }
        index += expected.count
        return true
    }

    mutating func value() throws -> JSONValue {
        skipSpace()
        guard index < bytes.count else { throw failure("a value expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default:
            if take("null") { return .null }
            if take("true") { return .bool(true) }
            if take("false") { return .bool(false) }
            throw failure("a value expected")
        }
    }

    /// Reads the separator between members or elements: true at `close`, false after a comma.
    private mutating func atEnd(of close: Character) throws -> Bool {
        skipSpace()
        if take(String(close)) { return true }
        guard take(",") else { throw failure("',' or '\(close)' expected") }
        return false
    }

    private mutating func object() throws -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if take("}") { return .object(members) }
        repeat {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure("a member name expected")
            }
            let name = try string()
            skipSpace()
            guard take(":") else { throw failure("':' expected") }
            members[name] = try value()
        } while try !atEnd(of: "}")
        return .object(members)
    }

    private mutating func array() throws -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if take("]") { return .array(elements) }
        repeat { elements.append(try value()) } while try !atEnd(of: "]")
        return .array(elements)
    }

    private mutating func string() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run = index  // the start of the bytes since the last escape
        func flush(upTo end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars)
        }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                flush(upTo: index)
                index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(upTo: index)
                index += 1
                scalars.append(try escape())
                run = index
            case 0..<0x20: throw failure("a control character in a string")
            default: index += 1
            }
        }
        throw failure("an unterminated string")
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard index < bytes.count else { throw failure("an unterminated escape") }
        let letter = bytes[index]
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(letter)
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try hexUnit()
            guard (0xD800..<0xDC00).contains(unit) else {
                guard let scalar = Unicode.Scalar(unit) else { throw failure("a lone low surrogate") }
                return scalar
            }
            guard take("\\u") else { throw failure("a high surrogate without its low one") }
            let low = try hexUnit()
            guard (0xDC00..<0xE000).contains(low) else { throw failure("a high surrogate without its low one") }
            return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
        default: throw failure("an unknown escape")
        }
    }

    private mutating func hexUnit() throws -> UInt32 {
        guard index + 4 <= bytes.count,
            let unit = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw failure("four hexadecimal digits expected") }
        index += 4
        return unit
    }

    /// An integer where the literal has no fraction or exponent and fits an Int, or where its value is
    /// whole; any other number as a Double. The grammar is RFC 8259's: no '+', no leading zeros.
    private mutating func number() throws -> JSONValue {
        let start = index
        _ = take("-")
        if !take("0") { guard digits() else { throw failure("a digit expected") } }
        if take(".") { guard digits() else { throw failure("a digit expected after '.'") } }
        if take("e") || take("E") {
            _ = take("+") || take("-")
            guard digits() else { throw failure("a digit expected in the exponent") }
        }
        let literal = String(decoding: bytes[start..<index], as: UTF8.self)
        if let integer = Int(literal) { return .integer(integer) }
        guard let value = Double(literal), value.isFinite else { throw failure("a number out of range '\(literal)'") }
        if let integer = Int(exactly: value) { return .integer(integer) }
        return .number(value)
    }

    /// Skips a run of decimal digits: false if there is none.
    private mutating func digits() -> Bool {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index > start
    }
}
