import ArgumentParser
import SharesCompiler

/// How commands that need weights get them: `--weights FILE`, or generated from `--seed`.
struct WeightOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A safetensors file with the network's weights (as written by `sharesc init`).", valueName: "file"))
    var weights: String?

    @Option(
        parsing: .unconditional,
        help: "Seed of the generated initial weights when no --weights file is given, 0 to 2^64 - 1 (default: 0).")
    var seed: UInt64?

    @Flag(
        name: .customLong("randomize-bn"),
        help:
            "Generate non-trivial normalisation weights: batchnorm scale, shift and running statistics, layernorm scale and shift, layer scales."
    )
    var randomizeBatchNorm = false

    func validate() throws {
        if weights != nil && (seed != nil || randomizeBatchNorm) {
            throw ValidationError(
                "--weights reads weights from a file; --seed and --randomize-bn only apply to generated weights")
        }
    }

    var source: WeightSource {
        if let weights { return .file(weights) }
        return .initialized(InitOptions(seed: seed ?? 0, randomizeBatchNorm: randomizeBatchNorm))
    }
}
