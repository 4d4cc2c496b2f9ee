import CKernels

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
        let generator = WeightGenerator(graph, options: options)
        return WeightStore(values: graph.parameters.map { generator.generate($0.id.index) })
    }
}

/// Something that hands out each distinct parameter's values once, so that a runner can pack one
/// tensor at a time without holding every raw weight in memory.
public protocol WeightProvider {
    func values(of parameter: Int) throws(CompileFailure) -> [Float]
    /// What the provider adapted on the way (a PyTorch checkpoint's prefix, converted types), for the
    /// command to print.
    var notes: [Diagnostic] { get }
    /// The file the values come from, for diagnostics about them (nil: generated, or in memory).
    var file: String? { get }
}

extension WeightProvider {
    public var notes: [Diagnostic] { [] }
    public var file: String? { nil }
}

extension WeightStore: WeightProvider {
    /// Every tensor of `provider`, one for each of a graph's `count` parameters.
    static func collect(_ provider: some WeightProvider, count: Int) throws(CompileFailure) -> WeightStore {
        var values: [[Float]] = []
        for index in 0..<count { values.append(try provider.values(of: index)) }
        return WeightStore(values: values)
    }

    public func values(of parameter: Int) -> [Float] { values[parameter] }
}

/// Generates one parameter's initial values on demand; `WeightInitializer` uses it for all of them.
public struct WeightGenerator: WeightProvider, Sendable {
    private let parameters: [Parameter]
    private let options: InitOptions
    /// A bias is bounded by its layer's fan-in, which only its weight's shape tells.
    private let biasFanIn: [ParameterID: Int]
    /// A layer scale starts at its layer's `init`.
    private let layerScaleInitial: [ParameterID: Double]
    /// Each parameter's first layer, where an error about it points.
    private let firstUse: [ParameterID: Location]

    public init(_ graph: Graph, options: InitOptions) {
        parameters = graph.parameters
        self.options = options
        var fanIn: [ParameterID: Int] = [:], initial: [ParameterID: Double] = [:],
            firstUse: [ParameterID: Location] = [:]
        for node in graph.nodes {
            for parameter in node.op.parameters where firstUse[parameter] == nil { firstUse[parameter] = node.location }
            switch node.op {
            case .conv(let conv): conv.bias.map { fanIn[$0] = graph[conv.weight].elementCount / conv.outChannels }
            case .linear(let linear): linear.bias.map { fanIn[$0] = graph[linear.weight].shape[1] }
            case .squeezeExcite(let se):
                fanIn[se.reduceBias] = graph[se.reduceWeight].shape[1]
                fanIn[se.expandBias] = se.squeezeChannels
            case .layerScale(let scale): initial[scale.weight] = scale.initial
            case .input, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad,
                .activation, .layerNorm, .stochasticDepth:
                break
            }
        }
        biasFanIn = fanIn
        layerScaleInitial = initial
        self.firstUse = firstUse
    }

    /// Checked as each tensor is made, while the ones made before it may hold the memory it needs.
    public func values(of parameter: Int) throws(CompileFailure) -> [Float] {
        try checkAllocatable(parameter)
        return generate(parameter)
    }

    /// Generated weights are as large as the spec says, which may be more than the machine has (a
    /// 1048576 -> 1048576 convolution is 2^40 floats): the error points at the first layer that uses
    /// the tensor, where the allocation would trap.
    func checkAllocatable(_ index: Int) throws(CompileFailure) {
        let parameter = parameters[index]
        let bytes = parameter.elementCount * MemoryLayout<Float>.size
        guard sc_can_allocate(bytes) == 0 else { return }
        throw CompileFailure(
            Diagnostic(
                at: firstUse[parameter.id] ?? Location(file: "<spec>", line: 1, column: 1),
                .outOfMemory(bytes: bytes, purpose: "'\(parameter.name)'")))
    }

    func generate(_ index: Int) -> [Float] {
        let parameter = parameters[index]
        var random = SeededRandom(seed: options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(index))
        let count = parameter.elementCount
        let shape = parameter.shape
        func fill(_ draw: (inout SeededRandom) -> Double) -> [Float] {
            (0..<count).map { _ in Float(draw(&random)) }
        }
        func constant(_ value: Float) -> [Float] { Array(repeating: value, count: count) }
        let randomBN = options.randomizeBatchNorm
        switch parameter.role {
        case .convWeight:
            let std = (2.0 / Double(shape[0] * shape[2] * shape[3])).squareRoot()
            return fill { std * $0.normal() }
        case .linearWeight:
            let bound = 1 / Double(shape[1]).squareRoot()
            return fill { $0.uniform(-bound, bound) }
        case .convBias, .linearBias:
            let bound = 1 / Double(biasFanIn[parameter.id] ?? 1).squareRoot()
            return fill { $0.uniform(-bound, bound) }
        case .bnScale: return randomBN ? fill { $0.uniform(0.5, 1.5) } : constant(1)
        case .bnShift: return randomBN ? fill { $0.uniform(-0.5, 0.5) } : constant(0)
        case .bnMean: return randomBN ? fill { 0.5 * $0.normal() } : constant(0)
        case .bnVariance: return randomBN ? fill { $0.uniform(0.5, 2.0) } : constant(1)
        case .lnScale: return randomBN ? fill { $0.uniform(0.5, 1.5) } : constant(1)
        case .lnShift: return randomBN ? fill { $0.uniform(-0.5, 0.5) } : constant(0)
        // Randomized with the normalisation statistics: at its usual init (1e-6) a layer scale would hide
        // its branch from any numerical check.
        case .layerScale:
            return randomBN ? fill { $0.uniform(0.5, 1.5) } : constant(Float(layerScaleInitial[parameter.id] ?? 1e-6))
        }
    }
}
