/// Where a command's weights come from: a safetensors file checked against the graph, or fresh
/// deterministic initial values.
public enum WeightSource: Sendable {
    case file(String)
    case initialized(InitOptions)

    /// The weights, and notes on what was adapted from a PyTorch checkpoint.
    public func load(for graph: Graph) throws(CompileFailure) -> (weights: WeightStore, notes: [Diagnostic]) {
        switch self {
        case .file(let path): return try WeightFile.read(path, for: graph)
        case .initialized(let options):
            return (try WeightStore.collect(Self.generator(graph, options), count: graph.parameters.count), [])
        }
    }

    /// Hands out the graph's weights one tensor at a time: streamed from the file (checked against the
    /// graph first) or generated on demand, so that no caller holds every raw weight at once.
    public func provider(for graph: Graph) throws(CompileFailure) -> any WeightProvider {
        switch self {
        case .file(let path):
            return try WeightFileReader(path: path, for: graph)
        case .initialized(let options): return try Self.generator(graph, options)
        }
    }

    /// A generator whose every tensor could be allocated alone: a tensor too large for the machine is
    /// refused before anything runs or is written.
    private static func generator(_ graph: Graph, _ options: InitOptions) throws(CompileFailure) -> WeightGenerator {
        let generator = WeightGenerator(graph, options: options)
        for index in graph.parameters.indices { try generator.checkAllocatable(index) }
        return generator
    }

    /// The seed to record in a written weights file, if the weights were generated.
    public var seed: UInt64? {
        if case .initialized(let options) = self { return options.seed }
        return nil
    }
}
