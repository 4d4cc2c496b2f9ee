/// Text forms of the backend's stages: `--emit fused` (the program), `--emit memory` (the arena) and
/// `--emit plan` (steps with kernels and arena offsets). Stable, for golden tests.
public enum ProgramPrinter {
    public static func fused(_ program: Program) -> String {
        var lines = [
            "program \(quotedName(program.network)) \(program.variant.rawValue): "
                + "\(Format.counted(program.steps.count, "step")), \(Format.counted(program.values.count, "value"))"
        ]
        lines.append("  %\(program.input) = input : \(program.values[program.input].shape)")
        for step in program.steps {
            let inputs = step.inputs.map { "%\($0)" }.joined(separator: ", ")
            let outputs = step.outputs.map { "%\($0)" }.joined(separator: ", ")
            lines.append(
                "  \(outputs) = \(describe(step.kernel, program)) \(inputs) : \(program.values[step.output].shape)  # \(step.name)"
            )
        }
        lines.append("  return %\(program.output)")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func memory(_ program: Program, _ plan: MemoryPlan) -> String {
        let lines = [
            "memory for batch \(plan.batch): arena \(Format.counted(plan.arenaBytes, "byte")), lower bound "
                + "\(Format.counted(plan.lowerBoundBytes, "byte"))"
                + " (\(Format.fixed(Double(plan.arenaBytes) / Double(max(plan.lowerBoundBytes, 1)), decimals: 3))x), \(plan.buffers.count) buffers"
        ]
        var table = Table([("buffer", .left), ("offset", .right), ("bytes", .right), ("live", .left), ("values", .left)]
        )
        for (index, buffer) in plan.buffers.enumerated() {
            let live =
                "\(buffer.firstStep < 0 ? "in" : String(buffer.firstStep))..\(buffer.lastStep >= program.steps.count ? "out" : String(buffer.lastStep))"
            table.add([
                "b\(index)", String(buffer.offset), String(buffer.bytes), live,
                buffer.values.map { "%\($0) \(program.values[$0].name)" }.joined(separator: ", ")
            ])
        }
        return lines.joined(separator: "\n") + "\n" + table.text()
    }

    public static func plan(_ plan: Plan) -> String {
        let program = plan.program, memory = plan.memory
        var lines = [
            "plan \(quotedName(program.network)) \(program.variant.rawValue), \(Format.counted(plan.schedule.threads, "thread")), "
                + "arena \(Format.counted(memory.arenaBytes, "byte")) per image (lower bound \(Format.grouped(memory.lowerBoundBytes))), "
                + Format.counted(program.parameters.count, "distinct parameter tensor")
        ]
        for parameter in program.parameters where parameter.uses > 1 {
            lines.append(
                "  weight \(parameter.name) \(parameter.shape.map(String.init).joined(separator: "x")) stored once, read by \(parameter.uses) steps"
            )
        }
        for step in steps(of: plan) {
            let inputs = step.inputs.map { "@\($0)" }.joined(separator: ", ")
            let outputs = step.outputs.map { "@\($0)" }.joined(separator: ", ")
            let split = step.pieces == 1 ? "whole" : "\(step.pieces) x \(step.split)"
            lines.append("  \(step.index): \(step.kernel) \(inputs) -> \(outputs)  [\(split)]  # \(step.name)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `--emit plan --format json`: the plan's header and one object per step, with the fields of the
    /// text form (and `bench --profile --format json` names its steps the same way).
    public static func planJSON(_ plan: Plan) -> String {
        struct Document: Encodable {
            var network: String
            var variant: String
            var threads: Int
            var arenaBytes: Int
            var lowerBoundBytes: Int
            var parameters: [Program.ParameterInfo]
            var steps: [PlannedStep]
            enum CodingKeys: String, CodingKey {
                case network, variant, threads, parameters, steps
                case arenaBytes = "arena_bytes", lowerBoundBytes = "lower_bound_bytes"
            }
        }
        let program = plan.program
        return JSONRendering.render(
            Document(
                network: program.network, variant: program.variant.rawValue,
                threads: plan.schedule.threads, arenaBytes: plan.memory.arenaBytes,
                lowerBoundBytes: plan.memory.lowerBoundBytes, parameters: program.parameters,
                steps: steps(of: plan)))
    }

    /// One step of a plan as printed.
    public struct PlannedStep: Encodable, Sendable {
        public var index: Int
        /// The graph layers it computes (`stage1.block1.conv3+bn3+add+relu1`).
        public var name: String
        /// What runs, with its fusions: `conv.winograd-f4x4+bn+relu`.
        public var kernel: String
        /// `igemm`, `gemm-1x1`, `depthwise`, `winograd-f2x2`, `winograd-f4x4`, or the kernel's name.
        public var algorithm: String
        public var split: StepSchedule.Split
        public var pieces: Int
        /// Arena offsets (bytes) of its inputs and outputs.
        public var inputs: [Int]
        public var outputs: [Int]
        /// Multiply-accumulates per image.
        public var macs: Int
    }

    public static func steps(of plan: Plan) -> [PlannedStep] {
        let program = plan.program
        return program.steps.enumerated().map { index, step in
            let schedule = plan.schedule.steps[index]
            return PlannedStep(
                index: index, name: step.name, kernel: kernelChoice(step.kernel, algorithm: schedule.algorithm),
                algorithm: plan.algorithmName(ofStep: index), split: schedule.split, pieces: schedule.pieces,
                inputs: step.inputs.map(plan.memory.offset(ofValue:)),
                outputs: step.outputs.map(plan.memory.offset(ofValue:)), macs: program.macs(of: step))
        }
    }

    /// The kernel the executor runs for a step, with what its epilogue does.
    static func kernelChoice(_ kernel: Program.Kernel, algorithm: Algorithm) -> String {
        switch kernel {
        case .conv(_, _, let size, let stride, _, let groups, let epilogue):
            let form: String
            switch algorithm {
            case .igemm, .depthwise, .grouped, .kernel: form = "\(algorithm.rawValue)-\(size)x\(size)/\(stride)"
            case .gemm1x1, .winogradF2, .winogradF4: form = algorithm.rawValue
            }
            return "conv.\(form)\(groups > 1 ? ".g\(groups)" : "")\(epilogueSuffix(epilogue))"
        case .scaleShift(_, let activation): return "scale_shift" + suffix(activation)
        case .add(let activation), .linear(_, _, let activation): return kernel.kind + suffix(activation)
        case .squeezeExcite(_, _, _, _, let activation): return kernel.kind + "." + activation.rawValue
        case .relu, .activation, .layerScale, .layerNorm, .maxPool, .avgPool, .globalAvgPool, .subsamplePad, .flatten:
            return kernel.kind
        }
    }

    /// `+relu`, `+gelu`, ... ("" for none).
    static func suffix(_ activation: Program.Activation, separator: String = "+") -> String {
        activation == .none ? "" : separator + activation.rawValue
    }

    static func epilogueSuffix(_ epilogue: Program.Epilogue) -> String {
        (epilogue.batchNorm == nil ? "" : "+bn") + (epilogue.layerScale == nil ? "" : "+layer_scale")
            + (epilogue.residual == nil ? "" : "+add") + suffix(epilogue.activation)
            + (epilogue.preActivation.map { "+then-bn" + ($0.relu ? "+relu" : "") } ?? "")
    }

    static func describe(_ kernel: Program.Kernel, _ program: Program) -> String {
        func name(_ index: Int) -> String { program.parameters[index].name }
        switch kernel {
        case .conv(let weight, let bias, let size, let stride, let padding, let groups, let epilogue):
            var parts = [
                "\(kernel.kind) w=\(name(weight))\(program.parameters[weight].uses > 1 ? " (tied x\(program.parameters[weight].uses))" : "")",
                "k=\(size) s=\(stride) p=\(padding)"
            ]
            if groups > 1 { parts.append("g=\(groups)") }
            if let bias { parts.append("b=\(name(bias))") }
            if let bn = epilogue.batchNorm { parts.append("bn=\(name(bn.scale).dropLast(".weight".count))") }
            if let layerScale = epilogue.layerScale { parts.append("ls=\(name(layerScale))") }
            if epilogue.residual != nil { parts.append("+residual") }
            if epilogue.activation != .none { parts.append("+" + epilogue.activation.rawValue) }
            if let pre = epilogue.preActivation {
                parts.append(
                    "then bn=\(name(pre.batchNorm.scale).dropLast(".weight".count))" + (pre.relu ? " +relu" : ""))
            }
            return parts.joined(separator: " ")
        case .scaleShift(let bn, let activation):
            return "\(kernel.kind) bn=\(name(bn.scale).dropLast(".weight".count))" + suffix(activation, separator: " +")
        case .add(let activation): return kernel.kind + suffix(activation, separator: " +")
        case .relu, .activation: return kernel.kind
        case .layerScale(let weight): return "\(kernel.kind) w=\(name(weight))"
        case .layerNorm(let scale, _, let epsilon):
            return "\(kernel.kind) ln=\(name(scale).dropLast(".weight".count)) eps=\(epsilon)"
        case .squeezeExcite(let reduceWeight, _, let expandWeight, _, let activation):
            return "\(kernel.kind) w1=\(name(reduceWeight)) w2=\(name(expandWeight)) +\(activation.rawValue) +sigmoid"
        case .maxPool(let size, let stride, let padding): return "\(kernel.kind) k=\(size) s=\(stride) p=\(padding)"
        case .avgPool(let size, let stride, let padding): return "\(kernel.kind) k=\(size) s=\(stride) p=\(padding)"
        case .globalAvgPool: return kernel.kind
        case .linear(let weight, let bias, let activation):
            return "\(kernel.kind) w=\(name(weight))" + (bias.map { " b=\(name($0))" } ?? "")
                + suffix(activation, separator: " +")
        case .subsamplePad(let stride, let padBefore): return "\(kernel.kind) s=\(stride) pad_before=\(padBefore)"
        case .flatten: return kernel.kind + " (c, h, w) order"
        }
    }
}
