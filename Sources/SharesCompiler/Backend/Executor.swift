import CKernels

/// Runs a `Program` on the CPU: weights packed once at load (a tied weight once, shared by every use),
/// activations in one memory-planned arena, every step's work split over `threads`.
public final class Executor: @unchecked Sendable {
    public let program: Program
    public let threads: Int

    /// Per conv step: its geometry, packed weight (shared between uses of one parameter) and epilogue vectors.
    private struct ConvStep {
        var geometry: sc_conv_geometry
        var packed: AlignedBuffer
        var scale: AlignedBuffer?
        var shift: AlignedBuffer?
    }
    private var convs: [Int: ConvStep] = [:]
    /// Per scale-and-shift step: batchnorm turned into one multiply-add.
    private var scaleShifts: [Int: (scale: AlignedBuffer, shift: AlignedBuffer)] = [:]
    /// Linear weights and biases, by parameter.
    private var raw: [Int: AlignedBuffer] = [:]
    private var workspaces: [AlignedBuffer] = []
    private var arena: AlignedBuffer?
    public private(set) var memory: MemoryPlan?

    /// Bytes of every weight as stored for the kernels (packed convolutions, linear layers, epilogue vectors).
    public private(set) var weightBytes = 0

    public init(program: Program, weights: some WeightProvider, threads: Int) throws(CompileFailure) {
        self.program = program
        self.threads = max(1, threads)
        var packedByParameter: [Int: AlignedBuffer] = [:]
        var cache: [Int: [Float]] = [:]
        // Batchnorm vectors are small and read by one step each; conv and linear weights are fetched once.
        func fetch(_ parameter: Int) throws(CompileFailure) -> [Float] {
            if let values = cache[parameter] { return values }
            let values = try weights.values(of: parameter)
            if program.parameters[parameter].uses > 1 { cache[parameter] = values }
            return values
        }
        func folded(_ bn: Program.BatchNormRef?, bias: Int?) throws(CompileFailure) -> (AlignedBuffer?, AlignedBuffer?) {
            let biasValues = try bias.map { b throws(CompileFailure) in try fetch(b) }
            guard let bn else { return (nil, biasValues.map(AlignedBuffer.init)) }
            let gamma = try fetch(bn.scale), beta = try fetch(bn.shift), mean = try fetch(bn.mean), variance = try fetch(bn.variance)
            var scale = [Float](repeating: 0, count: gamma.count), shift = scale
            for c in gamma.indices {
                let s = Double(gamma[c]) / (Double(variance[c]) + bn.epsilon).squareRoot()
                scale[c] = Float(s)
                shift[c] = Float(Double(beta[c]) + (Double(biasValues?[c] ?? 0) - Double(mean[c])) * s)
            }
            return (AlignedBuffer(scale), AlignedBuffer(shift))
        }

        var workspaceFloats = 0
        for (index, step) in program.steps.enumerated() {
            let input = program.values[step.inputs[0]].shape, output = program.values[step.output].shape
            switch step.kernel {
            case .conv(let weight, let bias, let kernel, let stride, let padding, let groups, let epilogue):
                var geometry = sc_conv_geometry(in_channels: Int32(input.channels), in_height: Int32(input.height), in_width: Int32(input.width),
                                                out_channels: Int32(output.channels), out_height: Int32(output.height), out_width: Int32(output.width),
                                                kernel: Int32(kernel), stride: Int32(stride), pad: Int32(padding), groups: Int32(groups))
                let packed: AlignedBuffer
                if let existing = packedByParameter[weight] {
                    packed = existing
                } else {
                    let values = try weights.values(of: weight)
                    packed = AlignedBuffer(count: sc_conv_packed_size(&geometry))
                    values.withUnsafeBufferPointer { sc_conv_pack(&geometry, $0.baseAddress, packed.pointer) }
                    packedByParameter[weight] = packed
                    weightBytes += packed.count * 4
                }
                let (scale, shift) = try folded(epilogue.batchNorm, bias: bias)
                weightBytes += ((scale?.count ?? 0) + (shift?.count ?? 0)) * 4
                convs[index] = ConvStep(geometry: geometry, packed: packed, scale: scale, shift: shift)
                workspaceFloats = max(workspaceFloats, sc_conv_workspace_size(&geometry))
            case .scaleShift(let bn, _):
                let (scale, shift) = try folded(bn, bias: nil)
                scaleShifts[index] = (scale!, shift!)
                weightBytes += (scale!.count + shift!.count) * 4
            case .linear(let weight, let bias, _):
                for parameter in [weight] + (bias.map { [$0] } ?? []) where raw[parameter] == nil {
                    raw[parameter] = AlignedBuffer(try fetch(parameter))
                    weightBytes += raw[parameter]!.count * 4
                }
            case .add, .relu, .maxPool, .avgPool, .globalAvgPool, .subsamplePad:
                break
            }
        }
        workspaces = (0..<self.threads).map { _ in AlignedBuffer(count: workspaceFloats) }
    }

    public var workspaceBytes: Int { workspaces.reduce(0) { $0 + $1.count * 4 } }

    /// Plans the arena for `batch` (once per batch size) and allocates it.
    public func prepare(batch: Int) -> MemoryPlan {
        if let memory, memory.batch == batch { return memory }
        let plan = MemoryPlanner.plan(program, batch: batch)
        memory = plan
        arena = AlignedBuffer(count: plan.arenaBytes / 4)
        return plan
    }

    /// `input` holds `batch` images (C x H x W each); returns `batch` outputs.
    /// With `stepSeconds`, also adds each step's wall time to it (one entry per step), for `bench --profile`.
    public func run(_ input: [Float], batch: Int, stepSeconds: UnsafeMutableBufferPointer<Double>? = nil) -> [Float] {
        let plan = prepare(batch: batch)
        let base = arena!.pointer
        func pointer(_ value: Int) -> UnsafeMutablePointer<Float> { base + plan.offset(ofValue: value) / 4 }
        input.withUnsafeBufferPointer { pointer(program.input).update(from: $0.baseAddress!, count: input.count) }
        for (index, step) in program.steps.enumerated() {
            let start = stepSeconds == nil ? 0 : monotonicSeconds()
            execute(step, index: index, batch: batch, pointer: pointer)
            if let stepSeconds { stepSeconds[index] += monotonicSeconds() - start }
        }
        let outputCount = program.values[program.output].elements * batch
        return Array(UnsafeBufferPointer(start: pointer(program.output), count: outputCount))
    }

    private func execute(_ step: Program.Step, index: Int, batch: Int, pointer: (Int) -> UnsafeMutablePointer<Float>) {
        let inputShape = program.values[step.inputs[0]].shape, outputShape = program.values[step.output].shape
        let inputElements = inputShape.elementCount, outputElements = outputShape.elementCount
        let x = pointer(step.inputs[0]), y = pointer(step.output)
        let channels = Int32(inputShape.channels), spatial = inputShape.height * inputShape.width
        switch step.kernel {
        case .conv(_, _, _, _, _, _, let epilogue):
            let conv = convs[index]!
            let residual = epilogue.residual.map { pointer(step.inputs[$0]) }
            runConv(conv, input: x, output: y, residual: residual, relu: epilogue.relu, batch: batch,
                    inputElements: inputElements, outputElements: outputElements)
        case .scaleShift(_, let relu):
            let (scale, shift) = scaleShifts[index]!
            // Split images, and within an image the channels, over the threads.
            forEachChannelRange(batch: batch, channels: inputShape.channels) { image, range in
                let offset = image * inputElements + range.lowerBound * spatial
                sc_scale_shift(x + offset, y + offset, Int32(range.count), Int32(spatial),
                               scale.pointer + range.lowerBound, shift.pointer + range.lowerBound, relu ? 1 : 0)
            }
        case .add(let relu):
            let other = pointer(step.inputs[1])
            let total = batch * outputElements
            parallel(threads) { t in
                let range = share(of: total, worker: t, of: threads, granule: 64)
                if !range.isEmpty { sc_add(x + range.lowerBound, other + range.lowerBound, y + range.lowerBound, range.count, relu ? 1 : 0) }
            }
        case .relu:
            let total = batch * outputElements
            parallel(threads) { t in
                let range = share(of: total, worker: t, of: threads, granule: 64)
                if !range.isEmpty { sc_relu(x + range.lowerBound, y + range.lowerBound, range.count) }
            }
        case .maxPool(let kernel, let stride, let padding), .avgPool(let kernel, let stride, let padding):
            let isMax: Bool
            if case .maxPool = step.kernel { isMax = true } else { isMax = false }
            forEachChannelRange(batch: batch, channels: inputShape.channels) { image, range in
                let source = x + image * inputElements + range.lowerBound * spatial
                let target = y + image * outputElements + range.lowerBound * outputShape.height * outputShape.width
                let pool = isMax ? sc_max_pool : sc_avg_pool
                pool(source, target, Int32(range.count), Int32(inputShape.height), Int32(inputShape.width), Int32(kernel), Int32(stride),
                     Int32(padding), Int32(outputShape.height), Int32(outputShape.width))
            }
        case .globalAvgPool:
            forEachChannelRange(batch: batch, channels: inputShape.channels) { image, range in
                sc_global_avg_pool(x + image * inputElements + range.lowerBound * spatial, y + image * outputElements + range.lowerBound,
                                   Int32(range.count), Int32(spatial))
            }
        case .linear(let weight, let bias, let relu):
            let w = raw[weight]!.pointer, b = bias.map { raw[$0]!.pointer }
            parallel(min(threads, batch)) { t in
                for image in share(of: batch, worker: t, of: min(threads, batch)) {
                    sc_linear(x + image * inputElements, w, b, y + image * outputElements, Int32(inputElements), Int32(outputElements), relu ? 1 : 0)
                }
            }
        case .subsamplePad(let stride, let padBefore):
            parallel(min(threads, batch)) { t in
                for image in share(of: batch, worker: t, of: min(threads, batch)) {
                    sc_subsample_pad(x + image * inputElements, y + image * outputElements, channels, Int32(inputShape.height),
                                     Int32(inputShape.width), Int32(stride), Int32(outputShape.channels), Int32(padBefore),
                                     Int32(outputShape.height), Int32(outputShape.width))
                }
            }
        }
    }

    /// Images split over the threads; when there are fewer images than threads, each image's channels too.
    private func forEachChannelRange(batch: Int, channels: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = batch >= threads ? 1 : threads
        parallel(threads) { t in
            for task in share(of: batch * parts, worker: t, of: threads) {
                let range = share(of: channels, worker: task % parts, of: parts)
                if !range.isEmpty { body(task / parts, range) }
            }
        }
    }

    /// One conv step. With at least as many images as threads, each thread takes whole images; otherwise
    /// every image is split by output pixels (or, for small images, by output channels).
    private func runConv(_ conv: ConvStep, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
                         residual: UnsafeMutablePointer<Float>?, relu: Bool, batch: Int, inputElements: Int, outputElements: Int) {
        let channels = Int(conv.geometry.out_channels), pixels = Int(conv.geometry.out_height * conv.geometry.out_width)
        let parts = batch >= threads ? 1 : threads
        let splitPixels = pixels >= 64 * parts
        let block = Int(sc_conv_channel_block())
        parallel(threads) { t in
            let workspace = workspaces[t].pointer
            for task in share(of: batch * parts, worker: t, of: threads) {
                let image = task / parts, part = task % parts
                let pixelRange = splitPixels ? share(of: pixels, worker: part, of: parts, granule: 16) : 0..<pixels
                let channelRange = splitPixels ? 0..<channels : share(of: channels, worker: part, of: parts, granule: block)
                if pixelRange.isEmpty || channelRange.isEmpty { continue }
                var epilogue = sc_epilogue(scale: conv.scale.map { UnsafePointer($0.pointer) }, shift: conv.shift.map { UnsafePointer($0.pointer) },
                                           residual: residual.map { UnsafePointer($0 + image * outputElements) }, relu: relu ? 1 : 0)
                var geometry = conv.geometry
                withUnsafePointer(to: &epilogue) { epiloguePointer in
                    sc_conv(&geometry, conv.packed.pointer, input + image * inputElements, output + image * outputElements, epiloguePointer,
                            workspace, Int32(channelRange.lowerBound), Int32(channelRange.upperBound),
                            Int32(pixelRange.lowerBound), Int32(pixelRange.upperBound))
                }
            }
        }
    }
}

extension Executor {
    /// The instruction set the kernels use on this CPU: avx512, avx2 or portable.
    public static var kernelLevel: String {
        switch sc_level() {
        case Int32(SC_LEVEL_AVX512): return "avx512"
        case Int32(SC_LEVEL_AVX2): return "avx2"
        default: return "portable"
        }
    }
}
