import ArgumentParser
import SharesCompiler

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate specs without printing reports.",
        discussion: """
            Prints every error as path:line:column: error: message, one line per valid spec, \
            and exits with status 1 when any spec has an error (every spec is checked).

            Examples:
              sharesc check Architectures/imagenet/sharesnet-50.yaml
              sharesc check Architectures/cifar/wrn-40-4.yaml --set depth=28 --set k=10
              sharesc check Examples/*.yaml
            """
    )

    @Argument(help: "The specs to check.") var specs: [String]
    @OptionGroup var options: SpecOptions

    func validate() throws {
        if specs.isEmpty { throw ValidationError("Missing expected argument '<specs> ...'") }
    }

    func run() throws {
        var failed = false
        for spec in specs {
            do {
                let compilation = try reportingDiagnostics { () throws(CompileFailure) in
                    try Compiler.compile(spec, options: options.compileOptions)
                }
                printWarnings(compilation.warnings)
                let report = compilation.report
                emit(
                    "\(spec): ok: \(report.network), \(Format.counted(report.parameters.total, "parameter")), "
                        + Format.counted(report.ties.count, "tied weight"))
            } catch {
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
