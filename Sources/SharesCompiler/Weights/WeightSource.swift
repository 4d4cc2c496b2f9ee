/// Where a command's weights come from: a safetensors file checked against the graph, or fresh
/// deterministic initial values.
public enum WeightSource: Sendable {
    case file(String)
    case initialized(InitOptions)

    public func load(for graph: Graph) throws(CompileFailure) -> WeightStore {
        switch self {
        case .file(let path): return try WeightFile.read(path, for: graph)
        case .initialized(let options): return WeightInitializer.initialize(graph, options: options)
        }
    }

    /// The seed to record in a written weights file, if the weights were generated.
    public var seed: UInt64? {
        if case .initialized(let options) = self { return options.seed }
        return nil
    }
}
