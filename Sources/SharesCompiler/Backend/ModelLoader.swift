/// A network ready to run: from a spec (compiled now, weights from a file or generated) or from a plan file.
public struct LoadedModel {
    public var network: String
    public var executor: Executor
    public var inputShape: Shape
    public var outputShape: Shape
    /// Multiply-accumulates per image.
    public var macs: Int
    /// The batch the plan was compiled for (1 for a spec).
    public var plannedBatch: Int
}

public enum ModelLoader {
    /// Whether `path` names a spec (by its extension) rather than a plan.
    public static func isSpec(_ path: String) -> Bool { path.hasSuffix(".yaml") || path.hasSuffix(".yml") }

    public static func program(for compilation: Compilation) -> Program {
        Fusion.run(compilation.graph, macs: compilation.report.macs)
    }

    public static func load(spec path: String, options: CompileOptions, weights: WeightSource, threads: Int) throws(CompileFailure) -> LoadedModel {
        let compilation = try Compiler.compile(path, options: options)
        let program = program(for: compilation)
        let executor = try Executor(program: program, weights: try weights.provider(for: compilation.graph), threads: threads, source: path)
        return LoadedModel(network: compilation.graph.network, executor: executor, inputShape: compilation.graph.inputShape,
                           outputShape: compilation.graph[compilation.graph.output].shape, macs: compilation.report.macs, plannedBatch: 1)
    }

    public static func load(plan path: String, threads: Int) throws(CompileFailure) -> LoadedModel {
        let (document, reader) = try PlanFile.read(path)  // verified: its declared shapes are its program's
        let program = document.program
        let executor = try Executor(program: program, weights: reader, threads: threads, source: path)
        return LoadedModel(network: program.network, executor: executor, inputShape: program.values[program.input].shape,
                           outputShape: program.values[program.output].shape, macs: program.macs, plannedBatch: document.memory.batch)
    }
}
