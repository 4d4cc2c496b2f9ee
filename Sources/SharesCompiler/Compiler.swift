/// The one entry point the CLI, the examples and the tests use. The pipeline, in order:
/// YAML -> located spec (Spec/) -> validated -> graph with tied parameters (Lowering/) -> cost
/// analysis -> report (Reports/); and on demand, for running: fusion -> program -> algorithm
/// selection, scheduling, memory planning (Passes/) -> plan (IR/Plan.swift) -> executor (Backend/).
/// Each stage prints (`Compiler.emit`); nothing runs a pass that what is asked for does not need.
public struct CompileOptions: Sendable {
    /// Turn every tie off: the unshared counterpart of the same spec.
    public var sequential: Bool
    /// `--set name=value` overrides, as written on the command line, in order (a later one wins).
    public var overrides: [CommandLineSetting]
    public var source: SpecSource
    /// Add the per-layer table, folded to this depth, to the report (`--per-layer`).
    public var perLayer: LayerTable.Depth?
    /// Add the memory section at this batch to the report (`--batch N`): inference arena and training estimate.
    public var memoryBatch: Int?

    public init(
        sequential: Bool = false, overrides: [CommandLineSetting] = [], source: SpecSource = .disk,
        perLayer: LayerTable.Depth? = nil, memoryBatch: Int? = nil
    ) {
        self.sequential = sequential
        self.overrides = overrides
        self.source = source
        self.perLayer = perLayer
        self.memoryBatch = memoryBatch
    }
}

/// One `name=value` from the command line and the option that gave it: `--set`, or `compare`'s `--set-a`
/// or `--set-b`, which messages name as the user typed it.
public struct CommandLineSetting: Hashable, Sendable, ExpressibleByStringLiteral {
    public var text: String
    public var option: String

    public init(_ text: String, option: String = "--set") { (self.text, self.option) = (text, option) }
    public init(stringLiteral text: String) { self.init(text) }
}

public struct Compilation: Sendable {
    public var spec: Spec
    public var graph: Graph
    public var costs: [NodeCost]
    public var report: Report
    /// Non-fatal findings, such as a share that selects a single block.
    public var warnings: [Diagnostic]
}

/// The front of the pipeline: the spec loaded, validated and lowered to a verified graph. What every
/// later stage starts from; the report adds cost analysis to it, running networks fusion and planning.
public struct Lowered: Sendable {
    public var spec: Spec
    public var graph: Graph
    /// Non-fatal findings, such as a share that selects a single block.
    public var warnings: [Diagnostic]
    /// The `--set` values it was lowered with.
    public var overrides: [VariableOverride]
    /// Per node, and in all (every count fits 64 bits).
    public var costs: [NodeCost], totals: CostTotals
}

public enum Compiler {
    public static func lower(_ path: String, options: CompileOptions = .init()) throws(CompileFailure) -> Lowered {
        let overrides = try parseOverrides(options.overrides)
        let spec = try SpecLoader.load(path: path, source: options.source, overrides: overrides)
        try SpecValidator.validate(spec)
        var (graph, warnings) = try Lowering.lower(spec, warnAboutTies: !options.sequential)
        warnings = UnusedNames.warnings(in: spec) + warnings
        if options.sequential { graph = Untie.run(graph) }
        let problems = Verifier.problems(in: graph)
        guard problems.isEmpty else {
            throw CompileFailure(
                Diagnostic(at: spec.network.location, .internalError(problems.joined(separator: "; "))))
        }
        let costs = try CostAnalysis.run(graph)
        return Lowered(
            spec: spec, graph: graph, warnings: warnings, overrides: overrides, costs: costs,
            totals: try CostTotals(graph, costs: costs))
    }

    /// The front and the report (cost analysis, and the sections `options` asks for).
    public static func compile(_ path: String, options: CompileOptions = .init()) throws(CompileFailure) -> Compilation
    {
        try compile(try lower(path, options: options), options: options)
    }

    private static func compile(_ lowered: Lowered, options: CompileOptions) throws(CompileFailure) -> Compilation {
        let graph = lowered.graph, warnings = lowered.warnings, costs = lowered.costs
        var report = ReportBuilder.build(graph, costs: costs, totals: lowered.totals)
        if let depth = options.perLayer {
            report.perLayer = try LayerTableBuilder.build(graph, costs: costs, depth: depth)
        }
        if let batch = options.memoryBatch {
            let arena = MemoryPlanner.plan(program(graph), batch: 1).arenaBytes
            report.memory = try MemoryReportBuilder.build(graph, report: report, arena: arena, batch: batch)
        }
        // Each name once, with the value that holds (the last: a compare side's --set-a after --set).
        let settings = lowered.overrides.enumerated().filter { index, override in
            !lowered.overrides[(index + 1)...].contains { $0.name == override.name }
        }
        report.overrides = settings.map(\.element.setting)
        report.warnings = warnings.map { warning in
            Report.Warning(
                location: warning.location, message: warning.message,
                notes: warning.notes.map { Report.Warning.Note(location: $0.location, message: $0.message) })
        }
        return Compilation(spec: lowered.spec, graph: graph, costs: costs, report: report, warnings: warnings)
    }

    private static func parseOverrides(_ arguments: [CommandLineSetting]) throws(CompileFailure) -> [VariableOverride] {
        var sink = DiagnosticSink()
        let overrides = arguments.compactMap { argument in
            sink.recover { () throws(CompileFailure) in
                try VariableOverride(parsing: argument.text, option: argument.option)
            }
        }
        try sink.check()
        return overrides
    }

    /// Fusion: the graph as kernel steps over activation values.
    public static func program(_ graph: Graph) -> Program { Fusion.run(graph) }
    public static func program(_ compilation: Compilation) -> Program { program(compilation.graph) }

    /// Everything the executor acts on, for `threads` threads: how each step runs and where each value lives.
    public static func plan(_ graph: Graph, threads: Int) -> Plan { plan(program(graph), threads: threads) }
    public static func plan(_ compilation: Compilation, threads: Int) -> Plan {
        plan(compilation.graph, threads: threads)
    }

    public static func plan(_ program: Program, threads: Int) -> Plan {
        let algorithms = AlgorithmSelection.run(program)
        return Plan(
            program: program, schedule: Scheduling.run(program, algorithms: algorithms, threads: threads),
            memory: MemoryPlanner.plan(program, batch: 1))
    }

    /// The plan for another number of threads: each step's algorithm kept, its split made again.
    public static func rescheduled(_ plan: Plan, threads: Int) -> Plan {
        var plan = plan
        plan.schedule = Scheduling.run(plan.program, algorithms: plan.schedule.steps.map(\.algorithm), threads: threads)
        return plan
    }

    /// The plan once its weights are known: a convolution planned for Winograd whose weight holds NaN or
    /// an infinity runs by the indirect GEMM instead (the transforms would spread them to outputs that a
    /// direct convolution, PyTorch's, keeps finite). Says which, as warnings.
    public static func fitted(_ plan: Plan, to weights: some WeightProvider, source: String) throws(CompileFailure)
        -> (Plan, [Diagnostic])
    {
        var plan = plan
        var finite: [Int: Bool] = [:], redirected: [Int: [String]] = [:]
        for (index, step) in plan.program.steps.enumerated()
        where plan.schedule.steps[index].algorithm.winogradTile != nil {
            guard case .conv(let weight, _, _, _, _, _, _) = step.kernel else { continue }
            if finite[weight] == nil { finite[weight] = try weights.values(of: weight).allSatisfy(\.isFinite) }
            guard finite[weight] == false else { continue }
            plan.schedule.steps[index] = Scheduling.schedule(
                plan.program, step: index, algorithm: .igemm,
                threads: plan.schedule.threads)
            redirected[weight, default: []].append(step.name)
        }
        // One warning per tensor (a tied one has many steps), at the file that holds it.
        let warnings = redirected.keys.sorted().map { weight in
            Diagnostic(
                .warning, at: Location(file: weights.file ?? source, line: 1, column: 1),
                .nonFiniteWeight(parameter: plan.program.parameters[weight].name, steps: redirected[weight]!))
        }
        return (plan, warnings)
    }

    /// A stage of the pipeline as text or JSON (`--emit`), with the compilation's warnings: `spec` as YAML
    /// or JSON, the report in any format. Runs only the stages `stage` needs (no report for a plan).
    public static func emit(
        _ stage: Stage, spec path: String, options: CompileOptions, format: ReportFormat,
        threads: Int
    ) throws(CompileFailure) -> (text: String, warnings: [Diagnostic]) {
        let lowered = try lower(path, options: options), json = format == .json
        let text: String
        switch stage {
        case .spec:
            let sequential = options.sequential
            text =
                json
                ? SpecPrinter.json(lowered.spec, sequential: sequential)
                : SpecPrinter.yaml(lowered.spec, sequential: sequential)
        case .graph: text = json ? GraphPrinter.json(lowered.graph) : GraphPrinter.print(lowered.graph)
        case .fused:
            let program = program(lowered.graph)
            text = json ? JSONRendering.render(program) : ProgramPrinter.fused(program)
        case .memory:
            let program = program(lowered.graph), memory = MemoryPlanner.plan(program, batch: 1)
            text = json ? JSONRendering.render(memory) : ProgramPrinter.memory(program, memory)
        case .plan:
            let plan = plan(lowered.graph, threads: threads)
            text = json ? ProgramPrinter.planJSON(plan) : ProgramPrinter.plan(plan)
        case .report: text = try compile(lowered, options: options).report.rendered(as: format)
        }
        return (text, lowered.warnings)
    }

    /// The stages `--emit` prints, in pipeline order.
    public enum Stage: String, CaseIterable, Sendable {
        case spec, graph, fused, memory, plan, report

        /// The formats the stage prints in: all three for the report, text and JSON for the rest.
        public var formats: [ReportFormat] { self == .report ? ReportFormat.allCases : [.text, .json] }
    }
}
