import Foundation

/// A graph's weights as a safetensors file: one tensor per distinct parameter, under the parameter's
/// name (a tied weight once, as `stage3.shared.conv2.weight`), with the layers that use each tied
/// tensor listed in `__metadata__`.
public enum WeightFile {
    public static func encode(_ graph: Graph, _ weights: WeightStore, seed: UInt64? = nil) -> [UInt8] {
        let tensors = graph.parameters.map { Safetensors.Tensor(name: $0.name, shape: $0.shape, values: weights[$0.id]) }
        return Safetensors.encode(tensors, metadata: metadata(graph, seed: seed))
    }

    /// `sharesc.*` keys describe the file; every other key is a tied tensor and the layers that use it.
    static func metadata(_ graph: Graph, seed: UInt64?) -> [(key: String, value: String)] {
        var users: [ParameterID: [String]] = [:]
        for node in graph.nodes { for parameter in node.op.parameters where graph[parameter].tie != nil { users[parameter, default: []].append(node.name) } }
        var entries: [(key: String, value: String)] = [("sharesc.format", "1"), ("sharesc.network", graph.network),
                                                       ("sharesc.variant", graph.variant.rawValue)]
        if let seed { entries.append(("sharesc.seed", String(seed))) }
        for parameter in graph.parameters where parameter.tie != nil {
            entries.append((parameter.name, (users[parameter.id] ?? []).joined(separator: ",")))
        }
        return entries
    }

    public static func write(_ graph: Graph, _ weights: WeightStore, to path: String, seed: UInt64? = nil) throws(CompileFailure) {
        do {
            try Data(encode(graph, weights, seed: seed)).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CompileFailure(Diagnostic(at: Location(file: path, line: 1, column: 1), .cannotWrite(path: path, reason: Paths.reason(error))))
        }
    }

    public static func read(_ path: String, for graph: Graph) throws(CompileFailure) -> WeightStore {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw CompileFailure(Diagnostic(at: Location(file: path, line: 1, column: 1), .cannotRead(path: path, reason: Paths.reason(error))))
        }
        return try bind(Safetensors.decode(bytes, path: path).tensors, to: graph, path: path)
    }

    /// Checks every tensor against the graph: each parameter present once with its shape, nothing extra.
    public static func bind(_ tensors: [Safetensors.Tensor], to graph: Graph, path: String) throws(CompileFailure) -> WeightStore {
        var sink = DiagnosticSink()
        let at = Location(file: path, line: 1, column: 1)
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var values = [[Float]](repeating: [], count: graph.parameters.count)
        for parameter in graph.parameters {
            guard let tensor = byName[parameter.name] else {
                sink.error(at: at, .weightMissing(name: parameter.name, shape: parameter.shape))
                continue
            }
            guard tensor.shape == parameter.shape else {
                sink.error(at: at, .weightShape(name: parameter.name, expected: parameter.shape, found: tensor.shape))
                continue
            }
            values[parameter.id.index] = tensor.values
        }
        let known = Set(graph.parameters.map(\.name))
        for tensor in tensors where !known.contains(tensor.name) {
            sink.error(at: at, .weightUnexpected(name: tensor.name))
        }
        try sink.check()
        return WeightStore(values: values)
    }
}
