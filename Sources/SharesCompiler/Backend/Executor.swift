import CKernels

/// Runs a `Program` on the CPU: weights packed once at load (a tied weight once, shared by every use),
/// activations in a memory-planned arena in NHWC layout (channels contiguous, so a convolution is an
/// indirect GEMM over output pixels x output channels). The plan's input and output keep the ONNX
/// layout (NCHW): `run` converts them at the edges.
///
/// A batch runs image by image: each thread takes the next image and runs the whole network on it in
/// an arena of its own, planned for one image, with no synchronization between steps; only images left
/// over when fewer remain than threads run one at a time with every step split over all threads.
/// One image's activations mostly stay in L2 from one step to the next, where a whole batch's would
/// not (sharewrn-40-4's batch of 8: 283-312 ms layer by layer against 8 x 33 ms image by image), and
/// the threads never wait for each other on the small steps of a CIFAR network.
public final class Executor: @unchecked Sendable {
    public let program: Program
    public let threads: Int
    private let pool: WorkerPool

    /// Per conv step: its geometry, packed weight (shared between uses of one parameter) and epilogue vectors.
    private struct ConvStep {
        var geometry: sc_conv_geometry
        var packed: AlignedBuffer
        var scale: AlignedBuffer?
        var shift: AlignedBuffer?
        var panels: Int
        /// m when it runs by Winograd's F(m x m, 3x3) (its weights packed for it; work is counted in
        /// m x m output tiles), 0 when direct.
        var winogradTile: Int32
        var winograd: Bool { winogradTile > 0 }
        /// The next pre-activation block's batchnorm, for the second output.
        var preActivation: (scale: AlignedBuffer, shift: AlignedBuffer, relu: Bool)?
    }
    /// A packed conv weight: one per parameter and form (direct, 0, or Winograd's transformed one for
    /// its output tile size) and grouping: the packing depends on the groups, and one tied weight
    /// may serve convolutions with different groups (its shape is the same for 8 -> 8 channels in
    /// one group and 16 -> 8 in two).
    private struct PackingKey: Hashable {
        var parameter: Int
        var winogradTile: Int32
        var groups: Int32
    }
    /// By step index (nil for other kinds of step): looked up once per step and image.
    private var convs: [ConvStep?] = []
    /// Per scale-and-shift step: batchnorm turned into one multiply-add.
    private var scaleShifts: [(scale: AlignedBuffer, shift: AlignedBuffer)?] = []
    /// Linear weights and biases, by parameter.
    private var raw: [Int: AlignedBuffer] = [:]
    private var workspaces: [AlignedBuffer] = []
    /// One arena per thread that runs images side by side, each planned for one image.
    private var arenas: [AlignedBuffer] = []
    /// The plan of one image's arena.
    public private(set) var memory: MemoryPlan
    /// Arenas for the batch last prepared: one per thread that runs images side by side.
    public var arenaCount: Int { arenas.count }

    /// Bytes of every weight as stored for the kernels (packed convolutions, linear layers, epilogue vectors).
    public private(set) var weightBytes = 0

    /// `source` names the spec or plan in errors.
    public init(program: Program, weights: some WeightProvider, threads: Int, source: String = "<program>") throws(CompileFailure) {
        self.program = program
        pool = WorkerPool(threads: max(1, threads))
        self.threads = pool.threads
        memory = MemoryPlanner.plan(program, batch: 1)
        // Running out of memory (for weights, or for activations whose size a plan file decides) is an
        // error naming what could not be had, never a crash.
        func outOfMemory(_ floats: Int, for purpose: String) -> CompileFailure {
            CompileFailure(Diagnostic(at: Location(file: source, line: 1, column: 1), .outOfMemory(bytes: floats * 4, purpose: purpose)))
        }
        func allocate(_ floats: Int, for purpose: String) throws(CompileFailure) -> AlignedBuffer {
            guard let buffer = AlignedBuffer(allocating: floats) else { throw outOfMemory(floats, for: purpose) }
            return buffer
        }
        func copy(_ values: [Float], of name: String) throws(CompileFailure) -> AlignedBuffer {
            guard let buffer = AlignedBuffer(values) else { throw outOfMemory(values.count, for: name) }
            return buffer
        }
        // Per parameter and form (direct or Winograd): a tied weight is packed once for all its uses.
        var packedByParameter: [PackingKey: AlignedBuffer] = [:]
        let weightArena = BufferArena()
        var cache: [Int: [Float]] = [:]
        var last: (parameter: Int, values: [Float])?  // checked for NaN, then packed: read once
        // Batchnorm vectors are small and read by one step each; conv and linear weights are fetched once.
        func fetch(_ parameter: Int) throws(CompileFailure) -> [Float] {
            if let values = cache[parameter] { return values }
            if let last, last.parameter == parameter { return last.values }
            let values = try weights.values(of: parameter)
            if program.parameters[parameter].uses > 1 { cache[parameter] = values }
            last = (parameter, values)
            return values
        }
        /// Whether a conv weight is free of NaN and infinities: one that is not never runs by Winograd,
        /// whose transformed weights would spread them to outputs a direct convolution keeps finite.
        var finite: [Int: Bool] = [:]
        func isFinite(_ weight: Int) throws(CompileFailure) -> Bool {
            if let known = finite[weight] { return known }
            let known = try fetch(weight).allSatisfy(\.isFinite)
            finite[weight] = known
            return known
        }
        func packed(_ weight: Int, winogradTile: Int32, _ geometry: inout sc_conv_geometry) throws(CompileFailure) -> AlignedBuffer {
            let key = PackingKey(parameter: weight, winogradTile: winogradTile, groups: geometry.groups)
            if let existing = packedByParameter[key] { return existing }
            let values = try fetch(weight)
            let winograd = winogradTile > 0
            let name = program.parameters[weight].name
            let floats = winograd ? sc_winograd_packed_size(&geometry) : sc_conv_nhwc_packed_size(&geometry)
            guard let packed = AlignedBuffer(count: floats, in: weightArena) else { throw outOfMemory(floats, for: name) }
            let done = values.withUnsafeBufferPointer { values in
                guard winograd else { sc_conv_nhwc_pack(&geometry, values.baseAddress, packed.pointer); return true }
                return sc_winograd_pack(&geometry, values.baseAddress, packed.pointer) != 0
            }
            guard done else { throw outOfMemory(Int((winogradTile + 2) * (winogradTile + 2)) * values.count / 9, for: "transforming \(name)") }
            packedByParameter[key] = packed
            weightBytes += packed.count * 4
            return packed
        }
        var vectorBytes = 0  // of the folded epilogue vectors
        func folded(_ bn: Program.BatchNormRef?, bias: Int?) throws(CompileFailure) -> (AlignedBuffer?, AlignedBuffer?) {
            let biasValues = try bias.map { b throws(CompileFailure) in try fetch(b) }
            guard let bn else {
                vectorBytes += (biasValues?.count ?? 0) * 4
                return (nil, try biasValues.map { values throws(CompileFailure) in try copy(values, of: "a bias") })
            }
            let gamma = try fetch(bn.scale), beta = try fetch(bn.shift), mean = try fetch(bn.mean), variance = try fetch(bn.variance)
            var scale = [Float](repeating: 0, count: gamma.count), shift = scale
            for c in gamma.indices {
                let s = Double(gamma[c]) / (Double(variance[c]) + bn.epsilon).squareRoot()
                scale[c] = Float(s)
                shift[c] = Float(Double(beta[c]) + (Double(biasValues?[c] ?? 0) - Double(mean[c])) * s)
            }
            vectorBytes += 2 * gamma.count * 4
            return (try copy(scale, of: "a batchnorm's scale"), try copy(shift, of: "a batchnorm's shift"))
        }
        /// A batchnorm alone (a scale-and-shift step, or a pre-activation) as a multiply-add per channel.
        func normalization(_ bn: Program.BatchNormRef) throws(CompileFailure) -> (scale: AlignedBuffer, shift: AlignedBuffer) {
            let (scale, shift) = try folded(bn, bias: nil)
            return (scale!, shift!)
        }

        var workspaceFloats = 0
        convs = Array(repeating: nil, count: program.steps.count)
        scaleShifts = Array(repeating: nil, count: program.steps.count)
        for (index, step) in program.steps.enumerated() {
            let input = program.values[step.inputs[0]].shape, output = program.values[step.output].shape
            switch step.kernel {
            case .conv(let weight, let bias, let kernel, let stride, let padding, let groups, let epilogue):
                var geometry = sc_conv_geometry(in_channels: Int32(input.channels), in_height: Int32(input.height), in_width: Int32(input.width),
                                                out_channels: Int32(output.channels), out_height: Int32(output.height), out_width: Int32(output.width),
                                                kernel: Int32(kernel), stride: Int32(stride), pad: Int32(padding), groups: Int32(groups))
                var winogradTile = sc_winograd_applies(&geometry) != 0 ? sc_winograd_tile_size(&geometry) : 0
                if winogradTile > 0, try !isFinite(weight) { winogradTile = 0 }
                let winograd = winogradTile > 0
                let packed = try packed(weight, winogradTile: winogradTile, &geometry)
                let (scale, shift) = try folded(epilogue.batchNorm, bias: bias)
                let preActivation = try epilogue.preActivation.map { pre throws(CompileFailure) in
                    let (scale, shift) = try normalization(pre.batchNorm)
                    return (scale: scale, shift: shift, relu: pre.relu)
                }
                convs[index] = ConvStep(geometry: geometry, packed: packed, scale: scale, shift: shift,
                                        panels: Int(sc_conv_nhwc_panels(&geometry)), winogradTile: winogradTile, preActivation: preActivation)
                workspaceFloats = max(workspaceFloats, winograd ? sc_winograd_workspace_size(&geometry) : sc_conv_nhwc_workspace_size(&geometry))
            case .scaleShift(let bn, _):
                scaleShifts[index] = try normalization(bn)
            case .linear(let weight, let bias, _):
                if raw[weight] == nil {
                    raw[weight] = try copy(Self.nhwcColumns(try fetch(weight), input: input), of: program.parameters[weight].name)
                    weightBytes += raw[weight]!.count * 4
                }
                if let bias, raw[bias] == nil {
                    raw[bias] = try copy(try fetch(bias), of: program.parameters[bias].name)
                    weightBytes += raw[bias]!.count * 4
                }
            case .add, .relu, .maxPool, .avgPool, .globalAvgPool, .subsamplePad, .flatten:
                break
            }
        }
        weightBytes += vectorBytes
        // Arenas for more threads come with the first batch that uses them.
        arenas = [try allocate(memory.arenaBytes / 4, for: "the activations")]
        for _ in 0..<self.threads { workspaces.append(try allocate(workspaceFloats, for: "the kernels' scratch")) }
    }

    /// Conv steps that run by Winograd's F(2x2, 3x3) or F(4x4, 3x3).
    public var winogradSteps: Int { convs.filter { $0?.winograd == true }.count }
    /// Conv steps that run by Winograd, by output tile size (2 or 4).
    public var winogradStepsByTile: [Int: Int] {
        convs.reduce(into: [:]) { counts, conv in if let conv, conv.winograd { counts[Int(conv.winogradTile), default: 0] += 1 } }
    }

    public var workspaceBytes: Int { workspaces.reduce(0) { $0 + $1.count * 4 } }

    /// Plans one image's arena (once) and allocates one per thread that will run images of a batch of
    /// `batch` side by side. Returns the plan of one arena.
    @discardableResult
    public func prepare(batch: Int) -> MemoryPlan {
        let lanes = max(1, min(threads, batch))
        while arenas.count < lanes, let arena = AlignedBuffer(allocating: memory.arenaBytes / 4) { arenas.append(arena) }
        return memory
    }

    /// A linear layer's weight with its columns in the order NHWC flattens its input (h, w, c) rather
    /// than ONNX's (c, h, w); the same matrix when the input is a vector (after global pooling).
    static func nhwcColumns(_ weight: [Float], input: Shape) -> [Float] {
        let channels = input.channels, spatial = input.height * input.width, features = channels * spatial
        guard spatial > 1, features > 0 else { return weight }
        var reordered = weight
        for row in stride(from: 0, to: weight.count, by: features) {
            for c in 0..<channels {
                for p in 0..<spatial { reordered[row + p * channels + c] = weight[row + c * spatial + p] }
            }
        }
        return reordered
    }

    /// `input` holds `batch` images (C x H x W each); returns `batch` outputs (C x H x W each).
    /// With `stepSeconds`, also adds each step's wall time to it (one entry per step), for `bench --profile`
    /// (while threads run images side by side, their total divided by their number).
    public func run(_ input: [Float], batch: Int, stepSeconds: UnsafeMutableBufferPointer<Double>? = nil) -> [Float] {
        let plan = prepare(batch: batch)
        let inputShape = program.values[program.input].shape, outputShape = program.values[program.output].shape
        let inputElements = inputShape.elementCount, outputElements = outputShape.elementCount
        // (Without an arena for every thread, which only a machine short of memory refuses: one at a time.)
        let sideBySide = threads == 1 ? batch : arenas.count == threads ? batch / threads * threads : 0
        // Step times of the threads running images side by side, [thread][step].
        let steps = program.steps.count
        let sideBySideSeconds = UnsafeMutableBufferPointer<Double>.allocate(capacity: stepSeconds == nil ? 0 : threads * steps)
        sideBySideSeconds.initialize(repeating: 0)
        defer { sideBySideSeconds.deallocate() }
        return [Float](unsafeUninitializedCapacity: outputElements * batch) { result, count in
            input.withUnsafeBufferPointer { source in
                func runImage(_ image: Int, arena: Int, workers: Workers, seconds: UnsafeMutablePointer<Double>?) {
                    let base = arenas[arena].pointer
                    func pointer(_ value: Int) -> UnsafeMutablePointer<Float> { base + plan.offset(ofValue: value) / 4 }
                    convertLayout(source.baseAddress! + image * inputElements, pointer(program.input), shape: inputShape, sc_nchw_to_nhwc)
                    for (index, step) in program.steps.enumerated() {
                        let start = seconds == nil ? 0 : monotonicSeconds()
                        execute(step, index: index, pointer: pointer, workers: workers)
                        if let seconds { seconds[index] += monotonicSeconds() - start }
                    }
                    convertLayout(pointer(program.output), result.baseAddress! + image * outputElements, shape: outputShape, sc_nhwc_to_nchw)
                }
                // Images side by side, each claimed by whichever thread is free.
                pool.runPieces(sideBySide) { worker, image in
                    runImage(image, arena: worker, workers: Workers(pool: nil, worker: worker),
                             seconds: stepSeconds == nil ? nil : sideBySideSeconds.baseAddress! + worker * steps)
                }
                if let stepSeconds, sideBySide > 0 {
                    let sharing = Double(min(threads, sideBySide))
                    for (offset, seconds) in sideBySideSeconds.enumerated() { stepSeconds[offset % steps] += seconds / sharing }
                }
                // The rest (fewer images than threads): one at a time, every step split over the threads.
                for image in sideBySide..<batch {
                    runImage(image, arena: 0, workers: Workers(pool: pool, worker: 0), seconds: stepSeconds?.baseAddress)
                }
            }
            count = outputElements * batch
        }
    }

    /// Converts one image between NCHW and NHWC (a copy when either side has one channel or one pixel).
    private func convertLayout(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, shape: Shape,
                               _ convert: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int32, Int32) -> Void) {
        let spatial = shape.height * shape.width
        if spatial == 1 || shape.channels == 1 {
            target.update(from: source, count: shape.elementCount)
            return
        }
        convert(source, target, Int32(shape.channels), Int32(spatial))
    }

    /// One step on one image.
    private func execute(_ step: Program.Step, index: Int, pointer: (Int) -> UnsafeMutablePointer<Float>, workers: Workers) {
        let inputShape = program.values[step.inputs[0]].shape, outputShape = program.values[step.output].shape
        let outputElements = outputShape.elementCount
        let x = pointer(step.inputs[0]), y = pointer(step.output)
        let channels = Int32(inputShape.channels), spatial = inputShape.height * inputShape.width
        let threads = workers.count
        switch step.kernel {
        case .conv(_, _, _, _, _, _, let epilogue):
            let conv = convs[index]!
            let residual = epilogue.residual.map { pointer(step.inputs[$0]) }
            runConv(conv, input: x, output: y, residual: residual, relu: epilogue.relu, preActivation: step.preActivationOutput.map(pointer),
                    inputElements: inputShape.elementCount, workers: workers)
        case .scaleShift(_, let relu):
            let (scale, shift) = scaleShifts[index]!
            workers.run(threads) { t in
                let rows = share(of: spatial, worker: t, of: threads, granule: 16)
                let offset = rows.lowerBound * inputShape.channels
                if !rows.isEmpty { sc_scale_shift_nhwc(x + offset, y + offset, rows.count, channels, scale.pointer, shift.pointer, relu ? 1 : 0) }
            }
        case .add(let relu):
            let other = pointer(step.inputs[1])
            workers.run(threads) { t in
                let range = share(of: outputElements, worker: t, of: threads, granule: 64)
                if !range.isEmpty { sc_add(x + range.lowerBound, other + range.lowerBound, y + range.lowerBound, range.count, relu ? 1 : 0) }
            }
        case .relu:
            workers.run(threads) { t in
                let range = share(of: outputElements, worker: t, of: threads, granule: 64)
                if !range.isEmpty { sc_relu(x + range.lowerBound, y + range.lowerBound, range.count) }
            }
        case .maxPool(let kernel, let stride, let padding), .avgPool(let kernel, let stride, let padding):
            let pooling: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int, Int) -> Void
            if case .maxPool = step.kernel { pooling = sc_max_pool_nhwc } else { pooling = sc_avg_pool_nhwc }
            let rows = outputShape.height, parts = min(threads, rows)
            workers.run(parts) { t in
                let range = share(of: rows, worker: t, of: parts)
                if range.isEmpty { return }
                pooling(x, y, channels, Int32(inputShape.height), Int32(inputShape.width), Int32(kernel), Int32(stride), Int32(padding),
                        Int32(outputShape.height), Int32(outputShape.width), range.lowerBound, range.upperBound)
            }
        case .globalAvgPool:
            sc_global_avg_pool_nhwc(x, y, channels, Int32(spatial))
        case .linear(let weight, let bias, let relu):
            sc_linear(x, raw[weight]!.pointer, bias.map { raw[$0]!.pointer }, y, Int32(inputShape.elementCount), Int32(outputElements), relu ? 1 : 0)
        case .flatten:
            sc_nhwc_to_nchw(x, y, channels, Int32(spatial))
        case .subsamplePad(let stride, let padBefore):
            sc_subsample_pad_nhwc(x, y, channels, Int32(inputShape.height), Int32(inputShape.width), Int32(stride),
                                  Int32(outputShape.channels), Int32(padBefore), Int32(outputShape.height), Int32(outputShape.width))
        }
    }

    /// One conv step on one image: rows are the output pixels, columns panels of 16 output channels.
    /// Threads split whichever dimension leaves the least work on the busiest thread (on a tie, the
    /// panels when the weights outweigh the input: each thread then streams only its share of them), in
    /// a few pieces per thread that go to whichever thread is free.
    private func runConv(_ conv: ConvStep, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
                         residual: UnsafeMutablePointer<Float>?, relu: Bool, preActivation: UnsafeMutablePointer<Float>?,
                         inputElements: Int, workers: Workers) {
        let threads = workers.count
        // Rows of the work: output pixels, in micro-tiles of 6; or Winograd's output tiles, in chunks of 8.
        var geometryForRows = conv.geometry
        let pixels = conv.winograd ? sc_winograd_tiles(&geometryForRows) : Int(conv.geometry.out_height * conv.geometry.out_width)
        let panels = conv.panels
        let tiles = conv.winograd ? (pixels + 7) / 8 : (pixels + 5) / 6
        let pixelSplitLoad = (tiles + threads - 1) / threads * panels, panelSplitLoad = tiles * ((panels + threads - 1) / threads)
        // (Winograd splits tiles only: each piece transforms the input of its tiles for all its panels.)
        let splitPanels = !conv.winograd
            && (panelSplitLoad < pixelSplitLoad || (panelSplitLoad == pixelSplitLoad && conv.packed.count > inputElements))
        let epilogue = sc_epilogue(scale: conv.scale.map { UnsafePointer($0.pointer) }, shift: conv.shift.map { UnsafePointer($0.pointer) },
                                   residual: residual.map { UnsafePointer($0) }, relu: relu ? 1 : 0,
                                   act_output: preActivation, act_scale: conv.preActivation.map { UnsafePointer($0.scale.pointer) },
                                   act_shift: conv.preActivation.map { UnsafePointer($0.shift.pointer) },
                                   act_relu: conv.preActivation?.relu == true ? 1 : 0)
        // Up to four pieces per thread, of at least 64 tiles or 2 panels: a piece reads all of its
        // panels' weights, so smaller ones would read the weights more often than they balance load.
        let units = splitPanels ? panels / 2 : tiles / 64
        let pieces = threads == 1 ? 1 : min(max(units, threads), 4 * threads)
        workers.runPieces(pieces) { t, piece in
            let pixelRange = splitPanels ? 0..<pixels : share(of: pixels, worker: piece, of: pieces, granule: 12)
            let panelRange = splitPanels ? share(of: panels, worker: piece, of: pieces) : 0..<panels
            if pixelRange.isEmpty || panelRange.isEmpty { return }
            var geometry = conv.geometry, epilogue = epilogue  // per thread: the kernel takes pointers
            let convolve = conv.winograd ? sc_winograd_conv : sc_conv_nhwc
            convolve(&geometry, conv.packed.pointer, input, output, &epilogue, workspaces[t].pointer,
                     pixelRange.lowerBound, pixelRange.upperBound, Int32(panelRange.lowerBound), Int32(panelRange.upperBound))
        }
    }
}

/// Who runs a step: every thread of the pool, or one worker alone (while threads run images side by
/// side), which then does all of the step with its own workspace.
private struct Workers {
    let pool: WorkerPool?
    let worker: Int

    var count: Int { pool?.threads ?? 1 }

    func run(_ count: Int, _ body: (Int) -> Void) {
        if let pool { pool.run(count, body) } else { body(0) }
    }

    func runPieces(_ pieces: Int, _ body: (_ worker: Int, _ piece: Int) -> Void) {
        if let pool { pool.runPieces(pieces, body) } else { for piece in 0..<pieces { body(worker, piece) } }
    }
}

extension Executor {
    /// The instruction set the kernels use on this CPU: avx2 or portable.
    public static var kernelLevel: String {
        switch sc_level() {
        case Int32(SC_LEVEL_AVX2): return "avx2"
        default: return "portable"
        }
    }
}
