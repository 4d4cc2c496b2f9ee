import CKernels
import Foundation

/// NumPy's `.npy` format, for float32 arrays: the magic `\x93NUMPY`, a version (major, minor), the
/// header length (2 bytes little-endian in version 1, 4 bytes in versions 2 and 3), a header that is a
/// Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with
/// spaces and a newline so that the data starts 64-byte aligned, then the raw data.
///
/// Reading accepts versions 1.0, 2.0 and 3.0, but only little-endian float32 in C order; anything else
/// (another dtype, big-endian, Fortran order, a truncated or damaged file) is a diagnostic, and decoding
/// never reads outside the given bytes. Writing produces version 1.0 (2.0 only if the header would not
/// fit in 65,535 bytes, as NumPy does).
public enum NumPyFile {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Headers longer than this are refused before they are parsed (NumPy refuses beyond 10,000 by default).
    static let maximumHeaderBytes = 1 << 20
    /// Deeper nesting of tuples and lists in the header is refused (real headers nest 2 levels at most).
    static let maximumNesting = 32

    public static func read(_ path: String) throws(CompileFailure) -> (shape: [Int], values: [Float]) {
        let bytes: [UInt8]
        do { bytes = try InputFiles.readAll(path) } catch {
            throw CompileFailure(
                Diagnostic(
                    at: Location(file: path, line: 1, column: 1), .cannotRead(path: path, reason: error.description)))
        }
        return try decode(bytes, path: path)
    }

    public static func write(_ values: [Float], shape: [Int], to path: String) throws(CompileFailure) {
        let at = Location(file: path, line: 1, column: 1)
        guard shape.allSatisfy({ $0 >= 0 }), Shape.checkedProduct(shape) == values.count else {
            throw CompileFailure(
                Diagnostic(
                    at: at,
                    .internalError("cannot write \(values.count) values as an array of shape \(Message.shape(shape))")))
        }
        try OutputFile.write(encode(values, shape: shape), to: path)
    }

    /// The bytes of a `.npy` file holding `values` with `shape`; the shape must hold exactly `values.count` elements.
    public static func encode(_ values: [Float], shape: [Int]) -> [UInt8] {
        precondition(
            shape.allSatisfy { $0 >= 0 } && Shape.checkedProduct(shape) == values.count,
            "shape \(shape) does not hold \(values.count) values")
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }".utf8)
        let version: UInt8 = header.count + 1 + 10 > 65535 ? 2 : 1
        let preamble = version == 1 ? 10 : 12
        // Spaces, then a newline, up to a multiple of 64 bytes for the magic, version, length and header.
        let padding = (64 - (preamble + header.count + 1) % 64) % 64
        header += Array(repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")]
        var bytes = magic + [version, 0]
        bytes.reserveCapacity(preamble + header.count + 4 * values.count)
        if version == 1 {
            bytes += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            bytes += (0..<4).map { UInt8((header.count >> (8 * $0)) & 0xFF) }
        }
        bytes += header
        for value in values {
            let bits = value.bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        }
        return bytes
    }

    /// Parses and checks a whole file; never reads outside `bytes`.
    public static func decode(_ bytes: [UInt8], path: String) throws(CompileFailure) -> (shape: [Int], values: [Float])
    {
        let start = Location(file: path, line: 1, column: 1)
        func corrupt(_ detail: String) -> CompileFailure { CompileFailure(Diagnostic(at: start, .npyCorrupt(detail))) }

        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw corrupt("it does not start with the magic string \\x93NUMPY")
        }
        guard bytes.count >= 8 else { throw corrupt("the file is \(bytes.count) bytes and ends inside the preamble") }
        let (major, minor) = (bytes[6], bytes[7])
        let lengthBytes: Int
        switch (major, minor) {
        case (1, 0): lengthBytes = 2
        case (2, 0), (3, 0): lengthBytes = 4
        default: throw corrupt("format version \(major).\(minor) is not supported; expected 1.0, 2.0 or 3.0")
        }
        let headerStart = 8 + lengthBytes
        guard bytes.count >= headerStart else {
            throw corrupt("the file is \(bytes.count) bytes and ends inside the preamble")
        }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        guard headerLength <= maximumHeaderBytes else {
            throw corrupt("the header claims \(headerLength) bytes; headers are limited to \(maximumHeaderBytes)")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw corrupt(
                "the header claims \(headerLength) bytes but the file has \(bytes.count - headerStart) after the header length"
            )
        }
        let dataStart = headerStart + headerLength
        let headerBytes = bytes[headerStart..<dataStart]
        // Versions 1 and 2 write the header in latin-1, version 3 in UTF-8.
        let headerText: String
        if major == 3 {
            guard let text = String(validating: headerBytes, as: UTF8.self) else {
                throw corrupt("the header is not valid UTF-8")
            }
            headerText = text
        } else {
            headerText = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))
        }

        var parser = LiteralParser(text: headerText)
        let header: Literal
        do { header = try parser.parseWhole() } catch {
            throw corrupt("the header is not a Python dict literal: \(error.detail)")
        }
        guard case .dict(let entries) = header else { throw corrupt("the header is \(header.rendered), not a dict") }
        var fields: [String: Literal] = [:]
        for (key, value) in entries {
            guard case .string(let name) = key else {
                throw corrupt("the header has the key \(key.rendered); keys must be strings")
            }
            guard fields[name] == nil else { throw corrupt("the header has the key '\(name)' twice") }
            fields[name] = value
        }
        let expectedKeys = ["descr", "fortran_order", "shape"]
        guard fields.keys.sorted() == expectedKeys else {
            throw corrupt(
                "the header has the keys \(fields.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")); expected exactly 'descr', 'fortran_order' and 'shape'"
            )
        }
        let descr = fields["descr"]!, shapeField = fields["shape"]!
        guard case .bool(let fortranOrder) = fields["fortran_order"]! else {
            throw corrupt("'fortran_order' is \(fields["fortran_order"]!.rendered); expected True or False")
        }
        // '=' is the native byte order, little-endian on every machine sharesc runs on, and '|' (no
        // order) NumPy reads as native too.
        guard case .string(let dtype) = descr, ["<f4", "=f4", "|f4"].contains(dtype), !fortranOrder else {
            throw CompileFailure(Diagnostic(at: start, .npyDtype(found: describe(descr, fortranOrder: fortranOrder))))
        }
        guard case .tuple(let dims) = shapeField else {
            throw corrupt("'shape' is \(shapeField.rendered); expected a tuple of whole numbers")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let value) = dim, value >= 0 else {
                throw corrupt("'shape' is \(shapeField.rendered); expected a tuple of whole numbers, none negative")
            }
            shape.append(value)
        }
        guard let count = Shape.checkedProduct(shape), count <= ShapeRules.maximumElements else {
            throw corrupt("the shape \(shapeField.rendered) has more than \(ShapeRules.maximumElements) elements")
        }
        let dataLength = bytes.count - dataStart
        guard dataLength == 4 * count else {
            throw corrupt(
                dataLength < 4 * count
                    ? "the file is truncated: the shape \(shapeField.rendered) needs \(4 * count) data bytes but the file has \(dataLength)"
                    : "the file has \(dataLength - 4 * count) bytes after the \(4 * count) data bytes of the shape \(shapeField.rendered)"
            )
        }
        // The file is held already; its values are a second copy, which may not fit where the first did.
        guard sc_can_allocate(4 * count) != 0 else {
            throw CompileFailure(
                Diagnostic(at: start, .outOfMemory(bytes: 4 * count, purpose: "the values of '\(path)'")))
        }
        var values = [Float](repeating: 0, count: count)
        for index in 0..<count {
            let offset = dataStart + 4 * index
            let bits =
                UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(
                    bytes[offset + 3]) << 24
            values[index] = Float(bitPattern: bits)
        }
        return (shape, values)
    }

    /// `'<f8' (float64)`, `'>f4' (big-endian float32)`, `'<f4' in Fortran order`.
    static func describe(_ descr: Literal, fortranOrder: Bool) -> String {
        var text = descr.rendered
        if case .string(let dtype) = descr, dtype != "<f4", let name = dtypeName(dtype) { text += " (\(name))" }
        return fortranOrder ? text + " in Fortran order" : text
    }

    static func dtypeName(_ descr: String) -> String? {
        guard let order = descr.first, "<>|=".contains(order) else { return nil }
        let kinds = ["f": "float", "i": "int", "u": "uint", "c": "complex", "b": "bool"]
        let code = descr.dropFirst()
        guard let kind = code.first.flatMap({ kinds[String($0)] }), let size = Int(code.dropFirst()), size > 0 else {
            return nil
        }
        let bits = kind == "bool" ? "" : String(size * 8)
        let name = kind + bits
        if order == ">" && size > 1 { return "big-endian " + name }
        return name
    }

    /// The Python literals a `.npy` header may hold.
    indirect enum Literal: Equatable {
        case string(String), int(Int), bool(Bool), none
        case tuple([Literal]), list([Literal]), dict([(key: Literal, value: Literal)])

        static func == (a: Literal, b: Literal) -> Bool { a.rendered == b.rendered }

        /// As Python's repr would write it.
        var rendered: String {
            switch self {
            case .string(let text):
                return "'"
                    + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
            case .int(let value): return String(value)
            case .bool(let value): return value ? "True" : "False"
            case .none: return "None"
            case .tuple(let items):
                return items.count == 1
                    ? "(\(items[0].rendered),)" : "(" + items.map(\.rendered).joined(separator: ", ") + ")"
            case .list(let items): return "[" + items.map(\.rendered).joined(separator: ", ") + "]"
            case .dict(let entries):
                return "{" + entries.map { "\($0.key.rendered): \($0.value.rendered)" }.joined(separator: ", ") + "}"
            }
        }
    }

    struct LiteralError: Error { var detail: String }

    /// A recursive-descent parser for the subset of Python literals NumPy writes in headers.
    struct LiteralParser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var depth = 0

        init(text: String) { scalars = Array(text.unicodeScalars) }

        mutating func parseWhole() throws(LiteralError) -> Literal {
            let value = try parseValue()
            skipSpace()
            guard index == scalars.count else { throw LiteralError(detail: "unexpected \(found()) after the dict") }
            return value
        }

        mutating func skipSpace() {
            while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
        }

        func peek() -> Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        mutating func expect(_ scalar: Unicode.Scalar) throws(LiteralError) {
            skipSpace()
            guard peek() == scalar else { throw LiteralError(detail: "expected '\(scalar)', found \(found())") }
            index += 1
        }

        func found() -> String { peek().map(quoted) ?? "the end of the header" }

        func quoted(_ scalar: Unicode.Scalar) -> String { scalar == "'" ? "\"'\"" : "'\(Character(scalar))'" }

        mutating func parseValue() throws(LiteralError) -> Literal {
            skipSpace()
            guard let first = peek() else {
                throw LiteralError(detail: "expected a value, found the end of the header")
            }
            switch first {
            case "{", "(", "[":
                depth += 1
                defer { depth -= 1 }
                guard depth <= NumPyFile.maximumNesting else {
                    throw LiteralError(detail: "nested more than \(NumPyFile.maximumNesting) levels deep")
                }
                index += 1
                let close: Unicode.Scalar = first == "{" ? "}" : first == "(" ? ")" : "]"
                var items: [Literal] = [], entries: [(key: Literal, value: Literal)] = []
                var sawComma = false
                while true {
                    skipSpace()
                    if peek() == close {
                        index += 1
                        break
                    }
                    if !(items.isEmpty && entries.isEmpty) {
                        // Items after the first need a separating comma (checked when it was read).
                        guard sawComma else {
                            throw LiteralError(detail: "expected ',' or '\(close)', found \(found())")
                        }
                    }
                    let key = try parseValue()
                    if first == "{" {
                        try expect(":")
                        entries.append((key, try parseValue()))
                    } else {
                        items.append(key)
                    }
                    skipSpace()
                    sawComma = peek() == ","
                    if sawComma { index += 1 }
                }
                switch first {
                case "{": return .dict(entries)
                case "[": return .list(items)
                default:
                    // `(5)` is the number 5 in Python; `(5,)` a tuple.
                    return items.count == 1 && !sawComma ? items[0] : .tuple(items)
                }
            case "'", "\"":
                index += 1
                var text = String.UnicodeScalarView()
                while true {
                    guard let scalar = peek() else { throw LiteralError(detail: "a string is not closed") }
                    index += 1
                    if scalar == first { break }
                    if scalar == "\\" {
                        guard let escaped = peek() else { throw LiteralError(detail: "a string is not closed") }
                        index += 1
                        text.append(escaped)
                    } else {
                        text.append(scalar)
                    }
                }
                return .string(String(text))
            case "-", "0"..."9":
                var digits = ""
                if first == "-" {
                    digits.append("-")
                    index += 1
                }
                while let scalar = peek(), ("0"..."9").contains(scalar) {
                    digits.unicodeScalars.append(scalar)
                    index += 1
                }
                // Python 2 wrote long integers with an L suffix.
                if let scalar = peek(), scalar == "L" || scalar == "l" { index += 1 }
                guard let value = Int(digits) else {
                    throw LiteralError(detail: "'\(digits)' is not a whole number within 64 bits")
                }
                return .int(value)
            default:
                var word = ""
                while let scalar = peek(),
                    scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_"
                {
                    word.unicodeScalars.append(scalar)
                    index += 1
                }
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .none
                default:
                    throw LiteralError(detail: word.isEmpty ? "unexpected \(quoted(first))" : "unexpected '\(word)'")
                }
            }
        }
    }
}
