/// Output shapes of every op: used by lowering as it builds the graph and by the verifier to re-check it.
public enum ShapeRules {
    /// Bounds that keep every count within 64 bits: a tensor or weight of at most 2^40 elements.
    public static let maximumElements = 1 << 40

    /// Output size of a window of `kernel` moved by `stride` over `size + 2 * padding` (floor mode).
    static func windowOutput(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        let span = size + 2 * padding - kernel
        return span < 0 ? 0 : span / stride + 1
    }

    public static func output(of op: Op, inputs: [Shape], name: String) -> Result<Shape, Message> {
        func image(_ shape: Shape) -> Result<Shape, Message> {
            shape.isImage ? .success(shape) : .failure(.shapeNotImage(layer: name, shape: shape.description))
        }
        func windowed(_ input: Shape, channels: Int, kernel: Int, stride: Int, padding: Int) -> Result<Shape, Message> {
            let height = windowOutput(input.height, kernel: kernel, stride: stride, padding: padding)
            let width = windowOutput(input.width, kernel: kernel, stride: stride, padding: padding)
            guard height > 0, width > 0 else { return .failure(.shapeVanishes(layer: name, input: input.description)) }
            return bounded(.image(channels: channels, height: height, width: width))
        }
        func bounded(_ shape: Shape) -> Result<Shape, Message> {
            guard let count = Shape.checkedProduct(shape.dims), count <= maximumElements else {
                return .failure(.tensorTooLarge("the output of \(name)"))
            }
            return .success(shape)
        }

        switch op {
        case .input:
            return inputs.isEmpty ? .failure(.tensorTooLarge("input")) : bounded(inputs[0])
        case .conv(let conv):
            return image(inputs[0]).flatMap { input in
                guard input.channels % conv.groups == 0 else {
                    return .failure(.channelsNotDivisible(channels: input.channels, groups: conv.groups, what: "input channels"))
                }
                guard conv.outChannels % conv.groups == 0 else {
                    return .failure(.channelsNotDivisible(channels: conv.outChannels, groups: conv.groups, what: "'out'"))
                }
                return windowed(input, channels: conv.outChannels, kernel: conv.kernel, stride: conv.stride, padding: conv.padding)
            }
        case .maxPool(let pool), .avgPool(let pool):
            return image(inputs[0]).flatMap {
                windowed($0, channels: $0.channels, kernel: pool.kernel, stride: pool.stride, padding: pool.padding)
            }
        case .batchNorm, .relu, .dropout:
            return .success(inputs[0])
        case .globalAvgPool:
            return image(inputs[0]).map { .image(channels: $0.channels, height: 1, width: 1) }
        case .flatten:
            return .success(Shape([inputs[0].elementCount]))
        case .linear(let linear):
            return .success(Shape([linear.outFeatures]))
        case .add:
            guard inputs[0] == inputs[1] else {
                return .failure(.mergeShapeMismatch(body: inputs[0].description, shortcut: inputs[1].description))
            }
            return .success(inputs[0])
        case .subsamplePad(let pad):
            return image(inputs[0]).flatMap { input in
                guard pad.outChannels >= input.channels else {
                    return .failure(.subsampleShrinks(from: input.channels, to: pad.outChannels))
                }
                let height = (input.height + pad.stride - 1) / pad.stride, width = (input.width + pad.stride - 1) / pad.stride
                return bounded(.image(channels: pad.outChannels, height: height, width: width))
            }
        }
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
        case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad:
            return []
        }
    }

    /// How many inputs the op takes.
    public static func arity(of op: Op) -> Int {
        switch op {
        case .input: return 0
        case .add: return 2
        case .conv, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .linear, .dropout, .subsamplePad: return 1
        }
    }
}
