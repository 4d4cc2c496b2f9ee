/// Checks a `Program`'s invariants: every index in range, steps in an order where inputs exist, and
/// shapes that fit each kernel and its parameters. The executor relies on them for memory safety, so
/// a plan read from disk is verified before it runs.
public enum ProgramVerifier {
    public static func problems(in program: Program) -> [String] {
        var problems: [String] = []
        let values = program.values.indices, parameters = program.parameters
        for (field, value) in [("input", program.input), ("output", program.output)] where !values.contains(value) {
            return ["program.\(field) is \(value), but the program has \(program.values.count) values"]
        }
        for value in program.values
        where value.shape.dims.isEmpty || value.shape.dims.count > 3
            || value.shape.dims.contains(where: { !kernelIntegers.contains($0) })
            || (Shape.checkedProduct(value.shape.dims) ?? .max) > ShapeRules.maximumElements
        {
            problems.append("value '\(value.name)' has an impossible shape \(value.shape)")
        }
        guard problems.isEmpty else { return problems }
        var defined = Set([program.input])
        for step in program.steps {
            let name = "step '\(step.name)'"
            guard !step.inputs.isEmpty else {
                problems.append("\(name) reads no value")
                continue
            }
            if let missing = (step.inputs + step.outputs).first(where: { !values.contains($0) }) {
                problems.append("\(name) refers to value \(missing), but the program has \(values.count) values")
                continue
            }
            if let missing = step.inputs.first(where: { !defined.contains($0) }) {
                let whose = step.outputs.contains(missing) ? "its own output " : ""
                problems.append("\(name) reads \(whose)'\(program.values[missing].name)' before any step writes it")
            }
            if let written = step.outputs.first(where: defined.contains)
                ?? (Set(step.outputs).count < step.outputs.count ? step.output : nil)
            {
                problems.append("\(name) writes '\(program.values[written].name)' twice")
            }
            defined.formUnion(step.outputs)
            guard step.kernel.parameterIndices.allSatisfy(parameters.indices.contains) else {
                problems.append("\(name) refers to a parameter that does not exist")
                continue
            }
            let inputs = step.inputs.map { program.values[$0].shape }
            let output = program.values[step.output].shape
            if let problem = check(step.kernel, inputs: inputs, output: output, parameters: parameters)
                ?? checkPreActivation(step, program)
            {
                problems.append("\(name): \(problem)")
            }
        }
        if problems.isEmpty, !defined.contains(program.output) {
            problems.append("program.output '\(program.values[program.output].name)' is never written by any step")
        }
        return problems
    }

    /// A second output exactly when a convolution's epilogue has a pre-activation, shaped as the output
    /// (`check` verifies the pre-activation's batchnorm with the rest of the kernel).
    private static func checkPreActivation(_ step: Program.Step, _ program: Program) -> String? {
        var preActivation: Program.PreActivation?
        if case .conv(_, _, _, _, _, _, let epilogue) = step.kernel { preActivation = epilogue.preActivation }
        switch (preActivation, step.preActivationOutput) {
        case (nil, nil): return nil
        case (_?, let second?):
            return program.values[second].shape == program.values[step.output].shape
                ? nil : "its second output does not match its output"
        case (nil, _?), (_?, nil): return "a pre-activation needs exactly one second output"
        }
    }

    /// The spec's rule for an epsilon (Lowering's `positive`): the kernels compute with it as a 32-bit
    /// float, where 1e300 is infinite and 1e-50 is 0, so it must be finite and greater than 0 there.
    static func epsilonProblem(_ epsilon: Double, of what: String) -> String? {
        let float = Float(epsilon)
        guard float.isFinite else {
            return "\(what) epsilon \(epsilon) is not within 32-bit float range (at most 3.4e38 in size)"
        }
        guard float > 0 else {
            return "\(what) epsilon \(epsilon) is not greater than 0" + (epsilon > 0 ? " as a 32-bit float" : "")
        }
        return nil
    }

    /// Sizes, strides and groups the C kernels take (as 32-bit integers).
    private static let kernelIntegers = 1...Int(Int32.max)

    private static func check(
        _ kernel: Program.Kernel, inputs: [Shape], output: Shape, parameters: [Program.ParameterInfo]
    ) -> String? {
        let input = inputs[0]
        func shape(_ index: Int) -> [Int] { parameters[index].shape }
        /// The kernel's inputs (beyond `extraInputs`) and the output its geometry makes.
        func expect(arity: Int, extraInputs: Int = 0, _ rule: () -> Result<Shape, Message>) -> String? {
            guard inputs.count == arity + extraInputs else { return "wrong number of inputs" }
            switch rule() {
            case .success(let expected):
                return expected.dims == output.dims ? nil : "output \(output) should be \(expected)"
            case .failure(let message): return message.text
            }
        }
        // An elementwise step keeps its input's shape, but after a flatten of a one-pixel map (which the
        // program aliases: C x 1 x 1 and C are the same bytes in NHWC) its output is the flattened vector.
        func elementwise() -> String? {
            let flattened = input.isImage && input.height * input.width == 1 && output.dims == [input.channels]
            return expect(arity: 1) { .success(flattened ? output : input) }
        }
        func batchNorm(_ bn: Program.BatchNormRef, channels: Int) -> String? {
            if let problem = epsilonProblem(bn.epsilon, of: "batchnorm") { return problem }
            return [bn.scale, bn.shift, bn.mean, bn.variance].allSatisfy { shape($0) == [channels] }
                ? nil : "batchnorm parameters do not match \(channels) channels"
        }
        switch kernel {
        case .conv(let weight, let bias, let size, let stride, let padding, let groups, let epilogue):
            guard [size, stride, groups].allSatisfy(kernelIntegers.contains), padding >= 0, padding <= Int32.max
            else {
                return "impossible convolution geometry: kernel \(size), stride \(stride), padding \(padding), groups "
                    + "\(groups) (kernel, stride and groups from 1, padding from 0, each at most \(Int32.max))"
            }
            guard output.isImage, input.isImage else { return "a convolution reads and writes images" }
            let problem = expect(arity: 1, extraInputs: epilogue.residual == nil ? 0 : 1) {
                ShapeRules.convolution(
                    input, outChannels: output.channels, kernel: size, stride: stride, padding: padding,
                    groups: groups, name: "the step")
            }
            if let problem { return problem }
            let expected = [output.channels, input.channels / groups, size, size]
            guard shape(weight) == expected else {
                return "weight shape \(shape(weight)), where \(input.channels) -> \(output.channels) channels in "
                    + "\(groups) group\(groups == 1 ? "" : "s") need \(expected)"
            }
            if let bias, shape(bias) != [output.channels] {
                return "bias shape \(shape(bias)), where \(output.channels) output channels need [\(output.channels)]"
            }
            if let residual = epilogue.residual, residual != 1 || inputs[1] != output {
                return "residual does not match the output"
            }
            if let layerScale = epilogue.layerScale, shape(layerScale) != [output.channels] {
                return "layer scale shape \(shape(layerScale))"
            }
            return epilogue.batchNorm.flatMap { batchNorm($0, channels: output.channels) }
                ?? epilogue.preActivation.flatMap { batchNorm($0.batchNorm, channels: output.channels) }
        case .scaleShift(let bn, _):
            return elementwise() ?? batchNorm(bn, channels: input.channels)
        case .add:
            return expect(arity: 2) { ShapeRules.sum(input, inputs[1]) }
        case .relu, .activation:
            return elementwise()
        case .layerScale(let weight):
            return elementwise() ?? (shape(weight) == [input.channels] ? nil : "layer scale shape \(shape(weight))")
        case .layerNorm(let scale, let shift, let epsilon):
            if let problem = epsilonProblem(epsilon, of: "layer norm") { return problem }
            return elementwise()
                ?? (shape(scale) == [input.channels] && shape(shift) == [input.channels]
                    ? nil : "layer norm parameters do not match \(input.channels) channels")
        case .squeezeExcite(let reduceWeight, let reduceBias, let expandWeight, let expandBias, let activation):
            let channels = input.channels, squeeze = shape(reduceBias).first ?? 0
            guard activation == .relu || activation == .silu else {
                return "squeeze-and-excitation activation '\(activation.rawValue)'; expected relu or silu"
            }
            guard input.isImage, squeeze >= 1,
                shape(reduceWeight) == [squeeze, channels, 1, 1], shape(reduceBias) == [squeeze],
                shape(expandWeight) == [channels, squeeze, 1, 1], shape(expandBias) == [channels]
            else { return "squeeze-and-excitation parameters do not match \(channels) channels" }
            return elementwise()
        case .maxPool(let size, let stride, let padding), .avgPool(let size, let stride, let padding):
            guard size >= 1, size <= 1 << 10, kernelIntegers.contains(stride), padding >= 0, padding <= size / 2 else {
                return "impossible pooling geometry: kernel \(size), stride \(stride), padding \(padding) (kernel 1 "
                    + "to 1024, stride from 1, padding 0 to half the kernel)"
            }
            return expect(arity: 1) {
                ShapeRules.pooling(input, kernel: size, stride: stride, padding: padding, name: "the step")
            }
        case .globalAvgPool:
            return expect(arity: 1) { ShapeRules.globalPooling(input, name: "the step") }
        case .linear(let weight, let bias, _):
            guard inputs.count == 1, output.dims.count == 1 else { return "wrong shapes" }
            let expected = [output.channels, input.elementCount]
            guard shape(weight) == expected else {
                return
                    "weight shape \(shape(weight)), where \(input.elementCount) -> \(output.channels) values need \(expected)"
            }
            if let bias, shape(bias) != [output.channels] {
                return "bias shape \(shape(bias)), where \(output.channels) outputs need [\(output.channels)]"
            }
            return nil
        case .subsamplePad(let stride, let padBefore):
            guard kernelIntegers.contains(stride), padBefore >= 0, padBefore <= output.channels - input.channels else {
                return "impossible padding"
            }
            return expect(arity: 1) {
                ShapeRules.subsamplePad(input, outChannels: output.channels, stride: stride, name: "the step")
            }
        case .flatten:
            return input.isImage
                ? expect(arity: 1) { .success(Shape([input.elementCount])) } : "flattens a value that is not an image"
        }
    }
}

extension Program.Kernel {
    /// The parameters the step reads.
    public var parameterIndices: [Int] {
        func bn(_ ref: Program.BatchNormRef?) -> [Int] { ref.map { [$0.scale, $0.shift, $0.mean, $0.variance] } ?? [] }
        switch self {
        case .conv(let weight, let bias, _, _, _, _, let epilogue):
            return [weight] + (bias.map { [$0] } ?? []) + bn(epilogue.batchNorm)
                + (epilogue.layerScale.map { [$0] } ?? [])
                + bn(epilogue.preActivation?.batchNorm)
        case .scaleShift(let ref, _): return bn(ref)
        case .linear(let weight, let bias, _): return [weight] + (bias.map { [$0] } ?? [])
        case .layerScale(let weight): return [weight]
        case .layerNorm(let scale, let shift, _): return [scale, shift]
        case .squeezeExcite(let reduceWeight, let reduceBias, let expandWeight, let expandBias, _):
            return [reduceWeight, reduceBias, expandWeight, expandBias]
        case .add, .relu, .activation, .maxPool, .avgPool, .globalAvgPool, .subsamplePad, .flatten: return []
        }
    }
}
