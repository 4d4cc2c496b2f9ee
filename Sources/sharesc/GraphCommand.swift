import ArgumentParser
import Foundation
import SharesCompiler

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the network as Graphviz DOT (or SVG/PNG through Graphviz), each tied weight one node.",
        discussion: """
            Blocks are grouped by stage, and consecutive blocks that are alike layer for layer are drawn as one \
            node with their count ("block2..block18 x17"); --expand draws every block. Each tied weight is a \
            coloured cylinder naming the layers that use it, with dashed edges to their blocks. --block draws \
            the inside of one block: a template's name (its first, fullest block) or one block (stage2.block1).

            -o writes the DOT (.dot) or renders it with Graphviz's dot (.svg, .png), which must be installed.

            Examples:
              sharesc graph Architectures/cifar/sharesnet-164.yaml -o sharesnet-164.svg
              sharesc graph Architectures/imagenet/sharesnet-50.yaml --expand \\
                | dot -Tpng > sharesnet-50.png
              sharesc graph Architectures/imagenet/sharesnet-50.yaml --block bottleneck \\
                -o bottleneck.svg
            """
    )

    @Argument(help: "The spec to draw.") var spec: String
    @OptionGroup var options: SpecOptions
    @Flag(help: "Draw every block, not one node per run of identical blocks.") var expand = false
    @Option(help: "Draw the inside of one block: a block template's name, or one block such as stage2.block1.")
    var block: String?
    @Option(name: .shortAndLong, help: "Write the picture to this file: .dot, or .svg or .png (needs Graphviz).")
    var output: String?

    func validate() throws {
        if expand && block != nil { throw ValidationError("--expand draws the whole network; --block draws one block") }
        // Usage, as export's: an output whose name says no format is refused before anything is read.
        if let output {
            do { _ = try DOTRendering.FileFormat(path: output) } catch {
                throw ValidationError(error.diagnostics.map(\.message).joined(separator: "; "))
            }
        }
    }

    func run() throws {
        let text = try reportingDiagnostics { () throws(CompileFailure) -> String in
            let format = try output.map { path throws(CompileFailure) in try DOTRendering.FileFormat(path: path) }
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            printWarnings(compilation.warnings)
            let graph = compilation.graph, overrides = compilation.report.overrides
            let dot =
                try block.map { name throws(CompileFailure) in
                    try DOTRendering.renderBlock(graph, named: name, overrides: overrides)
                } ?? DOTRendering.render(graph, detail: expand ? .expanded : .collapsed, overrides: overrides)
            guard let output, let format else { return dot }
            if format == .dot {
                try write(dot, to: output)
            } else {
                try Graphviz.render(dot, format: format, to: output)
            }
            let what = block.map { "block \($0)" } ?? (expand ? "every block" : "identical blocks collapsed")
            return "\(outputName(output)): \(Report.label(graph, overrides: overrides)), \(what)"
        }
        if let output { emitSummary(text, of: output) } else { emit(text) }
    }

    private func write(_ text: String, to path: String) throws(CompileFailure) {
        try OutputFile.write(Array(text.utf8), to: path)
    }
}
