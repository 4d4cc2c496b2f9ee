import ArgumentParser
import SharesCompiler

/// Options every command that reads a spec takes.
struct SpecOptions: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a spec variable, e.g. --set classes=100 (repeatable).", valueName: "name=value"))
    var overrides: [String] = []

    @Flag(help: "Turn every tie off: the unshared (sequential) variant of the spec.")
    var sequential = false

    func validate() throws { try Self.validate(overrides, option: "--set") }

    static func validate(_ overrides: [String], option: String) throws {
        for override in overrides where !override.contains("=") || override.hasPrefix("=") {
            throw ValidationError("\(option) expects name=value, for example \(option) classes=100; got '\(override)'")
        }
    }

    var compileOptions: CompileOptions {
        CompileOptions(sequential: sequential, overrides: overrides.map { CommandLineSetting($0) })
    }
}

extension ReportFormat: ExpressibleByArgument {}

/// Runs `body`; prints diagnostics to standard error (and nothing to standard output) on failure.
func reportingDiagnostics<T>(_ body: () throws(CompileFailure) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}

/// Each warning once (`compare A A` compiles one spec twice).
func printWarnings(_ warnings: [Diagnostic]) {
    var printed: Set<Diagnostic> = []
    for warning in warnings where printed.insert(warning).inserted { printError(warning.rendered) }
}
