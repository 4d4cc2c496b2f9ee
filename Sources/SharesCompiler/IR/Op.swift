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
    /// An elementwise activation other than ReLU (which fusion and the older passes know by name).
    case activation(Activation)
    /// Squeeze-and-excitation: the input times a per-channel gate computed from it by global average
    /// pooling, a 1x1 convolution with bias, an activation, a 1x1 convolution with bias and a sigmoid.
    case squeezeExcite(SqueezeExcite)
    /// Normalisation over the channels of each pixel (of the features of a vector), with a learnt
    /// per-channel scale and shift: ConvNeXt's channels-last LayerNorm.
    case layerNorm(LayerNorm)
    /// A learnt per-channel multiplier (ConvNeXt's layer scale).
    case layerScale(LayerScale)
    /// Drops the whole residual branch of a sample with probability `rate` in training; identity at
    /// inference. Kept so that exports and pictures show it.
    case stochasticDepth(rate: Double)

    public enum Activation: String, Hashable, Sendable, CaseIterable {
        case relu6, silu, hardswish, gelu, sigmoid
    }

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

    public struct SqueezeExcite: Hashable, Sendable {
        /// The activation between the two convolutions.
        public enum Activation: String, Hashable, Sendable { case relu, silu }
        /// Channels of the squeezed vector (the first convolution's outputs).
        public var squeezeChannels: Int
        public var activation: Activation
        /// [squeeze, C, 1, 1] and [squeeze]: C channels to the squeezed vector.
        public var reduceWeight: ParameterID
        public var reduceBias: ParameterID
        /// [C, squeeze, 1, 1] and [C]: back to one gate per channel.
        public var expandWeight: ParameterID
        public var expandBias: ParameterID
    }

    public struct LayerNorm: Hashable, Sendable {
        public var epsilon: Double
        public var scale: ParameterID
        public var shift: ParameterID
    }

    public struct LayerScale: Hashable, Sendable {
        /// The multiplier's initial value in training.
        public var initial: Double
        public var weight: ParameterID
    }

    /// The parameters this op reads, in a fixed order.
    public var parameters: [ParameterID] {
        switch self {
        case .conv(let conv): return [conv.weight] + (conv.bias.map { [$0] } ?? [])
        case .batchNorm(let bn): return [bn.scale, bn.shift, bn.mean, bn.variance]
        case .linear(let linear): return [linear.weight] + (linear.bias.map { [$0] } ?? [])
        case .squeezeExcite(let se): return [se.reduceWeight, se.reduceBias, se.expandWeight, se.expandBias]
        case .layerNorm(let norm): return [norm.scale, norm.shift]
        case .layerScale(let scale): return [scale.weight]
        case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad, .activation,
            .stochasticDepth:
            return []
        }
    }

    /// The weight tensors of the op's weighted layers: the conv and linear layers that layer counts
    /// and MACs are about (a squeeze-excitation holds two 1x1 convolutions).
    public var layerWeights: [ParameterID] {
        switch self {
        case .conv(let conv): return [conv.weight]
        case .linear(let linear): return [linear.weight]
        case .squeezeExcite(let se): return [se.reduceWeight, se.expandWeight]
        case .input, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad,
            .activation, .layerNorm, .layerScale, .stochasticDepth:
            return []
        }
    }

    /// Whether the op holds weighted layers (counted as layers, with MACs).
    public var isWeighted: Bool { !layerWeights.isEmpty }

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
        case .activation(let activation): return activation.rawValue
        case .squeezeExcite: return "squeeze_excite"
        case .layerNorm: return "layernorm"
        case .layerScale: return "layer_scale"
        case .stochasticDepth: return "stochastic_depth"
        }
    }
}
