/// Text forms of the backend's stages: `--emit fused` (the program), `--emit memory` (the arena) and
/// `--emit plan` (steps with kernels and arena offsets). Stable, for golden tests.
public enum ProgramPrinter {
    public static func fused(_ program: Program) -> String {
        var lines = ["program \"\(program.network)\" \(program.variant.rawValue): \(program.steps.count) steps, \(program.values.count) values"]
        lines.append("  %\(program.input) = input : \(program.values[program.input].shape)")
        for step in program.steps {
            let inputs = step.inputs.map { "%\($0)" }.joined(separator: ", ")
            let outputs = step.outputs.map { "%\($0)" }.joined(separator: ", ")
            lines.append("  \(outputs) = \(describe(step.kernel, program)) \(inputs) : \(program.values[step.output].shape)  # \(step.name)")
        }
        lines.append("  return %\(program.output)")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func memory(_ program: Program, _ plan: MemoryPlan) -> String {
        let lines = ["memory for batch \(plan.batch): arena \(plan.arenaBytes) bytes, lower bound \(plan.lowerBoundBytes) bytes"
            + " (\(Format.fixed(Double(plan.arenaBytes) / Double(max(plan.lowerBoundBytes, 1)), decimals: 3))x), \(plan.buffers.count) buffers"]
        var table = Table([("buffer", .left), ("offset", .right), ("bytes", .right), ("live", .left), ("values", .left)])
        for (index, buffer) in plan.buffers.enumerated() {
            let live = "\(buffer.firstStep < 0 ? "in" : String(buffer.firstStep))..\(buffer.lastStep >= program.steps.count ? "out" : String(buffer.lastStep))"
            table.add(["b\(index)", String(buffer.offset), String(buffer.bytes), live,
                       buffer.values.map { "%\($0) \(program.values[$0].name)" }.joined(separator: ", ")])
        }
        return lines.joined(separator: "\n") + "\n" + table.text()
    }

    public static func plan(_ program: Program, _ plan: MemoryPlan) -> String {
        var lines = ["plan \"\(program.network)\" \(program.variant.rawValue), batch \(plan.batch), arena \(plan.arenaBytes) bytes"
            + " (lower bound \(plan.lowerBoundBytes)), \(program.parameters.count) distinct parameters"]
        for parameter in program.parameters where parameter.uses > 1 {
            lines.append("  weight \(parameter.name) \(parameter.shape.map(String.init).joined(separator: "x")) stored once, read by \(parameter.uses) steps")
        }
        for (index, step) in program.steps.enumerated() {
            let inputs = step.inputs.map { "@\(plan.offset(ofValue: $0))" }.joined(separator: ", ")
            let outputs = step.outputs.map { "@\(plan.offset(ofValue: $0))" }.joined(separator: ", ")
            lines.append("  \(index): \(kernelChoice(step.kernel, program, step)) \(inputs) -> \(outputs)  # \(step.name)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The kernel the executor runs for a step.
    static func kernelChoice(_ kernel: Program.Kernel, _ program: Program, _ step: Program.Step) -> String {
        switch kernel {
        case .conv(_, _, let size, let stride, _, let groups, let epilogue):
            let form = size == 1 && stride == 1 ? "gemm-1x1" : "igemm-\(size)x\(size)/\(stride)"
            return "conv.\(form)\(groups > 1 ? ".g\(groups)" : "")\(epilogueSuffix(epilogue))"
        case .scaleShift(_, let relu): return "scale_shift" + (relu ? "+relu" : "")
        case .add(let relu): return kernel.kind + (relu ? "+relu" : "")
        case .relu: return kernel.kind
        case .maxPool: return "max_pool"
        case .avgPool: return "avg_pool"
        case .globalAvgPool: return kernel.kind
        case .linear: return "linear"
        case .subsamplePad: return "subsample_pad"
        case .flatten: return kernel.kind
        }
    }

    static func epilogueSuffix(_ epilogue: Program.Epilogue) -> String {
        (epilogue.batchNorm == nil ? "" : "+bn") + (epilogue.residual == nil ? "" : "+add") + (epilogue.relu ? "+relu" : "")
            + (epilogue.preActivation.map { "+then-bn" + ($0.relu ? "+relu" : "") } ?? "")
    }

    static func describe(_ kernel: Program.Kernel, _ program: Program) -> String {
        func name(_ index: Int) -> String { program.parameters[index].name }
        switch kernel {
        case .conv(let weight, let bias, let size, let stride, let padding, let groups, let epilogue):
            var parts = ["\(kernel.kind) w=\(name(weight))\(program.parameters[weight].uses > 1 ? " (tied x\(program.parameters[weight].uses))" : "")",
                         "k=\(size) s=\(stride) p=\(padding)"]
            if groups > 1 { parts.append("g=\(groups)") }
            if let bias { parts.append("b=\(name(bias))") }
            if let bn = epilogue.batchNorm { parts.append("bn=\(name(bn.scale).dropLast(".weight".count))") }
            if epilogue.residual != nil { parts.append("+residual") }
            if epilogue.relu { parts.append("+relu") }
            if let pre = epilogue.preActivation {
                parts.append("then bn=\(name(pre.batchNorm.scale).dropLast(".weight".count))" + (pre.relu ? " +relu" : ""))
            }
            return parts.joined(separator: " ")
        case .scaleShift(let bn, let relu): return "\(kernel.kind) bn=\(name(bn.scale).dropLast(".weight".count))" + (relu ? " +relu" : "")
        case .add(let relu): return kernel.kind + (relu ? " +relu" : "")
        case .relu: return kernel.kind
        case .maxPool(let size, let stride, let padding): return "\(kernel.kind) k=\(size) s=\(stride) p=\(padding)"
        case .avgPool(let size, let stride, let padding): return "\(kernel.kind) k=\(size) s=\(stride) p=\(padding)"
        case .globalAvgPool: return kernel.kind
        case .linear(let weight, let bias, _): return "\(kernel.kind) w=\(name(weight))" + (bias.map { " b=\(name($0))" } ?? "")
        case .subsamplePad(let stride, let padBefore): return "\(kernel.kind) s=\(stride) pad_before=\(padBefore)"
        case .flatten: return kernel.kind + " (c, h, w) order"
        }
    }
}
