/// A network ready to run: from a spec (compiled now, weights from a file or generated) or from a plan file.
public struct LoadedModel {
    public var network: String
    public var executor: Executor
    public var inputShape: Shape
    public var outputShape: Shape
    /// Multiply-accumulates per image.
    public var macs: Int
    /// What the weights file adapted from a PyTorch checkpoint, and steps that run otherwise than planned.
    public var warnings: [Diagnostic]
}

public enum ModelLoader {
    /// Whether `run` and `bench` read `path` as a spec rather than a plan: by its first bytes (a plan is
    /// a safetensors file, which YAML never begins like), else by its name (.plan is a plan, so that a
    /// damaged one gets the plan reader's errors). A plan named .yaml was read as a spec, and refused.
    public static func isSpec(_ path: String) -> Bool {
        !InputFiles.startsLikeSafetensors(path: path) && !path.hasSuffix(".plan")
    }

    public static func load(
        spec path: String, options: CompileOptions, weights: WeightSource,
        threads: Int
    ) throws(CompileFailure) -> LoadedModel {
        let lowered = try Compiler.lower(path, options: options)
        let provider = try weights.provider(for: lowered.graph)
        let (executor, warnings) = try executor(
            Compiler.program(lowered.graph), weights: provider, threads: threads, source: path,
            locations: locations(in: lowered.graph))
        return LoadedModel(executor: executor, warnings: lowered.warnings + provider.notes + warnings)
    }

    /// Each layer's place in the spec (the last one's also as `logits`, the program's name for its
    /// output), and each parameter's at its first use, by name.
    static func locations(in graph: Graph) -> [String: Location] {
        var locations: [String: Location] = ["logits": graph[graph.output].location]
        for node in graph.nodes {
            locations[node.name] = node.location
            for parameter in node.op.parameters where locations[graph[parameter].name] == nil {
                locations[graph[parameter].name] = node.location
            }
        }
        return locations
    }

    /// The rest of the pipeline for a fused program whose weights are at hand: planned for `threads`,
    /// fitted to the weights, loaded.
    public static func executor(
        _ program: Program, weights: some WeightProvider, threads: Int,
        source: String = "<program>", locations: [String: Location] = [:]
    ) throws(CompileFailure) -> (Executor, [Diagnostic]) {
        let (plan, warnings) = try Compiler.fitted(
            Compiler.plan(program, threads: threads), to: weights, source: source)
        return (try Executor(plan: plan, weights: weights, source: source, locations: locations), warnings)
    }

    /// A plan file, run as it says; with `threads`, its steps are split for that many threads instead.
    public static func load(plan path: String, threads: Int?) throws(CompileFailure) -> LoadedModel {
        let (document, reader) = try PlanFile.read(path)  // verified against its program
        var plan = document.plan
        if let threads, threads != plan.schedule.threads { plan = Compiler.rescheduled(plan, threads: threads) }
        let (fitted, warnings) = try Compiler.fitted(plan, to: reader, source: path)
        return LoadedModel(
            executor: try Executor(plan: fitted, weights: reader, source: path), warnings: reader.notes + warnings)
    }
}

extension LoadedModel {
    init(executor: Executor, warnings: [Diagnostic]) {
        let program = executor.program
        self.init(
            network: program.network, executor: executor, inputShape: program.values[program.input].shape,
            outputShape: program.values[program.output].shape, macs: program.macs, warnings: warnings)
    }
}
