/// Output shapes of every op: used by lowering as it builds the graph and by the verifier to re-check it.
public enum ShapeRules {
    /// Bounds that keep every count within 64 bits: a tensor or weight of at most 2^40 elements.
    public static let maximumElements = 1 << 40

    /// Output size of a window of `kernel` moved by `stride` over `size + 2 * padding` (floor mode); nil
    /// where that overflows an Int (a plan file's padding may be anything).
    static func windowOutput(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int? {
        let doubled = padding.multipliedReportingOverflow(by: 2),
            padded = size.addingReportingOverflow(doubled.partialValue)
        let span = padded.partialValue.subtractingReportingOverflow(kernel)
        guard !doubled.overflow, !padded.overflow, !span.overflow else { return nil }
        return span.partialValue < 0 ? 0 : span.partialValue / stride + 1
    }

    public static func output(of op: Op, inputs: [Shape], name: String) -> Result<Shape, Message> {
        switch op {
        case .input:
            return inputs.isEmpty ? .failure(.tensorTooLarge("input")) : bounded(inputs[0], name: name)
        case .conv(let conv):
            return convolution(
                inputs[0], outChannels: conv.outChannels, kernel: conv.kernel, stride: conv.stride,
                padding: conv.padding, groups: conv.groups, name: name)
        case .maxPool(let pool), .avgPool(let pool):
            return pooling(inputs[0], kernel: pool.kernel, stride: pool.stride, padding: pool.padding, name: name)
        case .batchNorm, .relu, .dropout, .activation, .layerNorm, .layerScale, .stochasticDepth:
            return .success(inputs[0])
        case .squeezeExcite:
            return image(inputs[0], name: name)
        case .globalAvgPool:
            return globalPooling(inputs[0], name: name)
        case .flatten:
            return .success(Shape([inputs[0].elementCount]))
        case .linear(let linear):
            return .success(Shape([linear.outFeatures]))
        case .add:
            return sum(inputs[0], inputs[1])
        case .subsamplePad(let pad):
            return subsamplePad(inputs[0], outChannels: pad.outChannels, stride: pad.stride, name: name)
        }
    }

    // The geometry of each kind of layer, shared by the graph's ops and the plan's kernels.

    static func convolution(
        _ input: Shape, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int,
        name: String
    ) -> Result<Shape, Message> {
        image(input, name: name).flatMap { input in
            guard input.channels % groups == 0 else {
                return .failure(.channelsNotDivisible(channels: input.channels, groups: groups, what: "input channels"))
            }
            guard outChannels % groups == 0 else {
                return .failure(.channelsNotDivisible(channels: outChannels, groups: groups, what: "'out'"))
            }
            return windowed(input, channels: outChannels, kernel: kernel, stride: stride, padding: padding, name: name)
        }
    }

    static func pooling(_ input: Shape, kernel: Int, stride: Int, padding: Int, name: String) -> Result<Shape, Message>
    {
        image(input, name: name).flatMap {
            windowed($0, channels: $0.channels, kernel: kernel, stride: stride, padding: padding, name: name)
        }
    }

    static func globalPooling(_ input: Shape, name: String) -> Result<Shape, Message> {
        image(input, name: name).map { .image(channels: $0.channels, height: 1, width: 1) }
    }

    static func sum(_ body: Shape, _ shortcut: Shape) -> Result<Shape, Message> {
        body == shortcut
            ? .success(body) : .failure(.mergeShapeMismatch(body: body.description, shortcut: shortcut.description))
    }

    static func subsamplePad(_ input: Shape, outChannels: Int, stride: Int, name: String) -> Result<Shape, Message> {
        image(input, name: name).flatMap { input in
            guard outChannels >= input.channels else {
                return .failure(.subsampleShrinks(from: input.channels, to: outChannels))
            }
            // Every stride-th row and column from the first: (size - 1) / stride + 1, which no stride overflows.
            func kept(_ size: Int) -> Int { size < 1 ? 0 : (size - 1) / stride + 1 }
            return bounded(
                .image(channels: outChannels, height: kept(input.height), width: kept(input.width)), name: name)
        }
    }

    private static func image(_ shape: Shape, name: String) -> Result<Shape, Message> {
        shape.isImage ? .success(shape) : .failure(.shapeNotImage(layer: name, shape: shape.description))
    }

    private static func windowed(
        _ input: Shape, channels: Int, kernel: Int, stride: Int, padding: Int,
        name: String
    ) -> Result<Shape, Message> {
        guard let height = windowOutput(input.height, kernel: kernel, stride: stride, padding: padding),
            let width = windowOutput(input.width, kernel: kernel, stride: stride, padding: padding)
        else { return .failure(.tensorTooLarge("the output of \(name)")) }
        guard height > 0, width > 0 else { return .failure(.shapeVanishes(layer: name, input: input.description)) }
        return bounded(.image(channels: channels, height: height, width: width), name: name)
    }

    private static func bounded(_ shape: Shape, name: String) -> Result<Shape, Message> {
        guard let count = Shape.checkedProduct(shape.dims), count <= maximumElements else {
            return .failure(.tensorTooLarge("the output of \(name)"))
        }
        return .success(shape)
    }

    /// Multiply-accumulates per image of a convolution (each output value sums input channels / groups
    /// x kernel x kernel products) and of a linear layer: the one formula behind the report and the
    /// plan. nil where they overflow an Int.
    public static func convolutionMACs(output: Shape, inputChannels: Int, groups: Int, kernel: Int) -> Int? {
        Shape.checkedProduct([output.elementCount, inputChannels / groups, kernel, kernel])
    }

    public static func linearMACs(outFeatures: Int, inFeatures: Int) -> Int? {
        Shape.checkedProduct([outFeatures, inFeatures])
    }

    /// Squeeze-excitation's two 1x1 convolutions, on one pixel each: C x squeeze products each way.
    public static func squeezeExciteMACs(channels: Int, squeezeChannels: Int) -> Int? {
        Shape.checkedProduct([2, channels, squeezeChannels])
    }

    /// The shape each of the op's parameters must have, in `Op.parameters` order.
    public static func parameterShapes(of op: Op, input: Shape) -> [[Int]] {
        switch op {
        case .conv(let conv):
            let weight = [conv.outChannels, input.channels / conv.groups, conv.kernel, conv.kernel]
            return [weight] + (conv.bias == nil ? [] : [[conv.outChannels]])
        case .batchNorm:
            return Array(repeating: [input.channels], count: 4)
        case .linear(let linear):
            return [[linear.outFeatures, input.elementCount]] + (linear.bias == nil ? [] : [[linear.outFeatures]])
        case .squeezeExcite(let se):
            let channels = input.channels, squeeze = se.squeezeChannels
            return [[squeeze, channels, 1, 1], [squeeze], [channels, squeeze, 1, 1], [channels]]
        case .layerNorm:
            return Array(repeating: [input.channels], count: 2)
        case .layerScale:
            return [[input.channels]]
        case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad, .activation,
            .stochasticDepth:
            return []
        }
    }

    /// How many inputs the op takes.
    public static func arity(of op: Op) -> Int {
        switch op {
        case .input: return 0
        case .add: return 2
        case .conv, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .linear, .dropout, .subsamplePad,
            .activation, .squeezeExcite, .layerNorm, .layerScale, .stochasticDepth:
            return 1
        }
    }
}
