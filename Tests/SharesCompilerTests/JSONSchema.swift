import Foundation

/// The subset of JSON Schema (draft 2020-12) that the schemas under docs/schemas/ use: `type`, `enum`,
/// `minimum`, `required`, `properties`, `additionalProperties`, `items`, `anyOf` and `$ref` (within a
/// file, `#/$defs/row`, or to another file of the directory, `report.schema.json#/$defs/row`). A keyword
/// outside the subset is an error rather than ignored, so that a schema never claims a check that
/// nothing makes. No SwiftPM dependency for this: the package keeps its two.
struct JSONSchemaValidator {
    /// Keywords that describe and never constrain.
    static let annotations: Set<String> = ["$schema", "$id", "$defs", "$comment", "title", "description"]
    static let assertions: Set<String> = [
        "type", "enum", "minimum", "required", "properties", "additionalProperties", "items", "anyOf", "$ref"
    ]

    /// Schema documents by file name.
    var documents: [String: JSONValue]

    init(documents: [String: JSONValue]) { self.documents = documents }

    /// Every `*.schema.json` of a directory.
    init(directory: String) throws {
        var documents: [String: JSONValue] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".schema.json")
        {
            documents[file] = try JSONValue.parse(String(contentsOfFile: directory + "/" + file, encoding: .utf8))
        }
        self.documents = documents
    }

    /// What is wrong with `instance` against the schema in `file`, one line each: where (a JSON pointer) and what.
    func errors(in instance: JSONValue, against file: String) -> [String] {
        guard let schema = documents[file] else { return ["no schema \(file)"] }
        var errors: [String] = []
        check(instance, schema, file: file, at: "", into: &errors)
        return errors
    }

    /// Keywords outside the subset anywhere in the schema in `file`, each with where it is.
    func unsupportedKeywords(in file: String) -> [String] {
        var found: [String] = []
        func walk(_ schema: JSONValue, at path: String) {
            guard case .object(let keywords) = schema else { return }
            for (keyword, value) in keywords.sorted(by: { $0.key < $1.key }) {
                guard Self.annotations.contains(keyword) || Self.assertions.contains(keyword) else {
                    found.append("\(path)/\(keyword)")
                    continue
                }
                switch (keyword, value) {
                case ("properties", .object(let members)), ("$defs", .object(let members)):
                    for (name, member) in members { walk(member, at: "\(path)/\(keyword)/\(name)") }
                case ("items", _), ("additionalProperties", _): walk(value, at: "\(path)/\(keyword)")
                case ("anyOf", .array(let members)):
                    for (index, member) in members.enumerated() { walk(member, at: "\(path)/anyOf/\(index)") }
                default: break
                }
            }
        }
        walk(documents[file] ?? .null, at: file + "#")
        return found
    }

    private func check(
        _ instance: JSONValue, _ schema: JSONValue, file: String, at path: String, into errors: inout [String]
    ) {
        let keywords: [String: JSONValue]
        switch schema {
        case .bool(true): return
        case .bool(false):
            errors.append("\(path.isEmpty ? "/" : path): not allowed here")
            return
        case .object(let object): keywords = object
        case .null, .integer, .number, .string, .array:
            errors.append("\(path): the schema is not an object or a boolean")
            return
        }
        func fail(_ message: String) { errors.append("\(path.isEmpty ? "/" : path): \(message)") }

        for keyword in keywords.keys.sorted() where !Self.annotations.contains(keyword) {
            if !Self.assertions.contains(keyword) { fail("unsupported schema keyword '\(keyword)'") }
        }
        if case .string(let reference) = keywords["$ref"] {
            if let (target, targetFile) = resolve(reference, from: file) {
                check(instance, target, file: targetFile, at: path, into: &errors)
            } else {
                fail("cannot resolve $ref '\(reference)'")
            }
        }
        if let type = keywords["type"] {
            let names: [String]
            switch type {
            case .string(let name): names = [name]
            case .array(let list): names = list.compactMap { if case .string(let name) = $0 { name } else { nil } }
            case .null, .bool, .integer, .number, .object: names = []
            }
            if !names.contains(where: { Self.matches(instance, type: $0) }) {
                fail("expected \(names.joined(separator: " or ")), got \(Self.describe(instance))")
            }
        }
        if case .array(let allowed) = keywords["enum"], !allowed.contains(instance) {
            fail("\(Self.describe(instance)) is not one of the allowed values")
        }
        if let minimum = keywords["minimum"], let bound = minimum.number, let value = instance.number, value < bound {
            fail("\(Self.describe(instance)) is below the minimum \(Self.describe(minimum))")
        }
        if case .array(let alternatives) = keywords["anyOf"] {
            let fits = alternatives.contains { alternative in
                var scratch: [String] = []
                check(instance, alternative, file: file, at: path, into: &scratch)
                return scratch.isEmpty
            }
            if !fits { fail("\(Self.describe(instance)) matches none of anyOf") }
        }
        if case .object(let members) = instance {
            if case .array(let required) = keywords["required"] {
                for case .string(let name) in required where members[name] == nil { fail("missing '\(name)'") }
            }
            let properties: [String: JSONValue]
            if case .object(let declared) = keywords["properties"] { properties = declared } else { properties = [:] }
            for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    check(value, property, file: file, at: "\(path)/\(name)", into: &errors)
                } else if let additional = keywords["additionalProperties"] {
                    if additional == .bool(false) {
                        fail("unexpected '\(name)'")
                    } else {
                        check(value, additional, file: file, at: "\(path)/\(name)", into: &errors)
                    }
                }
            }
        }
        if case .array(let elements) = instance, let items = keywords["items"] {
            for (index, element) in elements.enumerated() {
                check(element, items, file: file, at: "\(path)/\(index)", into: &errors)
            }
        }
    }

    /// `#/$defs/row` in `file`, or `other.schema.json#/$defs/row`.
    private func resolve(_ reference: String, from file: String) -> (JSONValue, String)? {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let targetFile = parts[0].isEmpty ? file : String(parts[0])
        guard var node = documents[targetFile] else { return nil }
        let pointer = parts.count > 1 ? parts[1] : ""
        for token in pointer.split(separator: "/") {
            guard case .object(let members) = node, let next = members[String(token)] else { return nil }
            node = next
        }
        return (node, targetFile)
    }

    private static func matches(_ instance: JSONValue, type: String) -> Bool {
        switch instance {
        case .null: return type == "null"
        case .bool: return type == "boolean"
        case .integer: return type == "integer" || type == "number"
        case .number: return type == "number"
        case .string: return type == "string"
        case .array: return type == "array"
        case .object: return type == "object"
        }
    }

    private static func describe(_ instance: JSONValue) -> String {
        switch instance {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .integer(let value): return String(value)
        case .number(let value): return String(value)
        case .string(let value): return "\"\(value)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
