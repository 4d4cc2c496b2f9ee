/// The one entry point the CLI, the examples and the tests use. The pipeline, in order:
/// YAML -> located spec (Spec/) -> validated -> graph with tied parameters (Lowering/)
/// -> passes (Passes/) -> report (Reports/).
public struct CompileOptions: Sendable {
    /// Turn every tie off: the unshared counterpart of the same spec.
    public var sequential: Bool
    /// `--set name=value` overrides, as written on the command line.
    public var overrides: [String]
    public var source: SpecSource

    public init(sequential: Bool = false, overrides: [String] = [], source: SpecSource = .disk) {
        self.sequential = sequential
        self.overrides = overrides
        self.source = source
    }
}

public struct Compilation: Sendable {
    public var spec: Spec
    public var graph: Graph
    public var costs: [NodeCost]
    public var report: Report
    /// Non-fatal findings, such as a share that selects a single block.
    public var warnings: [Diagnostic]
}

public enum Compiler {
    public static func compile(_ path: String, options: CompileOptions = .init()) throws(CompileFailure) -> Compilation {
        let overrides = try parseOverrides(options.overrides)
        let spec = try SpecLoader.load(path: path, source: options.source, overrides: overrides)
        try SpecValidator.validate(spec)
        var (graph, warnings) = try Lowering.lower(spec, warnAboutTies: !options.sequential)
        if options.sequential { graph = Untie.run(graph) }
        let problems = Verifier.problems(in: graph)
        guard problems.isEmpty else {
            throw CompileFailure(Diagnostic(at: spec.network.location, .internalError(problems.joined(separator: "; "))))
        }
        let costs = try CostAnalysis.run(graph)
        let report = try ReportBuilder.build(graph, costs: costs)
        return Compilation(spec: spec, graph: graph, costs: costs, report: report, warnings: warnings)
    }

    private static func parseOverrides(_ arguments: [String]) throws(CompileFailure) -> [VariableOverride] {
        var sink = DiagnosticSink()
        let overrides = arguments.compactMap { argument in
            sink.recover { () throws(CompileFailure) in try VariableOverride(parsing: argument) }
        }
        try sink.check()
        return overrides
    }
}
