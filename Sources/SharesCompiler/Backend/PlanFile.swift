import Foundation

/// An executable plan on disk, for `sharesc run` without the spec. It is a safetensors file: the
/// tensors are the network's distinct parameters (a tied weight once), and `__metadata__` holds
/// `sharesc.plan.version` and `sharesc.plan`, the JSON of a `PlanDocument`. Any safetensors reader
/// can open it; sharesc refuses one written by another format version. See docs/plan-format.md.
public struct PlanDocument: Codable, Sendable {
    /// Version 6 names a `scaleShift` step's batchnorm `batchNorm` and an `activation` step's function
    /// `activation`, which version 5 wrote as `_0`. Version 5 named each epilogue's activation (`activation`:
    /// none, relu, relu6, silu, hardswish, gelu, sigmoid, where version 4 had `relu: true|false`) and
    /// added the layer scale, layer norm, squeeze-and-excitation and activation steps. sharesc reads
    /// only what it writes, since the executor acts on every field.
    public static let formatVersion = 6
    public static let readableVersions = 6...6

    public var formatVersion: Int
    public var program: Program
    public var schedule: Schedule
    public var memory: MemoryPlan
    public var inputShape: Shape
    public var outputShape: Shape

    public init(_ plan: Plan) {
        formatVersion = Self.formatVersion
        program = plan.program
        schedule = plan.schedule
        memory = plan.memory
        inputShape = plan.program.values[plan.program.input].shape
        outputShape = plan.program.values[plan.program.output].shape
    }

    public var plan: Plan { Plan(program: program, schedule: schedule, memory: memory) }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", program, schedule, memory, inputShape = "input_shape", outputShape =
            "output_shape"
    }
}

public enum PlanFile {
    static let formatKey = "sharesc.format", versionKey = "sharesc.plan.version", documentKey = "sharesc.plan"

    public static func write(_ document: PlanDocument, weights: some WeightProvider, to path: String)
        throws(CompileFailure)
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self)
        try Safetensors.write(
            document.program.parameters.map { ($0.name, $0.shape) },
            metadata: [(formatKey, "plan"), (versionKey, String(document.formatVersion)), (documentKey, json)],
            values: weights.values(of:), to: path)
    }

    /// The plan and a reader that streams its weights.
    public static func read(_ path: String) throws(CompileFailure) -> (PlanDocument, WeightFileReader) {
        let reader = try WeightFileReader(path: path)
        let metadata = reader.header.metadata
        guard metadata[formatKey] == "plan", let json = metadata[documentKey] else {
            throw Safetensors.failure(path, .planNotAPlan)
        }
        // (A plan whose version key is gone was "not a plan", beside the two keys that say it is.)
        guard let versionText = metadata[versionKey] else {
            throw Safetensors.failure(path, .planDamaged("its metadata has no '\(versionKey)'"))
        }
        guard let version = Int(versionText), PlanDocument.readableVersions.contains(version) else {
            throw Safetensors.failure(path, .planVersion(found: versionText, supported: PlanDocument.readableVersions))
        }
        let document: PlanDocument
        do { document = try JSONDecoder().decode(PlanDocument.self, from: Data(json.utf8)) } catch {
            throw Safetensors.failure(path, .planDamaged(describe(error, json: Data(json.utf8))))
        }
        // The decoder keeps one of a key's two values silently; which one the writer meant is unknown.
        if let duplicate = Safetensors.duplicateKey(in: Array(json.utf8)) {
            throw Safetensors.failure(path, .planDamaged(duplicate))
        }
        if let unknown = unknownKey(in: Data(json.utf8), decoded: document) {
            throw Safetensors.failure(path, .planDamaged(unknown))
        }
        guard let problem = validate(document) else {
            try reader.expect(document.program.parameters.map { ($0.name, $0.shape) })
            return (document, reader)
        }
        throw Safetensors.failure(path, .planDamaged(problem))
    }

    /// A decoding error as the field it is about and what was wrong there, without the decoder's type
    /// names (`program.steps[1].kernel.conv.epilogue.activation: cannot initialize Activation from
    /// invalid String value tanh`).
    static func describe(_ error: any Error, json: Data? = nil) -> String {
        guard let error = error as? DecodingError else { return String(String(describing: error).prefix(200)) }
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, let json,
            let field = nonInteger(in: json)
        {
            return field
        }
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "the plan" : String(path.drop { $0 == "." })
        }
        func detail(_ context: DecodingError.Context) -> String {
            let text = context.debugDescription
            return (text.first.map { $0.lowercased() + text.dropFirst() } ?? text).trimmingCharacters(in: ["."])
        }
        switch error {
        case .typeMismatch(let type, let context):
            // Foundation's "Expected to decode Int but found a string instead." ("number", "bool" bare).
            let text = context.debugDescription
            let found = text.range(of: "but found ").map { text[$0.upperBound...] }.map {
                $0.hasSuffix(" instead.") ? String($0.dropLast(" instead.".count)) : String($0)
            }.map { ["number": "a number", "bool": "a boolean"][$0] ?? $0 }
            return "\(at(context)): expected \(kind(of: type)), found \(found ?? "another type")"
        case .valueNotFound(let type, let context): return "\(at(context)): expected \(kind(of: type)), found null"
        case .keyNotFound(let key, let context): return "\(at(context)): key '\(key.stringValue)' is missing"
        case .dataCorrupted(let context):
            if let (type, value) = invalidRawValue(context.debugDescription), let cases = namedValues[type] {
                return "\(at(context)): expected one of \(cases.joined(separator: ", ")), found '\(value)'"
                    + Suggestion.clause(for: value, among: cases)
            }
            return "\(at(context)): \(detail(context))"
        @unknown default: return String(String(describing: error).prefix(200))
        }
    }

    /// The values of each enumeration a plan holds by name, by the type name the decoder's message gives.
    static let namedValues: [String: [String]] = [
        "Algorithm": Algorithm.allCases.map(\.rawValue), "Split": StepSchedule.Split.allCases.map(\.rawValue),
        "Activation": Program.Activation.allCases.map(\.rawValue), "Variant": Graph.Variant.allCases.map(\.rawValue)
    ]

    /// The type and value of Foundation's "Cannot initialize Split from invalid String value pixel".
    static func invalidRawValue(_ text: String) -> (type: String, value: String)? {
        guard text.hasPrefix("Cannot initialize "), let from = text.range(of: " from invalid ") else { return nil }
        let type = String(text[text.index(text.startIndex, offsetBy: "Cannot initialize ".count)..<from.lowerBound])
        guard let value = text.range(of: " value ", range: from.upperBound..<text.endIndex) else { return nil }
        return (type, String(text[value.upperBound...]))
    }

    /// A JSON kind as a plan's reader names it: `an integer` for Int.
    static func kind(of type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") ? "a list" : name.hasPrefix("Dictionary") ? "an object" : name
        }
    }

    /// The first key of the plan's JSON that its reader does not know, where the decoder would pass over
    /// it: a misspelt key (`Bias`) then surfaced as some other field's disagreement. Found by encoding
    /// the decoded document again, which writes every key the reader knows of and holds.
    static func unknownKey(in json: Data, decoded document: PlanDocument) -> String? {
        func walk(_ given: Any, _ known: Any?, _ path: String) -> String? {
            switch given {
            case let object as [String: Any]:
                let knownObject = known as? [String: Any] ?? [:]
                for key in object.keys.sorted() {
                    guard let inner = knownObject[key] else {
                        if object[key] is NSNull { continue }  // an optional field written as null
                        let at = path.isEmpty ? "the plan" : String(path.drop { $0 == "." })
                        return "\(at): unknown key '\(key)'"
                            + Suggestion.clause(for: key, among: knownObject.keys.sorted())
                    }
                    if let problem = walk(object[key]!, inner, path + "." + key) { return problem }
                }
                return nil
            case let array as [Any]:
                let knownArray = known as? [Any] ?? []
                for (index, element) in zip(array.indices, array) where index < knownArray.count {
                    if let problem = walk(element, knownArray[index], path + "[\(index)]") { return problem }
                }
                return nil
            default: return nil
            }
        }
        guard let given = try? JSONSerialization.jsonObject(with: json),
            let known = (try? JSONEncoder().encode(document)).flatMap({ try? JSONSerialization.jsonObject(with: $0) })
        else { return nil }
        return walk(given, known, "")
    }

    /// Where a plan holds a number that is not an integer in place of one (`2.5`, `1e30`, 10^30): the decoder
    /// reports that as "the given data was not valid JSON", with no field. Every number in a plan is
    /// an integer but the epsilons, so the first other number that is no Int is the field.
    static func nonInteger(in json: Data) -> String? {
        func walk(_ value: Any, _ path: String, _ key: String) -> String? {
            switch value {
            case let object as [String: Any]:
                return object.keys.sorted().lazy.compactMap { walk(object[$0]!, path + "." + $0, $0) }.first
            case let array as [Any]:
                return array.indices.lazy.compactMap { walk(array[$0], path + "[\($0)]", key) }.first
            case let number as NSNumber where key != "epsilon" && Int(exactly: number) == nil:
                return "\(path.drop { $0 == "." }): expected a 64-bit integer, found \(number)"
            default: return nil
            }
        }
        return (try? JSONSerialization.jsonObject(with: json)).flatMap { walk($0, "", "") }
    }

    /// Activation bytes of one batch no plan may exceed: far beyond any machine, and far enough below
    /// Int.max that the memory planner's sums cannot overflow.
    static let maximumActivationBytes = 1 << 50

    /// Verifies the document against its program before anything runs: the program's own invariants
    /// (indices, order, shapes), then every field that the program determines (the declared input and
    /// output shapes, MACs, parameter use counts, the memory plan), which must equal what the compiler
    /// derives from it. A disagreement names the field and both values. Nothing the executor could
    /// read out of bounds with is taken on trust.
    static func validate(_ document: PlanDocument) -> String? {
        guard PlanDocument.readableVersions.contains(document.formatVersion) else {
            return
                "format_version is \(document.formatVersion) inside the document, unlike its metadata; this sharesc reads "
                + Message.versions(PlanDocument.readableVersions)
        }
        let batch = document.memory.batch
        guard batch == 1 else { return "memory.batch is \(batch); a plan's arena holds one image (1)" }
        let program = document.program
        if let problem = unprintableName(in: program) { return problem }
        if let problem = ProgramVerifier.problems(in: program).first { return problem }
        let input = program.values[program.input], output = program.values[program.output]
        if document.inputShape != input.shape {
            return "input_shape is \(document.inputShape), but the program's input '\(input.name)' is \(input.shape)"
        }
        if document.outputShape != output.shape {
            return
                "output_shape is \(document.outputShape), but the program's output '\(output.name)' is \(output.shape)"
        }
        guard let bytes = activationBytes(program, batch: batch), bytes <= maximumActivationBytes else {
            return "its activations need more than \(maximumActivationBytes) bytes"
        }
        guard let macs = program.checkedTotalMACs() else { return "its multiply-accumulates overflow a 64-bit count" }
        if program.macs != macs { return "program.macs is \(program.macs), but its steps make \(macs)" }
        var uses = [Int](repeating: 0, count: program.parameters.count)
        for step in program.steps { for parameter in step.kernel.parameterIndices { uses[parameter] += 1 } }
        for (parameter, count) in zip(program.parameters, uses) where parameter.uses != count {
            return "program.parameters '\(parameter.name)' has uses \(parameter.uses), but \(count) steps read it"
        }
        if let problem = Scheduling.problem(in: document.schedule, for: program) { return "schedule: " + problem }
        let planned = MemoryPlanner.plan(program, batch: batch)
        return firstDifference(document.memory, planned).map {
            "memory\($0.path) is \($0.found), but the program's memory plan has \($0.expected)"
        }
    }

    /// The first name with a control character, which the spec refuses: profiles, reports and the
    /// diagnostics of a run print these names (an escape sequence in a network's name recolored the terminal).
    static func unprintableName(in program: Program) -> String? {
        func named(_ field: String, _ names: [String]) -> [(String, String)] {
            names.enumerated().map { ("program.\(field)[\($0.offset)].name", $0.element) }
        }
        let names =
            [("program.network", program.network)] + named("values", program.values.map(\.name))
            + named("steps", program.steps.map(\.name)) + named("parameters", program.parameters.map(\.name))
        return names.first { SpecValidator.hasUnprintableCharacter($0.1) }.map {
            "\($0.0) '\($0.1)' contains a control character, or an invisible or direction-changing one"
        }
    }

    /// All values' bytes for `batch` images, or nil on overflow.
    static func activationBytes(_ program: Program, batch: Int) -> Int? {
        var total = 0
        for value in program.values {
            guard let bytes = Shape.checkedProduct([value.elements, 4, batch]) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// The first field (as a JSON path: `.buffers[3].offset`) where two encodable values differ.
    static func firstDifference<T: Encodable>(_ found: T, _ expected: T) -> (
        path: String, found: String, expected: String
    )? {
        func json(_ value: T) -> Any? {
            (try? JSONEncoder().encode(value)).flatMap { try? JSONSerialization.jsonObject(with: $0) }
        }
        func walk(_ a: Any?, _ b: Any?, _ path: String) -> (String, String, String)? {
            switch (a, b) {
            case (let a as [String: Any], let b as [String: Any]):
                for key in Set(a.keys).union(b.keys).sorted() {
                    if let difference = walk(a[key], b[key], path + "." + key) { return difference }
                }
                return nil
            case (let a as [Any], let b as [Any]):
                if a.count != b.count { return (path + ".count", String(a.count), String(b.count)) }
                for index in a.indices {
                    if let difference = walk(a[index], b[index], path + "[\(index)]") { return difference }
                }
                return nil
            default:
                let (x, y) = (a.map { "\($0)" } ?? "nothing", b.map { "\($0)" } ?? "nothing")
                return x == y ? nil : (path, x, y)
            }
        }
        return walk(json(found), json(expected), "")
    }
}
