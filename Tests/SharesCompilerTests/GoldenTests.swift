import Testing

@testable import SharesCompiler

/// Printed stages and reports against files in Golden/. Re-record with SHARESC_RECORD_GOLDEN=1 swift test.
struct GoldenTests {
    @Test(arguments: ReportFormat.allCases)
    func sharesnet50Report(_ format: ReportFormat) throws {
        let report = try compileShipped("imagenet/sharesnet-50.yaml").report
        let suffix = ["text": "txt", "json": "json", "markdown": "md"][format.rawValue]!
        try expectGolden(report.rendered(as: format), "sharesnet-50.report.\(suffix)")
    }

    @Test(arguments: ReportFormat.allCases)
    func sharesnet164Comparison(_ format: ReportFormat) throws {
        let shared = try compileShipped("cifar/sharesnet-164.yaml").report
        let sequential = try compileShipped("cifar/sharesnet-164.yaml", sequential: true).report
        let suffix = ["text": "txt", "json": "json", "markdown": "md"][format.rawValue]!
        try expectGolden(Comparison(shared, sequential).rendered(as: format), "sharesnet-164.compare.\(suffix)")
    }

    @Test func tieGroupGraph() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource))
        try expectGolden(GraphPrinter.print(compilation.graph), "2-tie-group.graph.txt")
        try expectGolden(DOTRendering.render(compilation.graph), "2-tie-group.dot")
        try expectGolden(DOTRendering.render(compilation.graph, detail: .expanded), "2-tie-group.expanded.dot")
    }

    @Test func tieGroupGraphSequential() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(sequential: true, source: repositorySource))
        try expectGolden(GraphPrinter.print(compilation.graph), "2-tie-group.sequential.graph.txt")
    }

    /// The report with its per-layer table: every layer as text and as Markdown, then folded into blocks
    /// (text) and into sections (JSON).
    @Test(arguments: [
        (LayerTable.Depth.layers, ReportFormat.text, "2-tie-group.per-layer.txt"),
        (.layers, .markdown, "2-tie-group.per-layer.md"),
        (.blocks, .text, "2-tie-group.per-block.txt"),
        (.stages, .json, "2-tie-group.per-stage.json")
    ])
    func tieGroupPerLayer(_ depth: LayerTable.Depth, _ format: ReportFormat, _ golden: String) throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource, perLayer: depth))
        try expectGolden(compilation.report.rendered(as: format), golden)
    }

    /// A modern family with whole blocks shared: squeeze-and-excitation, stochastic depth and tied
    /// depthwise and pointwise convolutions in the report, folded into blocks.
    @Test func sharedEfficientNetPerBlock() throws {
        let compilation = try Compiler.compile(
            "Architectures/imagenet/shared-efficientnet-b0-all.yaml",
            options: CompileOptions(source: repositorySource, perLayer: .blocks))
        try expectGolden(compilation.report.rendered(as: .text), "shared-efficientnet-b0-all.per-block.txt")
    }

    /// The memory section at batch 32 (`compile --batch 32`), as text.
    @Test func tieGroupMemory() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource, memoryBatch: 32))
        try expectGolden(compilation.report.rendered(as: .text), "2-tie-group.batch-32.txt")
    }

    @Test func deliberateErrorMessage() throws {
        var message = ""
        do {
            _ = try Compiler.compile(
                "Examples/3-deliberate-error.yaml", options: CompileOptions(source: repositorySource))
        } catch { message = error.description + "\n" }
        try expectGolden(message, "3-deliberate-error.txt")
    }
}
