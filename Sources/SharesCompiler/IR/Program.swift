/// The executable form of a graph: a list of kernel steps in execution order over activation values,
/// after fusion. Batchnorm, layer scale, the residual add and an activation travel inside a
/// convolution's `Epilogue`, applied per use as the output is stored, so a tied weight stays one buffer
/// (folding a batchnorm into a shared weight would need one weight copy per block).
public struct Program: Codable, Hashable, Sendable {
    /// An activation: one step's output (or the network input), `elements` floats per image.
    public struct Value: Codable, Hashable, Sendable {
        public var name: String
        public var shape: Shape
        public var elements: Int { shape.elementCount }
    }

    /// Batchnorm at inference, as parameter references: y = (x - mean) / sqrt(var + eps) * scale + shift.
    public struct BatchNormRef: Codable, Hashable, Sendable {
        public var scale: Int
        public var shift: Int
        public var mean: Int
        public var variance: Int
        public var epsilon: Double
    }

    /// An elementwise activation as a kernel applies it: in an epilogue (`none` there: no activation),
    /// or as a step of its own. Definitions as PyTorch's (GELU with the exact error function).
    public enum Activation: String, Codable, Hashable, Sendable, CaseIterable {
        case none, relu, relu6, silu, hardswish, gelu, sigmoid

        /// The graph's activation op as a kernel applies it.
        public init(_ activation: Op.Activation) {
            switch activation {
            case .relu6: self = .relu6
            case .silu: self = .silu
            case .hardswish: self = .hardswish
            case .gelu: self = .gelu
            case .sigmoid: self = .sigmoid
            }
        }

        public init(_ activation: Op.SqueezeExcite.Activation) {
            switch activation {
            case .relu: self = .relu
            case .silu: self = .silu
            }
        }
    }

    /// What happens to each output value as it is stored, in this order: batchnorm (or the bias
    /// alone), layer scale, the residual, the activation.
    public struct Epilogue: Codable, Hashable, Sendable {
        public var batchNorm: BatchNormRef?
        /// A per-channel multiplier (ConvNeXt's layer scale, [C]) on the normalized value: the
        /// executor folds it into the epilogue's scale and shift.
        public var layerScale: Int? = nil
        /// Index into the step's inputs of a value added elementwise (the residual).
        public var residual: Int?
        public var activation: Activation
        /// The next pre-activation block's batchnorm (and ReLU) on the stored value, written to the
        /// step's `preActivationOutput`: its block input is both kept (for the residual) and normalized.
        public var preActivation: PreActivation? = nil

        public static let none = Epilogue(batchNorm: nil, residual: nil, activation: .none)
    }

    public struct PreActivation: Codable, Hashable, Sendable {
        public var batchNorm: BatchNormRef
        public var relu: Bool
    }

    public enum Kernel: Codable, Hashable, Sendable {
        case conv(weight: Int, bias: Int?, kernel: Int, stride: Int, padding: Int, groups: Int, epilogue: Epilogue)
        /// A batchnorm that no convolution could take, with an activation.
        case scaleShift(BatchNormRef, activation: Activation)
        case add(activation: Activation)
        case relu
        /// An activation other than ReLU that nothing before it could take.
        case activation(Activation)
        /// A layer scale whose input no convolution writes alone: y[p][c] = x[p][c] * weight[c].
        case layerScale(weight: Int)
        /// Layer normalization over each pixel's channels (of a vector's features), biased variance.
        case layerNorm(scale: Int, shift: Int, epsilon: Double)
        /// Squeeze-and-excitation in one step: pool, two small matrix-vector products with biases, the
        /// activation between them (relu or silu), a sigmoid, and the multiply, in place.
        case squeezeExcite(
            reduceWeight: Int, reduceBias: Int, expandWeight: Int, expandBias: Int, activation: Activation)
        case maxPool(kernel: Int, stride: Int, padding: Int)
        case avgPool(kernel: Int, stride: Int, padding: Int)
        case globalAvgPool
        case linear(weight: Int, bias: Int?, activation: Activation)
        case subsamplePad(stride: Int, padBefore: Int)
        /// An image's values (NHWC inside a plan) as a feature vector in ONNX's (c, h, w) order: where a
        /// flattened map of several pixels is read by anything but a linear layer (which reorders its
        /// weight's columns instead) or is the network's output.
        case flatten

        // The plan file's names for the unlabelled values (Swift's default, `_0`, reached the file).
        enum ScaleShiftCodingKeys: String, CodingKey { case _0 = "batchNorm", activation }
        enum ActivationCodingKeys: String, CodingKey { case _0 = "activation" }

        /// The kernel's name as printed: conv, scale_shift, add, ...
        public var kind: String {
            switch self {
            case .conv: return "conv"
            case .scaleShift: return "scale_shift"
            case .add: return "add"
            case .relu: return "relu"
            case .activation(let activation): return activation.rawValue
            case .layerScale: return "layer_scale"
            case .layerNorm: return "layer_norm"
            case .squeezeExcite: return "squeeze_excite"
            case .maxPool: return "max_pool"
            case .avgPool: return "avg_pool"
            case .globalAvgPool: return "global_avg_pool"
            case .linear: return "linear"
            case .subsamplePad: return "subsample_pad"
            case .flatten: return "flatten"
            }
        }

        /// Indices into the step's inputs that its output may be written over when they die at this
        /// step: every input of an elementwise kernel (layer normalization reads a pixel's channels
        /// before it writes them; squeeze-and-excitation pools the whole input before it writes), a
        /// convolution's residual (each residual value is read just before the output value at its
        /// place is stored), nothing else.
        public var overwritableInputs: [Int] {
            switch self {
            case .scaleShift, .relu, .activation, .layerScale, .layerNorm, .squeezeExcite: return [0]
            case .add: return [0, 1]
            case .conv(_, _, _, _, _, _, let epilogue): return epilogue.residual.map { [$0] } ?? []
            case .maxPool, .avgPool, .globalAvgPool, .linear, .subsamplePad, .flatten: return []
            }
        }
    }

    public struct Step: Codable, Hashable, Sendable {
        /// The graph layers this step computes, first to last (`stage1.block1.conv3+bn3+add+relu`).
        public var name: String
        public var kernel: Kernel
        public var inputs: [Int]
        public var output: Int
        /// The second output of a convolution whose epilogue has a `preActivation`.
        public var preActivationOutput: Int? = nil

        /// The values the step writes.
        public var outputs: [Int] { [output] + (preActivationOutput.map { [$0] } ?? []) }
    }

    /// A distinct parameter: stored once, however many steps read it.
    public struct ParameterInfo: Codable, Hashable, Sendable {
        public var name: String
        public var shape: [Int]
        public var role: String
        public var uses: Int
    }

    /// Multiply-accumulates of one step per image (convolutions, linear layers and squeeze-and-excitation;
    /// 0 for the rest),
    /// or nil where they overflow an Int (only a damaged plan can say so).
    public func checkedMACs(of step: Step) -> Int? {
        let input = values[step.inputs[0]].shape, output = values[step.output].shape
        switch step.kernel {
        case .conv(_, _, let kernel, _, _, let groups, _):
            return ShapeRules.convolutionMACs(
                output: output, inputChannels: input.channels, groups: groups, kernel: kernel)
        case .linear: return ShapeRules.linearMACs(outFeatures: output.elementCount, inFeatures: input.elementCount)
        case .squeezeExcite(let reduceWeight, _, _, _, _):
            return ShapeRules.squeezeExciteMACs(
                channels: input.channels,
                squeezeChannels: parameters.indices.contains(reduceWeight)
                    ? parameters[reduceWeight].shape.first ?? 0 : 0)
        case .scaleShift, .add, .relu, .activation, .layerScale, .layerNorm, .maxPool, .avgPool, .globalAvgPool,
            .subsamplePad, .flatten:
            return 0
        }
    }

    /// Multiply-accumulates of one step per image (saturating: a verified plan never overflows).
    public func macs(of step: Step) -> Int { checkedMACs(of: step) ?? .max }

    /// Multiply-accumulates of all steps per image, or nil on overflow (of a step's or of the sum).
    public func checkedTotalMACs() -> Int? {
        var total = 0
        for step in steps {
            guard let macs = checkedMACs(of: step) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(macs)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    public var network: String
    public var variant: Graph.Variant
    public var values: [Value]
    public var steps: [Step]
    public var parameters: [ParameterInfo]
    public var input: Int
    public var output: Int
    /// Multiply-accumulates per image, for GFLOP/s figures.
    public var macs: Int
}
