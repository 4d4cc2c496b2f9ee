import ArgumentParser
import SharesCompiler

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a spec without printing a report.",
        discussion: """
            Prints every error as path:line:column: error: message and exits with status 1.

            Examples:
              sharesc check Architectures/imagenet/sharesnet-50.yaml
              sharesc check Architectures/cifar/wrn-40-4.yaml --set depth=28 --set k=10
            """
    )

    @Argument(help: "The spec to check.") var spec: String
    @OptionGroup var options: SpecOptions

    func run() throws {
        let compilation = try reportingDiagnostics { () throws(CompileFailure) in
            try Compiler.compile(spec, options: options.compileOptions)
        }
        printWarnings(compilation.warnings)
        let report = compilation.report
        emit(
            "\(spec): ok: \(report.network), \(Format.counted(report.parameters.total, "parameter")), "
                + Format.counted(report.ties.count, "tied weight"))
    }
}
