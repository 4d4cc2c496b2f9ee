/// The values of a graph's distinct parameters, one float32 buffer per `ParameterID`:
/// a tied weight is one buffer, whatever the number of its uses.
public struct WeightStore: Sendable, Equatable {
    public var values: [[Float]]

    public init(values: [[Float]]) { self.values = values }

    public subscript(id: ParameterID) -> [Float] {
        get { values[id.index] }
        set { values[id.index] = newValue }
    }
}

/// How `sharesc init` fills a graph's parameters.
public struct InitOptions: Sendable {
    public var seed: UInt64
    /// Non-trivial batchnorm scale, shift and running statistics, so that numerical checks exercise them.
    public var randomizeBatchNorm: Bool

    public init(seed: UInt64 = 0, randomizeBatchNorm: Bool = false) {
        self.seed = seed
        self.randomizeBatchNorm = randomizeBatchNorm
    }
}

/// Deterministic initial weights, as the reference ResNet code and torchvision initialise them:
/// conv weights He-normal with fan-out (std = sqrt(2 / (out x k x k))), batchnorm gamma 1 / beta 0,
/// running mean 0 / variance 1, linear weight and bias uniform in +-1/sqrt(in_features) (PyTorch's
/// default), conv biases likewise with the conv's fan-in. Parameters are drawn in graph order, each
/// from its own stream derived from the seed, so one tensor's values do not depend on the others.
public enum WeightInitializer {
    public static func initialize(_ graph: Graph, options: InitOptions = .init()) -> WeightStore {
        var values = [[Float]](repeating: [], count: graph.parameters.count)
        // A bias is bounded by its layer's fan-in, which only its weight's shape tells.
        var biasFanIn: [ParameterID: Int] = [:]
        for node in graph.nodes {
            switch node.op {
            case .conv(let conv): conv.bias.map { biasFanIn[$0] = graph[conv.weight].elementCount / conv.outChannels }
            case .linear(let linear): linear.bias.map { biasFanIn[$0] = graph[linear.weight].shape[1] }
            case .input, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad: break
            }
        }
        for parameter in graph.parameters {
            var random = SeededRandom(seed: options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(parameter.id.index))
            let count = parameter.elementCount
            let shape = parameter.shape
            func fill(_ draw: (inout SeededRandom) -> Double) -> [Float] {
                (0..<count).map { _ in Float(draw(&random)) }
            }
            switch parameter.role {
            case .convWeight:
                let std = (2.0 / Double(shape[0] * shape[2] * shape[3])).squareRoot()
                values[parameter.id.index] = fill { std * $0.normal() }
            case .linearWeight:
                let bound = 1 / Double(shape[1]).squareRoot()
                values[parameter.id.index] = fill { $0.uniform(-bound, bound) }
            case .convBias, .linearBias:
                let bound = 1 / Double(biasFanIn[parameter.id] ?? 1).squareRoot()
                values[parameter.id.index] = fill { $0.uniform(-bound, bound) }
            case .bnScale:
                values[parameter.id.index] = options.randomizeBatchNorm ? fill { $0.uniform(0.5, 1.5) } : Array(repeating: 1, count: count)
            case .bnShift:
                values[parameter.id.index] = options.randomizeBatchNorm ? fill { $0.uniform(-0.5, 0.5) } : Array(repeating: 0, count: count)
            case .bnMean:
                values[parameter.id.index] = options.randomizeBatchNorm ? fill { 0.5 * $0.normal() } : Array(repeating: 0, count: count)
            case .bnVariance:
                values[parameter.id.index] = options.randomizeBatchNorm ? fill { $0.uniform(0.5, 2.0) } : Array(repeating: 1, count: count)
            }
        }
        return WeightStore(values: values)
    }
}
