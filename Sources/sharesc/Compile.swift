import ArgumentParser
import Foundation
import SharesCompiler

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec: print its report, print a pipeline stage, or write an executable plan.",
        discussion: """
            Parameters are the elements of the distinct trainable tensors (a tied weight counts once); "per use" \
            counts every use, as a sharing-unaware tool would. MACs are multiply-accumulates of conv and linear \
            layers per image, counted at every use; FLOPs = 2 x MACs.

            --emit prints a stage of the pipeline, as text or (--format json) JSON: spec (the spec after includes, \
            extends, variables and --set, as YAML; with --sequential, every share left out), graph (the lowered IR \
            with tied parameters), fused (kernel steps after batchnorm, residual-add and ReLU fusion), memory (one \
            image's activation arena), plan (every step with its algorithm, its split over --threads threads and \
            its arena offsets: what `run` executes), report (the default; also --format markdown).

            -o writes a plan file that `sharesc run` executes without the spec (weights from --weights or --seed).

            --per-layer adds one row per layer use, in graph order: distinct parameters (a tied weight at its first \
            use only), parameters per use, MACs, the tie it uses and its output's bytes per image; the rows sum to the \
            report's totals. --per-layer-depth 2 or 1 folds them into blocks or into the stem, stages and head.

            --batch N adds memory at N images, float32: the inference arena of one image (--emit memory) and N of \
            them, the weights; and for training, weights, gradients, SGD momentum or Adam moments, and the \
            activations saved for backward as PyTorch saves them (each saved tensor once, parameters apart).

            Examples:
              sharesc compile Architectures/imagenet/sharesnet-50.yaml
              sharesc compile Examples/2-tie-group.yaml --per-layer
              sharesc compile Architectures/imagenet/resnet-50.yaml --batch 64
              sharesc compile Architectures/cifar/sharewrn-28-10.yaml --set classes=100 \\
                --format json
              sharesc compile Architectures/imagenet/resnet-18.yaml --emit fused
              sharesc compile Architectures/imagenet/resnet-50.yaml --emit plan \\
                --threads 2 --format json
              sharesc compile Architectures/imagenet/sharesnet-50.yaml \\
                -o sharesnet-50.plan --threads 2 --seed 1
            """
    )

    @Argument(help: "The spec to compile.") var spec: String
    @OptionGroup var options: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(help: "Output format: text or json for every stage, markdown for the report (default: text).")
    var format: ReportFormat?
    @Option(
        name: .customLong("emit"),
        help: "The stage of the pipeline to print (default: report).")
    var stage: Compiler.Stage?
    @Option(name: .shortAndLong, help: "Write an executable plan to this file.") var output: String?
    @Option(
        parsing: .unconditional,
        help:
            "Threads the plan splits its steps for, with --emit plan or -o (default: one per CPU this process may use)."
    )
    var threads: Int?
    @Flag(help: "Add a table to the report: every layer use with its parameters, MACs, tie and activation bytes.")
    var perLayer = false
    @Option(
        help: ArgumentHelp(
            "With --per-layer: 3 lists every layer, 2 folds them into blocks, 1 into the stem, stages and head "
                + "(default: 3).", valueName: "depth"))
    var perLayerDepth: LayerTable.Depth?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Add memory at this batch to the report: the inference arena, and what training holds (weights, "
                + "gradients, optimizer state, activations saved for backward).", valueName: "N"))
    var batch: Int?

    /// Refuses every flag that what is asked for would not use: nothing is silently ignored.
    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if perLayerDepth != nil && !perLayer { throw ValidationError("--per-layer-depth applies to --per-layer") }
        if perLayer, output != nil { throw ValidationError("--per-layer adds a table to the report; -o writes a plan") }
        if perLayer, let stage, stage != .report {
            throw ValidationError("--per-layer adds a table to the report; --emit \(stage.rawValue) prints no report")
        }
        if let batch {
            if batch < 1 || batch > 1 << 20 { throw ValidationError("--batch must be between 1 and 1048576") }
            if output != nil { throw ValidationError("--batch adds memory to the report; -o writes a plan") }
            if let stage, stage != .report {
                throw ValidationError("--batch adds memory to the report; --emit \(stage.rawValue) prints no report")
            }
        }
        if let output {
            try refuseOtherKind(of: output, option: "-o", writes: "an executable plan", own: "plan")
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
            var compileOptions = options.compileOptions
            if perLayer { compileOptions.perLayer = perLayerDepth ?? .layers }
            compileOptions.memoryBatch = batch
            let threads = threads ?? Executor.usableCores
            guard let output else {
                let (text, warnings) = try Compiler.emit(
                    stage ?? .report, spec: spec, options: compileOptions, format: format ?? .text, threads: threads)
                printWarnings(warnings)
                return text
            }
            let lowered = try Compiler.lower(spec, options: compileOptions)
            printWarnings(lowered.warnings)
            let provider = try weights.source.provider(for: lowered.graph)
            let (plan, warnings) = try Compiler.fitted(
                Compiler.plan(lowered.graph, threads: threads), to: provider, source: spec)
            printWarnings(provider.notes + warnings)
            try PlanFile.write(PlanDocument(plan), weights: provider, to: output)
            return
                "\(outputName(output)): \(Format.counted(plan.program.steps.count, "step")), "
                + "\(Format.counted(plan.program.parameters.count, "distinct parameter tensor")), "
                + "\(Format.counted(threads, "thread")), arena \(Format.counted(plan.memory.arenaBytes, "byte")) per image "
                + "(lower bound \(Format.grouped(plan.memory.lowerBoundBytes)))"
        }
        if let output { emitSummary(text, of: output) } else { emit(text) }
    }
}

extension Compiler.Stage: ExpressibleByArgument {}
extension LayerTable.Depth: ExpressibleByArgument {}
