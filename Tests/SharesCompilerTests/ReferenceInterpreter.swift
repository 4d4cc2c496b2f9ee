import Foundation

@testable import SharesCompiler

/// The numerical truth that optimized execution is checked against: a forward pass over the UNFUSED
/// IR, one sample at a time, one plain function per op, with every value held and every sum accumulated
/// in Double. Tensors are one sample's NCHW data (`[C, H, W]`, row-major) or a feature vector `[F]`.
/// Nothing here is clever: each loop follows the op's definition, so that it can be checked by eye.
enum ReferenceInterpreter {
    /// One sample's value of one node.
    struct Tensor {
        var shape: Shape
        var data: [Double]

        init(_ shape: Shape, _ data: [Double]) {
            precondition(data.count == shape.elementCount, "tensor data does not fit its shape \(shape)")
            self.shape = shape
            self.data = data
        }

        init(zeros shape: Shape) { self.init(shape, [Double](repeating: 0, count: shape.elementCount)) }

        var channels: Int { shape.channels }
        var height: Int { shape.height }
        var width: Int { shape.width }

        /// Element `(c, y, x)` of an image in NCHW order.
        subscript(c: Int, y: Int, x: Int) -> Double {
            get { data[(c * height + y) * width + x] }
            set { data[(c * height + y) * width + x] = newValue }
        }
    }

    /// Runs `batch` samples laid out one after another in `input` (N x C x H x W); returns the last
    /// node's value for every sample, one after another.
    static func run(_ graph: Graph, weights: WeightStore, input: [Float], batch: Int) -> [Float] {
        let sampleSize = graph.inputShape.elementCount
        precondition(
            input.count == batch * sampleSize, "input has \(input.count) values, expected \(batch) x \(sampleSize)")
        var output: [Float] = []
        for sample in 0..<batch {
            let x = input[(sample * sampleSize)..<((sample + 1) * sampleSize)].map(Double.init)
            let y = runSample(graph, weights: weights, input: Tensor(graph.inputShape, x))
            output += y.data.map { Float($0) }
        }
        return output
    }

    static func runSample(_ graph: Graph, weights: WeightStore, input: Tensor) -> Tensor {
        var values: [Tensor] = []
        values.reserveCapacity(graph.nodes.count)
        for node in graph.nodes {
            precondition(node.id.index == values.count, "nodes out of order")
            let inputs = node.inputs.map { values[$0.index] }
            /// A parameter as Double.
            func p(_ id: ParameterID) -> [Double] { weights[id].map(Double.init) }
            let result: Tensor
            switch node.op {
            case .input: result = input
            case .conv(let conv): result = convolution(inputs[0], conv, weight: p(conv.weight), bias: conv.bias.map(p))
            case .batchNorm(let bn):
                result = batchNorm(
                    inputs[0], epsilon: bn.epsilon, scale: p(bn.scale), shift: p(bn.shift),
                    mean: p(bn.mean), variance: p(bn.variance))
            case .relu: result = relu(inputs[0])
            case .maxPool(let pool): result = maxPool(inputs[0], pool)
            case .avgPool(let pool): result = avgPool(inputs[0], pool)
            case .globalAvgPool: result = globalAvgPool(inputs[0])
            case .flatten: result = flatten(inputs[0])
            case .linear(let linear):
                result = self.linear(inputs[0], linear, weight: p(linear.weight), bias: linear.bias.map(p))
            case .dropout: result = inputs[0]
            case .add: result = add(inputs[0], inputs[1])
            case .subsamplePad(let pad): result = subsamplePad(inputs[0], pad)
            case .activation(let activation): result = Tensor(inputs[0].shape, inputs[0].data.map(activation.apply))
            case .squeezeExcite(let se):
                result = squeezeExcite(
                    inputs[0], se, reduce: p(se.reduceWeight), reduceBias: p(se.reduceBias),
                    expand: p(se.expandWeight), expandBias: p(se.expandBias))
            case .layerNorm(let norm):
                result = layerNorm(inputs[0], epsilon: norm.epsilon, scale: p(norm.scale), shift: p(norm.shift))
            case .layerScale(let scale): result = channelScale(inputs[0], p(scale.weight))
            case .stochasticDepth: result = inputs[0]
            }
            precondition(
                result.shape == node.shape, "\(node.name): computed shape \(result.shape), graph says \(node.shape)")
            values.append(result)
        }
        return values[values.count - 1]
    }

    /// Output size of a window of `kernel` moved by `stride` over `size + 2 * padding` (floor mode).
    static func windows(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// y[o, oy, ox] = bias[o] + sum over the input channels i of o's group and taps (ky, kx) of
    /// w[o, i - groupStart, ky, kx] * x[i, oy * stride - pad + ky, ox * stride - pad + kx], padding reading 0.
    static func convolution(_ x: Tensor, _ conv: Op.Convolution, weight: [Double], bias: [Double]?) -> Tensor {
        let k = conv.kernel
        let outHeight = windows(x.height, kernel: k, stride: conv.stride, padding: conv.padding)
        let outWidth = windows(x.width, kernel: k, stride: conv.stride, padding: conv.padding)
        let inPerGroup = x.channels / conv.groups, outPerGroup = conv.outChannels / conv.groups
        precondition(weight.count == conv.outChannels * inPerGroup * k * k)
        // Plain arrays and index arithmetic rather than `Tensor`'s subscript, and the taps outside the
        // pixel loops: debug builds neither inline nor hoist, and this is where the time goes.
        let (height, width, stride, padding) = (x.height, x.width, conv.stride, conv.padding)
        let input = x.data
        var output = [Double](repeating: 0, count: conv.outChannels * outHeight * outWidth)
        for o in 0..<conv.outChannels {
            let group = o / outPerGroup
            let outBase = o * outHeight * outWidth
            for pixel in 0..<(outHeight * outWidth) { output[outBase + pixel] = bias?[o] ?? 0 }
            for j in 0..<inPerGroup {
                let i = group * inPerGroup + j
                for ky in 0..<k {
                    for kx in 0..<k {
                        let w = weight[((o * inPerGroup + j) * k + ky) * k + kx]  // w[o, j, ky, kx]
                        for oy in 0..<outHeight {
                            let iy = oy * stride - padding + ky
                            for ox in 0..<outWidth {
                                let ix = ox * stride - padding + kx
                                // Padding is a zero that is multiplied, as in PyTorch: w * 0 is NaN for an
                                // infinite or NaN w, which then reaches the border pixels too.
                                let inside = iy >= 0 && iy < height && ix >= 0 && ix < width
                                // y[o, oy, ox] += w[o, j, ky, kx] * x[i, iy, ix]
                                output[outBase + oy * outWidth + ox] +=
                                    w * (inside ? input[(i * height + iy) * width + ix] : 0)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(.image(channels: conv.outChannels, height: outHeight, width: outWidth), output)
    }

    /// Inference batchnorm with running statistics, per channel c: (x - mean) / sqrt(var + eps) * scale + shift.
    static func batchNorm(
        _ x: Tensor, epsilon: Double, scale: [Double], shift: [Double], mean: [Double], variance: [Double]
    ) -> Tensor {
        var y = x
        let perChannel = x.shape.elementCount / x.channels
        for c in 0..<x.channels {
            for index in (c * perChannel)..<((c + 1) * perChannel) {
                y.data[index] = (x.data[index] - mean[c]) / (variance[c] + epsilon).squareRoot() * scale[c] + shift[c]
            }
        }
        return y
    }

    /// Squeeze-and-excitation: s = mean over pixels of x; g = sigmoid(W2 act(W1 s + b1) + b2);
    /// y[c, y, x] = x[c, y, x] * g[c].
    static func squeezeExcite(
        _ x: Tensor, _ se: Op.SqueezeExcite, reduce: [Double], reduceBias: [Double], expand: [Double],
        expandBias: [Double]
    ) -> Tensor {
        let channels = x.channels, squeeze = se.squeezeChannels
        let pooled = globalAvgPool(x).data
        let hidden = (0..<squeeze).map { s in
            let v = reduceBias[s] + (0..<channels).reduce(0.0) { $0 + reduce[s * channels + $1] * pooled[$1] }
            return se.activation == .relu ? (v < 0 ? 0 : v) : Op.Activation.silu.apply(v)
        }
        let gate = (0..<channels).map { c in
            Op.Activation.sigmoid.apply(
                expandBias[c] + (0..<squeeze).reduce(0.0) { $0 + expand[c * squeeze + $1] * hidden[$1] })
        }
        return channelScale(x, gate)
    }

    /// Per pixel, over its channels: (x - mean) / sqrt(biased variance + eps) * scale + shift.
    static func layerNorm(_ x: Tensor, epsilon: Double, scale: [Double], shift: [Double]) -> Tensor {
        var y = x
        let pixels = x.shape.elementCount / x.channels
        for pixel in 0..<pixels {
            let values = (0..<x.channels).map { x.data[$0 * pixels + pixel] }
            let mean = values.reduce(0, +) / Double(x.channels)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.channels)
            for c in 0..<x.channels {
                y.data[c * pixels + pixel] =
                    (values[c] - mean) / (variance + epsilon).squareRoot() * scale[c] + shift[c]
            }
        }
        return y
    }

    /// y[c, ...] = x[c, ...] * factor[c].
    static func channelScale(_ x: Tensor, _ factor: [Double]) -> Tensor {
        var y = x
        let perChannel = x.shape.elementCount / x.channels
        for index in y.data.indices { y.data[index] *= factor[index / perChannel] }
        return y
    }

    static func relu(_ x: Tensor) -> Tensor {
        Tensor(x.shape, x.data.map { $0 < 0 ? 0 : $0 })  // NaN stays NaN
    }

    /// Maximum over each window; padding is -infinity, so it never wins.
    static func maxPool(_ x: Tensor, _ pool: Op.Pooling) -> Tensor {
        pooled(
            x, pool, start: -Double.infinity, padding: -Double.infinity, combine: { $0.isNaN || $1 <= $0 ? $0 : $1 },
            finish: { $0 })
    }

    /// Mean over each window of kernel x kernel values, padded zeros included (PyTorch's default).
    static func avgPool(_ x: Tensor, _ pool: Op.Pooling) -> Tensor {
        let count = Double(pool.kernel * pool.kernel)
        return pooled(x, pool, start: 0, padding: 0, combine: +, finish: { $0 / count })
    }

    static func pooled(
        _ x: Tensor, _ pool: Op.Pooling, start: Double, padding: Double,
        combine: (Double, Double) -> Double, finish: (Double) -> Double
    ) -> Tensor {
        let k = pool.kernel
        let outHeight = windows(x.height, kernel: k, stride: pool.stride, padding: pool.padding)
        let outWidth = windows(x.width, kernel: k, stride: pool.stride, padding: pool.padding)
        var y = Tensor(zeros: .image(channels: x.channels, height: outHeight, width: outWidth))
        for c in 0..<x.channels {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var accumulator = start
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let iy = oy * pool.stride - pool.padding + ky, ix = ox * pool.stride - pool.padding + kx
                            let inside = iy >= 0 && iy < x.height && ix >= 0 && ix < x.width
                            accumulator = combine(accumulator, inside ? x[c, iy, ix] : padding)
                        }
                    }
                    y[c, oy, ox] = finish(accumulator)
                }
            }
        }
        return y
    }

    /// Mean of each channel: C x H x W -> C x 1 x 1.
    static func globalAvgPool(_ x: Tensor) -> Tensor {
        var y = Tensor(zeros: .image(channels: x.channels, height: 1, width: 1))
        for c in 0..<x.channels {
            var sum = 0.0
            for iy in 0..<x.height { for ix in 0..<x.width { sum += x[c, iy, ix] } }
            y[c, 0, 0] = sum / Double(x.height * x.width)
        }
        return y
    }

    /// The same values in the same (C, H, W row-major) order, as a vector.
    static func flatten(_ x: Tensor) -> Tensor {
        Tensor(Shape([x.shape.elementCount]), x.data)
    }

    /// y[o] = bias[o] + sum over i of w[o, i] * flatten(x)[i].
    static func linear(_ x: Tensor, _ linear: Op.Linear, weight: [Double], bias: [Double]?) -> Tensor {
        let features = flatten(x).data
        precondition(weight.count == linear.outFeatures * features.count)
        var y = Tensor(zeros: Shape([linear.outFeatures]))
        for o in 0..<linear.outFeatures {
            var sum = bias?[o] ?? 0
            for i in 0..<features.count { sum += weight[o * features.count + i] * features[i] }
            y.data[o] = sum
        }
        return y
    }

    static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(a.shape, zip(a.data, b.data).map { $0 + $1 })
    }

    /// Keeps rows and columns 0, stride, 2 stride...; input channel c becomes output channel
    /// c + (out - in) / 2; the channels before and after are zero.
    static func subsamplePad(_ x: Tensor, _ pad: Op.SubsamplePad) -> Tensor {
        let outHeight = (x.height + pad.stride - 1) / pad.stride, outWidth = (x.width + pad.stride - 1) / pad.stride
        let before = (pad.outChannels - x.channels) / 2
        var y = Tensor(zeros: .image(channels: pad.outChannels, height: outHeight, width: outWidth))
        for c in 0..<x.channels {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    y[before + c, oy, ox] = x[c, oy * pad.stride, ox * pad.stride]
                }
            }
        }
        return y
    }
}

extension Op.Activation {
    /// The activation's definition, in Double (GELU with the exact error function, as PyTorch's default).
    func apply(_ x: Double) -> Double {
        switch self {
        case .relu6: return x.isNaN ? x : Swift.min(Swift.max(x, 0), 6)
        case .silu: return x / (1 + exp(-x))
        case .hardswish: return x.isNaN ? x : x * Swift.min(Swift.max(x + 3, 0), 6) / 6
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .sigmoid: return 1 / (1 + exp(-x))
        }
    }
}
