import ArgumentParser
import Foundation
import SharesCompiler

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec: print its report, print a pipeline stage, or write an executable plan.",
        discussion: """
            Parameters are distinct trainable tensors (a tied weight counts once); "per use" counts every use,
            as a sharing-unaware tool would. MACs are multiply-accumulates of conv and linear layers per image,
            counted at every use; FLOPs = 2 x MACs.
            --emit prints a stage of the pipeline, as text or (--format json) JSON: spec (the spec after includes,
            extends, variables and --set, as YAML), graph (the lowered IR with tied parameters), fused (kernel steps
            after batchnorm, residual-add and ReLU fusion), memory (one image's activation arena), plan (every step
            with its algorithm, its split over --threads threads and its arena offsets: what `run` executes),
            report (the default; also --format markdown).
            -o writes a plan file that `sharesc run` executes without the spec (weights from --weights or --seed).
            Examples:
              sharesc compile Architectures/imagenet/sharesnet-50.yaml
              sharesc compile Architectures/cifar/sharewrn-28-10.yaml --set classes=100 --format json
              sharesc compile Architectures/imagenet/resnet-18.yaml --emit fused
              sharesc compile Architectures/imagenet/resnet-50.yaml --emit plan --threads 2 --format json
              sharesc compile Architectures/imagenet/sharesnet-50.yaml -o sharesnet-50.plan --threads 2 --seed 1
            """
    )

    @Argument(help: "The spec to compile.") var spec: String
    @OptionGroup var options: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(help: "Output format: text or json (every stage), markdown (the report); text by default.")
    var format: ReportFormat?
    @Option(
        name: .customLong("emit"),
        help: "Print a stage of the pipeline: spec, graph, fused, memory, plan or report (the default).")
    var stage: Compiler.Stage?
    @Option(name: .shortAndLong, help: "Write an executable plan to this file.") var output: String?
    @Option(help: "Threads the plan splits its steps for, with --emit plan or -o (default: the number of cores).")
    var threads: Int?

    /// Refuses every flag that what is asked for would not use: nothing is silently ignored.
    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if output != nil {
            guard stage == nil, format == nil else {
                throw ValidationError("-o writes a plan file; --emit and --format choose what to print instead")
            }
            return
        }
        if weights.weights != nil || weights.seed != nil || weights.randomizeBatchNorm {
            throw ValidationError("--weights, --seed and --randomize-bn give the weights of a plan file (-o)")
        }
        if threads != nil && stage != .plan { throw ValidationError("--threads applies to --emit plan and -o") }
        let stage = stage ?? .report, format = format ?? .text
        guard stage.formats.contains(format) else {
            throw ValidationError("--emit \(stage.rawValue) prints text or json, not \(format.rawValue)")
        }
    }

    func run() throws {
        let text = try reportingDiagnostics { () throws(CompileFailure) -> String in
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            printWarnings(compilation.warnings)
            let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
            guard let output else {
                return Compiler.emit(stage ?? .report, compilation, format: format ?? .text, threads: threads)
            }
            let provider = try weights.source.provider(for: compilation.graph)
            let (plan, warnings) = try Compiler.fitted(
                Compiler.plan(compilation, threads: threads), to: provider, source: spec)
            printWarnings(provider.notes + warnings)
            try PlanFile.write(PlanDocument(plan), weights: provider, to: output)
            return
                "\(output): \(plan.program.steps.count) steps, \(plan.program.parameters.count) distinct parameters, "
                + "\(threads) threads, arena \(plan.memory.arenaBytes) bytes per image (lower bound \(plan.memory.lowerBoundBytes))"
        }
        emit(text)
    }
}

extension Compiler.Stage: ExpressibleByArgument {}
