import ArgumentParser
import SharesCompiler

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write deterministic initial weights as a safetensors file.",
        discussion: """
            One tensor per distinct parameter: a tied weight is stored once (e.g. stage3.shared.conv2.weight), \
            and __metadata__ lists the layers that use it. Conv weights are He-normal (fan-out), batchnorm \
            gamma 1 / beta 0 / mean 0 / variance 1, linear layers as PyTorch initialises them.

            Examples:
              sharesc init Architectures/imagenet/sharesnet-50.yaml \\
                -o sharesnet-50.safetensors
              sharesc init Architectures/cifar/sharesnet-164.yaml -o w.safetensors \\
                --seed 7 --randomize-bn
            """
    )

    @Argument(help: "The spec whose parameters to initialise.") var spec: String
    @OptionGroup var options: SpecOptions
    @Option(name: .shortAndLong, help: "The safetensors file to write.") var output: String
    @Option(parsing: .unconditional, help: "Seed of the generated weights, 0 to 2^64 - 1.") var seed: UInt64 = 0
    @Flag(
        name: .customLong("randomize-bn"),
        help:
            "Non-trivial normalisation weights: batchnorm scale, shift and running statistics, layernorm scale and shift, layer scales."
    )
    var randomizeBatchNorm = false

    func validate() throws {
        try refuseOtherKind(of: output, option: "-o", writes: "a weights file", own: "safetensors")
    }

    func run() throws {
        let summary = try reportingDiagnostics { () throws(CompileFailure) in
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            printWarnings(compilation.warnings)
            let weights = try WeightSource.initialized(InitOptions(seed: seed, randomizeBatchNorm: randomizeBatchNorm))
                .provider(for: compilation.graph)
            try WeightFile.write(compilation.graph, weights, to: output, seed: seed)
            return
                "\(outputName(output)): \(Format.counted(compilation.graph.parameters.count, "tensor")), "
                + "\(Format.counted(compilation.report.parameters.total, "parameter")) + "
                + "\(Format.counted(compilation.report.parameters.buffers, "buffer")), \(compilation.graph.ties.count) tied"
        }
        emitSummary(summary, of: output)
    }
}
