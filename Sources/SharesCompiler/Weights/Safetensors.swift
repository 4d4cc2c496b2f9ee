import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. sharesc writes float32; it reads
/// float32, float16 and bfloat16 (converted to float32), and int64 only for PyTorch's batchnorm
/// step counters, which `WeightFile` then drops.
public enum Safetensors {
    public struct Tensor: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
    }

    /// A header larger than this is refused before it is parsed (real headers are kilobytes).
    static let maximumHeaderBytes = 100 << 20

    public static func encode(_ tensors: [Tensor], metadata: [(key: String, value: String)]) -> [UInt8] {
        var bytes = header(tensors.map { ($0.name, $0.shape) }, metadata: metadata)
        // x86-64 and arm64 are little-endian, the byte order safetensors stores.
        for tensor in tensors { tensor.values.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Writes a file of float32 tensors whose values `values(index)` hands out one at a time, so that no
    /// more than one is held (with `encode`, every tensor and then the whole file were).
    public static func write(
        _ tensors: [(name: String, shape: [Int])], metadata: [(key: String, value: String)],
        values: (Int) throws(CompileFailure) -> [Float], to path: String
    ) throws(CompileFailure) {
        try OutputFile.write(to: path) { file throws(CompileFailure) in
            try file.append(header(tensors, metadata: metadata))
            for (index, tensor) in tensors.enumerated() {
                let values = try values(index)
                precondition(values.count == Shape.checkedProduct(tensor.shape), "'\(tensor.name)' has the wrong count")
                try file.append(values)
            }
        }
    }

    /// The file's bytes before the data: the header's length, then its JSON (each tensor's dtype, shape
    /// and byte range, after `__metadata__`), padded with spaces so that the data starts 8-byte aligned,
    /// as the reference implementation does.
    static func header(_ tensors: [(name: String, shape: [Int])], metadata: [(key: String, value: String)]) -> [UInt8] {
        var entries = [
            "\"__metadata__\":{" + metadata.map { "\(json($0.key)):\(json($0.value))" }.joined(separator: ",") + "}"
        ]
        var offset = 0
        for tensor in tensors {
            let end = offset + 4 * (Shape.checkedProduct(tensor.shape) ?? 0)
            entries.append(
                "\(json(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                    + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
    }

    /// The element types sharesc reads.
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32"

        var size: Int {
            switch self {
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .f64, .i64: return 8
            }
        }

        /// Whether it is a type of integers, which only step counters have.
        var isInteger: Bool { self == .i64 || self == .i32 }
    }

    /// A tensor's entry in the header: its element type, and where its data lies relative to the data section.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var dtype: DType = .f32
        public var begin: Int
        public var end: Int
        public var count: Int { (end - begin) / dtype.size }
    }

    /// PyTorch's batchnorm step counter (`bn1.num_batches_tracked`): an int64 that is not a weight.
    static func isBatchCounter(_ name: String) -> Bool {
        name == "num_batches_tracked" || name.hasSuffix(".num_batches_tracked")
    }

    /// `torch.optim.swa_utils.AveragedModel`'s count of averaged models, an int64 beside its `module.` weights.
    static let averagedCount = "n_averaged"

    public struct Header: Sendable {
        public var entries: [Entry]
        public var metadata: [String: String]
        /// File offset of the data section (8 + the JSON header's length).
        public var dataStart: Int
    }

    /// The header's length, from the file's first 8 bytes, checked against the file's size.
    static func headerLength(_ prefix: [UInt8], fileSize: Int, path: String) throws(CompileFailure) -> Int {
        guard prefix.count >= 8, fileSize >= 8 else {
            throw failure(path, .weightsCorrupt("the file is \(fileSize) bytes, shorter than the 8-byte header length"))
        }
        let length = prefix[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(min(fileSize - 8, maximumHeaderBytes)) else {
            throw failure(
                path,
                .weightsCorrupt(
                    "the header claims \(length) bytes but the file has \(fileSize - 8) after the length"
                        + otherFormat(prefix, path: path)))
        }
        return Int(length)
    }

    /// What a file that is not safetensors seems to be, by its first bytes or its name, as a clause
    /// that says what to do: the files users hand over by mistake are PyTorch's own checkpoints.
    static func otherFormat(_ prefix: [UInt8], path: String) -> String {
        let save = "; save the state_dict with safetensors.torch.save_file instead"
        switch InputFiles.kind(of: prefix, path: path) {
        case .zip: return " (it is a zip archive, as torch.save writes\(save))"
        case .pickle: return " (it is a pickle, as torch.save's legacy format writes\(save))"
        case .onnx: return " (it is named as an ONNX model, which holds no safetensors)"
        case .text: return " (it begins as text, as a spec does; a file named .plan is read as a plan)"
        case .safetensors, .numpy, nil: return ""
        }
    }

    /// Parses and bounds-checks the JSON header against a file of `fileSize` bytes.
    static func parseHeader(_ json: ArraySlice<UInt8>, fileSize: Int, path: String) throws(CompileFailure) -> Header {
        func fail(_ message: Message) -> CompileFailure { failure(path, message) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)), let header = object as? [String: Any]
        else {
            throw fail(.weightsCorrupt("the header is not a JSON object"))
        }
        if let duplicate = duplicateKey(in: Array(json)) { throw fail(.weightsCorrupt(duplicate)) }
        let dataStart = 8 + json.count
        let dataLength = fileSize - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for name in header.keys.sorted() {
            if name == "__metadata__" {
                guard let fields = header[name] as? [String: Any] else {
                    throw fail(.weightsCorrupt("'__metadata__' is not an object"))
                }
                for (key, value) in fields {
                    guard let text = value as? String else {
                        throw fail(.weightsCorrupt("metadata '\(key)' is not a string"))
                    }
                    metadata[key] = text
                }
                continue
            }
            guard let entry = header[name] as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = integers(entry["shape"]), let offsets = integers(entry["data_offsets"]), offsets.count == 2
            else {
                throw fail(.weightsCorrupt("tensor '\(name)' lacks a valid dtype, shape or data_offsets"))
            }
            // Integers only as a step counter: any other integer tensor is not a weight sharesc can use.
            guard let type = DType(rawValue: dtype), !type.isInteger || isBatchCounter(name) || name == averagedCount
            else {
                throw fail(.weightsDtype(name: name, dtype: dtype))
            }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= ShapeRules.maximumElements }),
                let count = Shape.checkedProduct(shape)
            else {
                throw fail(.weightsCorrupt("tensor '\(name)' has an impossible shape \(shape)"))
            }
            guard count <= dataLength / type.size else {
                throw fail(
                    .weightsCorrupt(
                        "tensor '\(name)' of shape \(shape) needs \(count) x \(type.size) bytes, but the file has \(dataLength) data bytes"
                    ))
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength, end - begin == type.size * count else {
                let values = type == .f32 ? "float32" : type.rawValue
                throw fail(
                    .weightsCorrupt(
                        "tensor '\(name)' has data_offsets [\(begin), \(end)], which do not hold \(count) \(values) values within the \(dataLength) data bytes"
                    ))
            }
            entries.append(Entry(name: name, shape: shape, dtype: type, begin: begin, end: end))
        }
        let ranges = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.begin < previous.end {
            throw fail(.weightsCorrupt("tensors '\(previous.name)' and '\(next.name)' overlap"))
        }
        // The data is the tensors' bytes one after another and nothing else, as the format requires: a
        // header length off by a byte (every tensor read misaligned) or bytes appended are refused.
        func unused(_ begin: Int, _ end: Int) -> CompileFailure {
            fail(.weightsCorrupt("data bytes \(begin) to \(end) of \(dataLength) belong to no tensor"))
        }
        var covered = 0
        for entry in ranges {
            guard entry.begin == covered else { throw unused(covered, entry.begin) }
            covered = entry.end
        }
        guard covered == dataLength else { throw unused(covered, dataLength) }
        return Header(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    /// The first key that an object in `json` (which JSONSerialization has parsed) holds twice, as
    /// "key 'k' appears twice in 'parent'". The parsers keep one of the two values silently, where the
    /// reference safetensors reader refuses the header. Keys compare as the parsed dictionary's do:
    /// escapes decoded, as Swift strings.
    static func duplicateKey(in json: [UInt8]) -> String? {
        // Per open object (or array: no keys), the keys seen so far and the key that names it.
        var open: [(keys: Set<String>?, name: String?)] = []
        var lastKey: String?
        var index = 0
        while index < json.count {
            switch json[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                open.append((json[index] == UInt8(ascii: "{") ? [] : nil, lastKey ?? open.last?.name))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = open.popLast()
                lastKey = nil
            case UInt8(ascii: "\""):
                var end = index + 1  // the closing quote: a backslash escapes the byte after it
                while end < json.count, json[end] != UInt8(ascii: "\"") {
                    end += json[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard end < json.count else { return nil }
                var next = end + 1
                while next < json.count, [0x20, 0x09, 0x0A, 0x0D].contains(json[next]) { next += 1 }
                // A string followed by a colon is a key of the innermost object.
                if next < json.count, json[next] == UInt8(ascii: ":"), open.last?.keys != nil {
                    guard let key = string(json[index...end]) else { return nil }
                    guard open[open.count - 1].keys!.insert(key).inserted else {
                        return "key '\(key)' appears twice in "
                            + (open.last!.name.map { "'\($0)'" } ?? "the top-level object")
                    }
                    lastKey = key
                }
                index = end
            case UInt8(ascii: ","):
                if open.last?.keys != nil { lastKey = nil }
            default: break
            }
            index += 1
        }
        return nil
    }

    /// A JSON string literal's text, its escapes decoded (by JSONSerialization, where it has any).
    private static func string(_ literal: ArraySlice<UInt8>) -> String? {
        guard literal.contains(UInt8(ascii: "\\")) else {
            return String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
        }
        return (try? JSONSerialization.jsonObject(with: Data(literal), options: .fragmentsAllowed)) as? String
    }

    /// Parses and bounds-checks a whole file held in memory; never reads outside `bytes`. Step counters
    /// are dropped; names are kept as they are (no network to adapt them toward: `WeightFileReader` has).
    public static func decode(_ bytes: [UInt8], path: String) throws(CompileFailure) -> (
        tensors: [Tensor], metadata: [String: String]
    ) {
        let length = try headerLength(Array(bytes.prefix(8)), fileSize: bytes.count, path: path)
        let header = try parseHeader(bytes[8..<(8 + length)], fileSize: bytes.count, path: path).adaptedFromPyTorch(
            expecting: [], path: path
        ).header
        let tensors = header.entries.map { entry in
            Tensor(
                name: entry.name, shape: entry.shape,
                values: floats(bytes[(header.dataStart + entry.begin)..<(header.dataStart + entry.end)], entry.dtype))
        }
        return (tensors, header.metadata)
    }

    /// Float32 values from little-endian bytes of `dtype` (x86-64 and arm64 are little-endian);
    /// int64 counters come out as their values.
    static func floats(_ bytes: ArraySlice<UInt8>, _ dtype: DType = .f32) -> [Float] {
        switch dtype {
        case .f32:
            var values = [Float](repeating: 0, count: bytes.count / 4)
            values.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
            return values
        case .f16, .bf16:
            var halves = [UInt16](repeating: 0, count: bytes.count / 2)
            halves.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
            // bfloat16 is the top half of a float32; float16 is widened field by field.
            return dtype == .bf16 ? halves.map { Float(bitPattern: UInt32($0) << 16) } : halves.map(float16)
        case .f64: return values(bytes, as: Double.self).map { Float($0) }  // rounded, as PyTorch's .float()
        case .i64: return values(bytes, as: Int64.self).map { Float($0) }
        case .i32: return values(bytes, as: Int32.self).map { Float($0) }
        }
    }

    private static func values<T: BitwiseCopyable & Numeric>(_ bytes: ArraySlice<UInt8>, as: T.Type) -> [T] {
        var values = [T](repeating: 0, count: bytes.count / MemoryLayout<T>.size)
        values.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
        return values
    }

    /// IEEE half precision to single, exactly (subnormals, infinities and NaN included).
    static func float16(_ bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int(bits >> 10) & 0x1F, fraction = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: fraction x 2^-24, exact in float32.
            let magnitude = Float(fraction) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | fraction << 13)
        }
    }

    static func failure(_ path: String, _ message: Message) -> CompileFailure {
        CompileFailure(Diagnostic(at: Location(file: path, line: 1, column: 1), message))
    }

    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in array {
            // JSONSerialization gives NSNumber, typed as the text was written: refuse `8.0`, `1e1` and
            // `true` (a double or a boolean, which safetensors' own reader refuses) and values beyond Int.
            guard let number = item as? NSNumber, "ilqs".contains(String(cString: number.objCType)) else {
                return nil
            }
            result.append(number.intValue)
        }
        return result
    }

    /// A JSON string literal.
    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
