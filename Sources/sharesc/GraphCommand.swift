import ArgumentParser
import SharesCompiler

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the network as Graphviz DOT, with each tied weight as one node.",
        discussion: """
            Blocks are grouped by stage; each tied weight is a coloured cylinder with dashed edges to the
            blocks whose convolutions use it.
            Example:
              sharesc graph Architectures/imagenet/sharesnet-50.yaml | dot -Tsvg > sharesnet-50.svg
            """
    )

    @Argument(help: "The spec to draw.") var spec: String
    @OptionGroup var options: SpecOptions

    func run() throws {
        let compilation = try reportingDiagnostics { () throws(CompileFailure) in
            try Compiler.compile(spec, options: options.compileOptions)
        }
        printWarnings(compilation.warnings)
        emit(DOTRendering.render(compilation.graph))
    }
}
