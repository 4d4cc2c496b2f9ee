import CKernels

/// Runs a `Plan` on the CPU, as it says: each step by its algorithm, split as its schedule says,
/// every value at its arena offset. Weights are packed once at load (a tied weight once, shared by every use),
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
///
/// One owner at a time: an executor is not Sendable (its arenas are reused by every run).
public final class Executor {
    public let plan: Plan
    public var program: Program { plan.program }
    /// The threads that run the plan: its own count, but at most one per CPU this process may use.
    /// More only wait for one another, each holding a CPU that the thread it waits for needs (a plan for
    /// 8 threads ran sharesnet-164 in 40 ms on 2 CPUs, against 3.7 ms on 2 threads). Its steps are still
    /// cut into the pieces it plans, which the threads take in turn.
    public var threads: Int { pool.threads }
    private let pool: WorkerPool

    /// Per conv step: its geometry, packed weight (shared between uses of one parameter) and epilogue vectors.
    private struct ConvStep {
        var geometry: sc_conv_geometry
        var packed: AlignedBuffer
        var scale: AlignedBuffer?
        var shift: AlignedBuffer?
        var schedule: StepSchedule
        /// Rows of its work (output pixels, or Winograd's tiles of them) and columns (panels of 16 channels).
        var rows: Int
        var panels: Int
        /// The next pre-activation block's batchnorm, for the second output.
        var preActivation: (scale: AlignedBuffer, shift: AlignedBuffer, relu: Bool)?
        /// SC_ACT_*.
        var activation: Int32
    }
    /// A packed conv weight: one per parameter, algorithm (each packs its own way; Winograd's
    /// transformed weights depend on the tile size) and grouping: one tied weight may serve
    /// convolutions with different groups (its shape is the same for 8 -> 8 channels in one group and
    /// 16 -> 8 in two).
    private struct PackingKey: Hashable {
        var parameter: Int
        var algorithm: Int32
        var groups: Int32
    }
    /// By step index (nil for other kinds of step): looked up once per step and image.
    private var convs: [ConvStep?] = []
    /// Per scale-and-shift step: batchnorm turned into one multiply-add.
    private var scaleShifts: [(scale: AlignedBuffer, shift: AlignedBuffer)?] = []
    /// Linear weights and biases, and the vectors of layer scales, layer normalizations and
    /// squeeze-and-excitations, by parameter.
    private var raw: [Int: AlignedBuffer] = [:]
    private var workspaces: [AlignedBuffer] = []
    /// One arena per thread that runs images side by side, each planned for one image.
    private var arenas: [AlignedBuffer] = []
    /// The plan of one image's arena.
    public var memory: MemoryPlan { plan.memory }
    /// Arenas for the batch last prepared: one per thread that runs images side by side.
    public var arenaCount: Int { arenas.count }

    /// Bytes of every weight as stored for the kernels (packed convolutions, linear layers, epilogue vectors).
    public private(set) var weightBytes = 0
    /// The spec or plan, where errors about running it point.
    private let source: String

    /// `source` names the spec or plan in errors, and `locations` the places in a spec of its layers and
    /// parameters (a parameter's at its first use), by name, where errors about them point. The plan must
    /// be verified (`PlanFile.validate` for one read from disk; the compiler's own are).
    public init(
        plan: Plan, weights: some WeightProvider, source: String = "<program>", locations: [String: Location] = [:]
    ) throws(CompileFailure) {
        self.plan = plan
        self.source = source
        let program = plan.program
        // A fused step's name (`stem.conv1+bn1+relu1`) is at its first layer's place.
        func location(of name: String?) -> Location {
            guard let name else { return Location(file: source, line: 1, column: 1) }
            let first = name.split(separator: "+", maxSplits: 1).first.map(String.init) ?? name
            return locations[name] ?? locations[first] ?? Location(file: source, line: 1, column: 1)
        }
        // The kernels count a tensor's elements per image in 32-bit integers.
        if let value = program.values.first(where: { $0.elements > Int(Int32.max) }) {
            throw CompileFailure(
                Diagnostic(
                    at: location(of: value.name),
                    .tensorTooLargeToRun(value: value.name, elements: value.elements, limit: Int(Int32.max))))
        }
        pool = WorkerPool(threads: min(plan.schedule.threads, Self.usableCores))
        // Running out of memory (for weights, or for activations whose size a plan file decides) is an
        // error naming what could not be had, never a crash; at the layer it is for, where there is one.
        func outOfMemory(_ floats: Int, for purpose: String, of layer: String? = nil) -> CompileFailure {
            CompileFailure(
                Diagnostic(at: location(of: layer ?? purpose), .outOfMemory(bytes: floats * 4, purpose: purpose)))
        }
        func allocate(_ floats: Int, for purpose: String, of layer: String? = nil) throws(CompileFailure)
            -> AlignedBuffer
        {
            guard let buffer = AlignedBuffer(allocating: floats) else {
                throw outOfMemory(floats, for: purpose, of: layer)
            }
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
        func packed(_ weight: Int, _ geometry: inout sc_conv_geometry) throws(CompileFailure) -> AlignedBuffer {
            let key = PackingKey(parameter: weight, algorithm: geometry.algorithm, groups: geometry.groups)
            if let existing = packedByParameter[key] { return existing }
            let values = try fetch(weight)
            let name = program.parameters[weight].name
            let floats = geometry.packedFloats
            guard let packed = AlignedBuffer(count: floats, in: weightArena) else {
                throw outOfMemory(floats, for: name)
            }
            let winograd = geometry.isWinograd
            let done = values.withUnsafeBufferPointer { values in
                guard winograd else {
                    sc_conv_nhwc_pack(&geometry, values.baseAddress, packed.pointer)
                    return true
                }
                return sc_winograd_pack(&geometry, values.baseAddress, packed.pointer) != 0
            }
            // (Winograd's transform holds (m + 2)^2 floats per channel pair, m = 4 at most.)
            guard done else { throw outOfMemory(36 * values.count / 9, for: "transforming \(name)", of: name) }
            packedByParameter[key] = packed
            weightBytes += packed.count * 4
            return packed
        }
        var vectorBytes = 0  // of the folded epilogue vectors
        /// The epilogue's multiply-add per channel: batchnorm and bias, then the layer scale, folded
        /// ((v * s + t) * l = v * (s l) + t l).
        func folded(_ bn: Program.BatchNormRef?, bias: Int?, layerScale: Int? = nil) throws(CompileFailure) -> (
            AlignedBuffer?, AlignedBuffer?
        ) {
            let biasValues = try bias.map { b throws(CompileFailure) in try fetch(b) }
            let factor = try layerScale.map { l throws(CompileFailure) in try fetch(l) }
            guard let bn else {
                vectorBytes += ((biasValues?.count ?? 0) + (factor?.count ?? 0)) * 4
                let shift =
                    factor.flatMap { factor in biasValues.map { zip($0, factor).map { $0 * $1 } } } ?? biasValues
                return (
                    try factor.map { values throws(CompileFailure) in try copy(values, of: "a layer scale") },
                    try shift.map { values throws(CompileFailure) in try copy(values, of: "a bias") }
                )
            }
            let gamma = try fetch(bn.scale), beta = try fetch(bn.shift), mean = try fetch(bn.mean),
                variance = try fetch(bn.variance)
            var scale = [Float](repeating: 0, count: gamma.count), shift = scale
            for c in gamma.indices {
                let s = Double(gamma[c]) / (Double(variance[c]) + bn.epsilon).squareRoot()
                let l = Double(factor?[c] ?? 1)
                scale[c] = Float(s * l)
                shift[c] = Float((Double(beta[c]) + (Double(biasValues?[c] ?? 0) - Double(mean[c])) * s) * l)
            }
            vectorBytes += 2 * gamma.count * 4
            return (try copy(scale, of: "a batchnorm's scale"), try copy(shift, of: "a batchnorm's shift"))
        }
        /// A parameter as the kernels read it, once however many steps read it.
        func vector(_ parameter: Int) throws(CompileFailure) {
            if raw[parameter] != nil { return }
            raw[parameter] = try copy(try fetch(parameter), of: program.parameters[parameter].name)
            weightBytes += raw[parameter]!.count * 4
        }
        /// A batchnorm alone (a scale-and-shift step, or a pre-activation) as a multiply-add per channel.
        func normalization(_ bn: Program.BatchNormRef) throws(CompileFailure) -> (
            scale: AlignedBuffer, shift: AlignedBuffer
        ) {
            let (scale, shift) = try folded(bn, bias: nil)
            return (scale!, shift!)
        }

        var workspaceFloats = 0, workspaceStep: String?  // the most any step needs, and the first that does
        func needWorkspace(_ floats: Int, for step: Program.Step) {
            if floats > workspaceFloats { (workspaceFloats, workspaceStep) = (floats, step.name) }
        }
        convs = Array(repeating: nil, count: program.steps.count)
        scaleShifts = Array(repeating: nil, count: program.steps.count)
        for (index, step) in program.steps.enumerated() {
            let input = program.values[step.inputs[0]].shape
            switch step.kernel {
            case .conv(let weight, let bias, _, _, _, _, let epilogue):
                let schedule = plan.schedule.steps[index]
                guard var geometry = program.convGeometry(of: step, algorithm: schedule.algorithm) else { continue }
                let packed = try packed(weight, &geometry)
                let (scale, shift) = try folded(epilogue.batchNorm, bias: bias, layerScale: epilogue.layerScale)
                let preActivation = try epilogue.preActivation.map { pre throws(CompileFailure) in
                    let (scale, shift) = try normalization(pre.batchNorm)
                    return (scale: scale, shift: shift, relu: pre.relu)
                }
                convs[index] = ConvStep(
                    geometry: geometry, packed: packed, scale: scale, shift: shift, schedule: schedule,
                    rows: geometry.rows, panels: geometry.panels, preActivation: preActivation,
                    activation: epilogue.activation.kernelCode)
                needWorkspace(
                    geometry.isWinograd
                        ? sc_winograd_workspace_size(&geometry) : sc_conv_nhwc_workspace_size(&geometry),
                    for: step)
            case .scaleShift(let bn, _):
                scaleShifts[index] = try normalization(bn)
            case .linear(let weight, let bias, _):
                if raw[weight] == nil {
                    raw[weight] = try copy(
                        Self.nhwcColumns(try fetch(weight), input: input), of: program.parameters[weight].name)
                    weightBytes += raw[weight]!.count * 4
                }
                if let bias, raw[bias] == nil {
                    raw[bias] = try copy(try fetch(bias), of: program.parameters[bias].name)
                    weightBytes += raw[bias]!.count * 4
                }
            case .layerScale(let weight):
                try vector(weight)
            case .layerNorm(let scale, let shift, _):
                try vector(scale)
                try vector(shift)
            case .squeezeExcite(let reduceWeight, let reduceBias, let expandWeight, let expandBias, _):
                for parameter in [reduceWeight, reduceBias, expandWeight, expandBias] { try vector(parameter) }
                let squeeze = program.parameters[reduceBias].shape[0]
                needWorkspace(sc_squeeze_excite_scratch(Int32(input.channels), Int32(squeeze)), for: step)
            case .add, .relu, .activation, .maxPool, .avgPool, .globalAvgPool, .subsamplePad, .flatten:
                break
            }
        }
        weightBytes += vectorBytes
        // Arenas for more threads come with the first batch that uses them.
        arenas = [try allocate(memory.arenaBytes / 4, for: "the activations")]
        for _ in 0..<self.threads {
            workspaces.append(try allocate(workspaceFloats, for: "the kernels' scratch", of: workspaceStep))
        }
    }

    public var workspaceBytes: Int { workspaces.reduce(0) { $0 + $1.count * 4 } }

    /// Plans one image's arena (once) and allocates one per thread that will run images of a batch of
    /// `batch` side by side. Returns the plan of one arena.
    @discardableResult
    public func prepare(batch: Int) -> MemoryPlan {
        let lanes = max(1, min(threads, batch))
        while arenas.count < lanes, let arena = AlignedBuffer(allocating: memory.arenaBytes / 4) {
            arenas.append(arena)
        }
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

    /// Whether `batch` outputs (and, with `inputs`, as many images) fit in memory, where allocating them
    /// would trap: an error naming the batch otherwise. `run` takes a batch this has passed.
    public func checkMemory(batch: Int, inputs: Bool = false) throws(CompileFailure) {
        let perImage = program.values[program.output].elements + (inputs ? program.values[program.input].elements : 0)
        let (bytes, overflow) = perImage.multipliedReportingOverflow(by: batch * MemoryLayout<Float>.size)
        guard overflow || sc_can_allocate(bytes) == 0 else { return }
        throw CompileFailure(
            Diagnostic(
                at: Location(file: source, line: 1, column: 1),
                .outOfMemory(
                    bytes: overflow ? Int.max : bytes,
                    purpose: "the \(inputs ? "images and " : "")outputs of a batch of \(batch)")))
    }

    /// Deterministic random images (`RandomInput`) for a batch that fits, outputs included.
    public func randomInput(batch: Int, seed: UInt64) throws(CompileFailure) -> [Float] {
        try checkMemory(batch: batch, inputs: true)
        return RandomInput.images(batch * program.values[program.input].elements, seed: seed)
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
        let sideBySideSeconds = UnsafeMutableBufferPointer<Double>.allocate(
            capacity: stepSeconds == nil ? 0 : threads * steps)
        sideBySideSeconds.initialize(repeating: 0)
        defer { sideBySideSeconds.deallocate() }
        return [Float](unsafeUninitializedCapacity: outputElements * batch) { result, count in
            input.withUnsafeBufferPointer { source in
                func runImage(_ image: Int, arena: Int, workers: Workers, seconds: UnsafeMutablePointer<Double>?) {
                    let base = arenas[arena].pointer
                    func pointer(_ value: Int) -> UnsafeMutablePointer<Float> { base + plan.offset(ofValue: value) / 4 }
                    convertLayout(
                        source.baseAddress! + image * inputElements, pointer(program.input), shape: inputShape,
                        sc_nchw_to_nhwc)
                    for (index, step) in program.steps.enumerated() {
                        let start = seconds == nil ? 0 : monotonicSeconds()
                        execute(step, index: index, pointer: pointer, workers: workers)
                        if let seconds { seconds[index] += monotonicSeconds() - start }
                    }
                    convertLayout(
                        pointer(program.output), result.baseAddress! + image * outputElements, shape: outputShape,
                        sc_nhwc_to_nchw)
                }
                // Images side by side, each claimed by whichever thread is free.
                pool.runPieces(sideBySide) { worker, image in
                    runImage(
                        image, arena: worker, workers: Workers(pool: nil, worker: worker),
                        seconds: stepSeconds == nil ? nil : sideBySideSeconds.baseAddress! + worker * steps)
                }
                if let stepSeconds, sideBySide > 0 {
                    let sharing = Double(min(threads, sideBySide))
                    for (offset, seconds) in sideBySideSeconds.enumerated() {
                        stepSeconds[offset % steps] += seconds / sharing
                    }
                }
                // The rest (fewer images than threads): one at a time, every step split over the threads.
                for image in sideBySide..<batch {
                    runImage(
                        image, arena: 0, workers: Workers(pool: pool, worker: 0), seconds: stepSeconds?.baseAddress)
                }
            }
            count = outputElements * batch
        }
    }

    /// Converts one image between NCHW and NHWC (a copy when either side has one channel or one pixel).
    private func convertLayout(
        _ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, shape: Shape,
        _ convert: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int32, Int32) -> Void
    ) {
        let spatial = shape.height * shape.width
        if spatial == 1 || shape.channels == 1 {
            target.update(from: source, count: shape.elementCount)
            return
        }
        convert(source, target, Int32(shape.channels), Int32(spatial))
    }

    /// One step on one image, cut into its schedule's pieces when all threads run it.
    private func execute(
        _ step: Program.Step, index: Int, pointer: (Int) -> UnsafeMutablePointer<Float>, workers: Workers
    ) {
        let inputShape = program.values[step.inputs[0]].shape, outputShape = program.values[step.output].shape
        let outputElements = outputShape.elementCount
        let x = pointer(step.inputs[0]), y = pointer(step.output)
        let channels = Int32(inputShape.channels), spatial = inputShape.height * inputShape.width
        let pieces = workers.pieces(plan.schedule.steps[index])
        switch step.kernel {
        case .conv(_, _, _, _, _, _, let epilogue):
            let conv = convs[index]!
            let residual = epilogue.residual.map { pointer(step.inputs[$0]) }
            runConv(
                conv, input: x, output: y, residual: residual,
                preActivation: step.preActivationOutput.map(pointer), pieces: pieces, workers: workers)
        case .scaleShift(_, let activation):
            let (scale, shift) = scaleShifts[index]!
            workers.runPieces(pieces) { _, piece in
                let rows = share(of: spatial, worker: piece, of: pieces, granule: 16)
                let offset = rows.lowerBound * inputShape.channels
                if rows.isEmpty { return }
                sc_scale_shift_nhwc(
                    x + offset, y + offset, rows.count, channels, scale.pointer, shift.pointer, activation.kernelCode)
            }
        case .layerScale(let weight):
            let scale = raw[weight]!.pointer
            workers.runPieces(pieces) { _, piece in
                let rows = share(of: spatial, worker: piece, of: pieces, granule: 16)
                let offset = rows.lowerBound * inputShape.channels
                if !rows.isEmpty {
                    sc_scale_shift_nhwc(x + offset, y + offset, rows.count, channels, scale, nil, Int32(SC_ACT_NONE))
                }
            }
        case .layerNorm(let scale, let shift, let epsilon):
            let scale = raw[scale]!.pointer, shift = raw[shift]!.pointer
            // (A vector's features are one pixel's channels.)
            let pixels = inputShape.isImage ? spatial : 1,
                width = Int32(inputShape.isImage ? inputShape.channels : inputShape.elementCount)
            workers.runPieces(pieces) { _, piece in
                let rows = share(of: pixels, worker: piece, of: pieces, granule: 4)
                let offset = rows.lowerBound * Int(width)
                if !rows.isEmpty {
                    sc_layer_norm_nhwc(x + offset, y + offset, rows.count, width, scale, shift, Float(epsilon))
                }
            }
        case .squeezeExcite(let reduceWeight, let reduceBias, let expandWeight, let expandBias, let activation):
            sc_squeeze_excite_nhwc(
                x, y, Int32(spatial), channels, Int32(program.parameters[reduceBias].shape[0]),
                raw[reduceWeight]!.pointer,
                raw[reduceBias]!.pointer, raw[expandWeight]!.pointer, raw[expandBias]!.pointer, activation.kernelCode,
                workspaces[workers.worker].pointer)
        case .activation(let activation):
            workers.runPieces(pieces) { _, piece in
                let range = share(of: outputElements, worker: piece, of: pieces, granule: 64)
                if !range.isEmpty {
                    sc_activation(x + range.lowerBound, y + range.lowerBound, range.count, activation.kernelCode)
                }
            }
        case .add(let activation):
            let other = pointer(step.inputs[1])
            workers.runPieces(pieces) { _, piece in
                let range = share(of: outputElements, worker: piece, of: pieces, granule: 64)
                if range.isEmpty { return }
                sc_add(
                    x + range.lowerBound, other + range.lowerBound, y + range.lowerBound, range.count,
                    activation.kernelCode)
            }
        case .relu:
            workers.runPieces(pieces) { _, piece in
                let range = share(of: outputElements, worker: piece, of: pieces, granule: 64)
                if !range.isEmpty { sc_relu(x + range.lowerBound, y + range.lowerBound, range.count) }
            }
        case .maxPool(let kernel, let stride, let padding), .avgPool(let kernel, let stride, let padding):
            let pooling = if case .maxPool = step.kernel { sc_max_pool_nhwc } else { sc_avg_pool_nhwc }
            workers.runPieces(pieces) { _, piece in
                let range = share(of: outputShape.height, worker: piece, of: pieces)
                if range.isEmpty { return }
                pooling(
                    x, y, channels, Int32(inputShape.height), Int32(inputShape.width), Int32(kernel), Int32(stride),
                    Int32(padding), Int32(outputShape.height), Int32(outputShape.width), range.lowerBound,
                    range.upperBound)
            }
        case .globalAvgPool:
            sc_global_avg_pool_nhwc(x, y, channels, Int32(spatial))
        case .linear(let weight, let bias, let activation):
            // Pieces of output features, each streaming its rows of the weight.
            let features = inputShape.elementCount
            workers.runPieces(pieces) { _, piece in
                let outputs = share(of: outputElements, worker: piece, of: pieces, granule: 8)
                if outputs.isEmpty { return }
                sc_linear(
                    x, raw[weight]!.pointer + outputs.lowerBound * features,
                    bias.map { raw[$0]!.pointer + outputs.lowerBound }, y + outputs.lowerBound, Int32(features),
                    Int32(outputs.count), activation.kernelCode)
            }
        case .flatten:
            sc_nhwc_to_nchw(x, y, channels, Int32(spatial))
        case .subsamplePad(let stride, let padBefore):
            sc_subsample_pad_nhwc(
                x, y, channels, Int32(inputShape.height), Int32(inputShape.width), Int32(stride),
                Int32(outputShape.channels), Int32(padBefore), Int32(outputShape.height),
                Int32(outputShape.width))
        }
    }

    /// One conv step on one image: rows are the output pixels (or Winograd's tiles of them), columns
    /// panels of 16 output channels; the pieces cut one of them, as the schedule says.
    private func runConv(
        _ conv: ConvStep, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
        residual: UnsafeMutablePointer<Float>?, preActivation: UnsafeMutablePointer<Float>?,
        pieces: Int, workers: Workers
    ) {
        let epilogue = sc_epilogue(
            scale: conv.scale.map { UnsafePointer($0.pointer) }, shift: conv.shift.map { UnsafePointer($0.pointer) },
            residual: residual.map { UnsafePointer($0) }, activation: conv.activation,
            act_output: preActivation, act_scale: conv.preActivation.map { UnsafePointer($0.scale.pointer) },
            act_shift: conv.preActivation.map { UnsafePointer($0.shift.pointer) },
            act_relu: conv.preActivation?.relu == true ? 1 : 0)
        let splitPanels = conv.schedule.split == .panels
        let convolve = conv.geometry.isWinograd ? sc_winograd_conv : sc_conv_nhwc
        workers.runPieces(pieces) { t, piece in
            let rows =
                splitPanels
                ? 0..<conv.rows
                : share(
                    of: conv.rows, worker: piece, of: pieces,
                    granule: StepSchedule.convolutionRowGranule(winograd: conv.geometry.isWinograd))
            let panels = splitPanels ? share(of: conv.panels, worker: piece, of: pieces) : 0..<conv.panels
            if rows.isEmpty || panels.isEmpty { return }
            var geometry = conv.geometry, epilogue = epilogue  // per thread: the kernel takes pointers
            convolve(
                &geometry, conv.packed.pointer, input, output, &epilogue, workspaces[t].pointer,
                rows.lowerBound, rows.upperBound, Int32(panels.lowerBound), Int32(panels.upperBound))
        }
    }
}

/// Who runs a step: every thread of the pool, or one worker alone (while threads run images side by
/// side), which then does all of the step with its own workspace.
private struct Workers {
    let pool: WorkerPool?
    let worker: Int

    /// The pieces a step is cut into: its schedule's while every thread runs it, one for a worker alone.
    func pieces(_ schedule: StepSchedule) -> Int { pool == nil ? 1 : schedule.pieces }

    func runPieces(_ pieces: Int, _ body: (_ worker: Int, _ piece: Int) -> Void) {
        if let pool { pool.runPieces(pieces, body) } else { for piece in 0..<pieces { body(worker, piece) } }
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

    /// The CPUs this process may run on: its affinity mask, so fewer than the machine has under
    /// taskset or a cpuset. The default thread count.
    public static var usableCores: Int { Int(sc_usable_cpus()) }
}
