import ArgumentParser
import SharesCompiler

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec and print its parameter and compute report.",
        discussion: """
        Parameters are distinct trainable tensors (a tied weight counts once); "per use" counts every use,
        as a sharing-unaware tool would. MACs are multiply-accumulates of conv and linear layers per image,
        counted at every use; FLOPs = 2 x MACs.
        Examples:
          sharesc compile Architectures/imagenet/sharesnet-50.yaml
          sharesc compile Architectures/cifar/sharewrn-28-10.yaml --set classes=100 --format json
          sharesc compile Architectures/imagenet/resnet-18.yaml --emit graph
        """
    )

    enum Stage: String, CaseIterable, ExpressibleByArgument {
        /// The lowered graph with tied parameters, as text.
        case graph
        /// The parameter and compute report (the default).
        case report
    }

    @Argument(help: "The spec to compile.") var spec: String
    @OptionGroup var options: SpecOptions
    @Option(help: "Report format: text, json or markdown.") var format: ReportFormat = .text
    @Option(name: .customLong("emit"), help: "Print a stage of the pipeline instead: graph or report.") var stage: Stage = .report

    func run() throws {
        let compilation = try reportingDiagnostics { () throws(CompileFailure) in try Compiler.compile(spec, options: options.compileOptions) }
        printWarnings(compilation)
        switch stage {
        case .graph: emit(GraphPrinter.print(compilation.graph))
        case .report: emit(compilation.report.rendered(as: format))
        }
    }
}
