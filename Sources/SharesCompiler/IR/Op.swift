/// Every operation the IR knows. Switches over `Op` are exhaustive (no `default:`), so adding a case
/// makes the compiler list every pass, printer and report that must learn about it.
public enum Op: Hashable, Sendable {
    case input
    case conv(Convolution)
    case batchNorm(BatchNorm)
    case relu
    case maxPool(Pooling)
    case avgPool(Pooling)
    case globalAvgPool
    case flatten
    case linear(Linear)
    /// Identity at inference; kept so that exports and pictures show it.
    case dropout(rate: Double)
    /// Residual merge: elementwise sum of two inputs of one shape.
    case add
    /// The parameter-free shortcut of the original CIFAR ResNets: keep every `stride`-th pixel,
    /// then zero-pad the channels (`padBefore` in front, the rest behind) up to `outChannels`.
    case subsamplePad(SubsamplePad)

    public struct Convolution: Hashable, Sendable {
        public var outChannels: Int
        public var kernel: Int
        public var stride: Int
        public var padding: Int
        public var groups: Int
        public var weight: ParameterID
        public var bias: ParameterID?
    }

    public struct BatchNorm: Hashable, Sendable {
        public var epsilon: Double
        public var scale: ParameterID
        public var shift: ParameterID
        public var mean: ParameterID
        public var variance: ParameterID
    }

    public struct Pooling: Hashable, Sendable {
        public var kernel: Int
        public var stride: Int
        public var padding: Int
    }

    public struct Linear: Hashable, Sendable {
        public var outFeatures: Int
        public var weight: ParameterID
        public var bias: ParameterID?
    }

    public struct SubsamplePad: Hashable, Sendable {
        public var outChannels: Int
        public var stride: Int
    }

    /// The parameters this op reads, in a fixed order.
    public var parameters: [ParameterID] {
        switch self {
        case .conv(let conv): return [conv.weight] + (conv.bias.map { [$0] } ?? [])
        case .batchNorm(let bn): return [bn.scale, bn.shift, bn.mean, bn.variance]
        case .linear(let linear): return [linear.weight] + (linear.bias.map { [$0] } ?? [])
        case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad: return []
        }
    }

    /// Conv and linear layers: the "weighted layers" that layer counts and MACs are about.
    public var isWeighted: Bool {
        switch self {
        case .conv, .linear: return true
        case .input, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad:
            return false
        }
    }

    public var mnemonic: String {
        switch self {
        case .input: return "input"
        case .conv: return "conv"
        case .batchNorm: return "batchnorm"
        case .relu: return "relu"
        case .maxPool: return "maxpool"
        case .avgPool: return "avgpool"
        case .globalAvgPool: return "global_avgpool"
        case .flatten: return "flatten"
        case .linear: return "linear"
        case .dropout: return "dropout"
        case .add: return "add"
        case .subsamplePad: return "subsample_pad"
        }
    }
}
