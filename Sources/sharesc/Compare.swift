import ArgumentParser
import SharesCompiler

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a spec with its sequential variant, or two specs side by side.",
        discussion: """
            With one spec, A is the spec as written and B its sequential (unshared) variant.

            With two, A and B are the two specs (--set and --sequential apply to both).

            --set-a and --set-b set a variable on one side only, after --set: two
            settings of one spec side by side.

            Differences are B - A, percentages relative to A.

            Examples:
              sharesc compare Architectures/imagenet/sharesnet-50.yaml
              sharesc compare Architectures/imagenet/sharesnet-152.yaml \\
                Architectures/imagenet/sharesnet-152-all.yaml
              sharesc compare Architectures/cifar/sharewrn-40-4.yaml --format markdown
              sharesc compare Architectures/cifar/resnet-164.yaml \\
                Architectures/cifar/resnet-164.yaml --set-b depth=110
            """
    )

    @Argument(help: "Spec A.") var a: String
    @Argument(help: "Spec B (default: A's sequential variant).") var b: String?
    @OptionGroup var options: SpecOptions
    @Option(
        name: .customLong("set-a"),
        help: ArgumentHelp("Override a variable of spec A only, after --set (repeatable).", valueName: "name=value"))
    var overridesA: [String] = []
    @Option(
        name: .customLong("set-b"),
        help: ArgumentHelp("Override a variable of spec B only, after --set (repeatable).", valueName: "name=value"))
    var overridesB: [String] = []
    @Option(help: "Output format.") var format: ReportFormat = .text

    func validate() throws {
        try SpecOptions.validate(overridesA, option: "--set-a")
        try SpecOptions.validate(overridesB, option: "--set-b")
        if b == nil && options.sequential {
            throw ValidationError(
                "--sequential needs two specs; with one spec, compare already sets it against its sequential variant")
        }
    }

    func run() throws {
        let (left, right) = try reportingDiagnostics { () throws(CompileFailure) in
            var leftOptions = options.compileOptions, rightOptions = options.compileOptions
            leftOptions.overrides += overridesA.map { CommandLineSetting($0, option: "--set-a") }
            rightOptions.overrides += overridesB.map { CommandLineSetting($0, option: "--set-b") }
            let left = Result { () throws(CompileFailure) in try Compiler.compile(a, options: leftOptions) }
            if b == nil { rightOptions.sequential = true }
            let right = Result { () throws(CompileFailure) in try Compiler.compile(b ?? a, options: rightOptions) }
            switch (left, right) {
            case (.success(let left), .success(let right)): return (left, right)
            case (.failure(let left), .failure(let right)):
                // Both sides' errors, each once: one spec compiled twice fails the same way twice.
                var seen = Set(left.diagnostics)
                throw CompileFailure(left.diagnostics + right.diagnostics.filter { seen.insert($0).inserted })
            case (.failure(let failure), .success), (.success, .failure(let failure)): throw failure
            }
        }
        printWarnings(left.warnings + (b == nil ? [] : right.warnings))
        emit(Comparison(left.report, right.report).rendered(as: format))
    }
}
