import CKernels
import Foundation

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
            try Self.checkAllocatable(graph)
            return (WeightInitializer.initialize(graph, options: options), [])
        }
    }

    /// Hands out the graph's weights one tensor at a time: streamed from the file (checked against the
    /// graph first) or generated on demand, so that no caller holds every raw weight at once.
    public func provider(for graph: Graph) throws(CompileFailure) -> any WeightProvider {
        switch self {
        case .file(let path):
            return try WeightFileReader(path: path, expecting: graph.parameters.map { ($0.name, $0.shape) })
        case .initialized(let options):
            try Self.checkAllocatable(graph)
            return WeightGenerator(graph, options: options)
        }
    }

    /// Generated weights are as large as the spec says, which may be more than the machine has (a
    /// 1048576 -> 1048576 convolution is 2^40 floats): each must be allocatable once, or the error
    /// points at the first layer that uses it, instead of the allocation trapping. (A file's tensors
    /// are bounded by the file's own size.)
    static func checkAllocatable(_ graph: Graph) throws(CompileFailure) {
        for parameter in graph.parameters {
            let bytes = parameter.elementCount * MemoryLayout<Float>.size
            guard sc_can_allocate(bytes) != 0 else {
                let user = graph.nodes.first { $0.op.parameters.contains(parameter.id) }
                throw CompileFailure(
                    Diagnostic(
                        at: user?.location ?? Location(file: "<spec>", line: 1, column: 1),
                        .outOfMemory(bytes: bytes, purpose: "'\(parameter.name)'")))
            }
        }
    }

    /// The seed to record in a written weights file, if the weights were generated.
    public var seed: UInt64? {
        if case .initialized(let options) = self { return options.seed }
        return nil
    }
}
