import Foundation

/// An executable plan on disk, for `sharesc run` without the spec. It is a safetensors file: the
/// tensors are the network's distinct parameters (a tied weight once), and `__metadata__` holds
/// `sharesc.plan.version` and `sharesc.plan`, the JSON of a `PlanDocument`. Any safetensors reader
/// can open it; sharesc refuses one written by another format version. See docs/plan-format.md.
public struct PlanDocument: Codable, Sendable {
    /// Version 2 added convolutions with a second (pre-activation) output; version 1 plans are version
    /// 2 plans without them, so both are read.
    public static let formatVersion = 2
    public static let readableVersions = 1...2

    public var formatVersion: Int
    public var program: Program
    /// The memory plan for `memory.batch`; other batch sizes are planned again when run.
    public var memory: MemoryPlan
    public var inputShape: Shape
    public var outputShape: Shape

    public init(formatVersion: Int = PlanDocument.formatVersion, program: Program, memory: MemoryPlan, inputShape: Shape, outputShape: Shape) {
        self.formatVersion = formatVersion
        self.program = program
        self.memory = memory
        self.inputShape = inputShape
        self.outputShape = outputShape
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", program, memory, inputShape = "input_shape", outputShape = "output_shape"
    }
}

public enum PlanFile {
    static let versionKey = "sharesc.plan.version", documentKey = "sharesc.plan"

    public static func write(_ document: PlanDocument, weights: some WeightProvider, to path: String) throws(CompileFailure) {
        var tensors: [Safetensors.Tensor] = []
        for (index, parameter) in document.program.parameters.enumerated() {
            tensors.append(Safetensors.Tensor(name: parameter.name, shape: parameter.shape, values: try weights.values(of: index)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self)
        let bytes = Safetensors.encode(tensors, metadata: [("sharesc.format", "plan"), (versionKey, String(document.formatVersion)),
                                                          (documentKey, json)])
        do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch {
            throw Safetensors.failure(path, .cannotWrite(path: path, reason: Paths.reason(error)))
        }
    }

    /// The plan and a reader that streams its weights.
    public static func read(_ path: String) throws(CompileFailure) -> (PlanDocument, WeightFileReader) {
        let reader = try WeightFileReader(path: path)
        let metadata = reader.header.metadata
        guard let versionText = metadata[versionKey], let json = metadata[documentKey] else {
            throw Safetensors.failure(path, .planNotAPlan)
        }
        guard let version = Int(versionText), PlanDocument.readableVersions.contains(version) else {
            throw Safetensors.failure(path, .planVersion(found: versionText, supported: PlanDocument.readableVersions))
        }
        let document: PlanDocument
        do { document = try JSONDecoder().decode(PlanDocument.self, from: Data(json.utf8)) } catch {
            throw Safetensors.failure(path, .planDamaged(String(describing: error).prefix(200).description))
        }
        guard let problem = validate(document) else {
            try reader.expect(document.program.parameters.map { ($0.name, $0.shape) })
            return (document, reader)
        }
        throw Safetensors.failure(path, .planDamaged(problem))
    }

    /// Index and shape checks, so that a damaged but well-formed document cannot make the executor
    /// read or write out of bounds.
    static func validate(_ document: PlanDocument) -> String? {
        guard PlanDocument.readableVersions.contains(document.formatVersion) else { return "format version \(document.formatVersion) inside the document" }
        guard document.memory.batch >= 1 else { return "batch \(document.memory.batch)" }
        return ProgramVerifier.problems(in: document.program).first
    }
}
