import ArgumentParser
import SharesCompiler

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec: print its report, print a pipeline stage, or write an executable plan.",
        discussion: """
        Parameters are distinct trainable tensors (a tied weight counts once); "per use" counts every use,
        as a sharing-unaware tool would. MACs are multiply-accumulates of conv and linear layers per image,
        counted at every use; FLOPs = 2 x MACs.
        --emit prints a stage of the pipeline: graph (the lowered IR with tied parameters), fused (kernel
        steps after batchnorm, residual-add and ReLU fusion), memory (the activation arena for --batch),
        plan (steps with kernels and arena offsets), report (the default).
        -o writes a plan file that `sharesc run` executes without the spec (weights from --weights or --seed).
        Examples:
          sharesc compile Architectures/imagenet/sharesnet-50.yaml
          sharesc compile Architectures/cifar/sharewrn-28-10.yaml --set classes=100 --format json
          sharesc compile Architectures/imagenet/resnet-18.yaml --emit fused
          sharesc compile Architectures/imagenet/sharesnet-50.yaml -o sharesnet-50.plan --batch 8 --seed 1
        """
    )

    enum Stage: String, CaseIterable, ExpressibleByArgument {
        case graph, fused, memory, plan, report
    }

    @Argument(help: "The spec to compile.") var spec: String
    @OptionGroup var options: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(help: "Report format: text, json or markdown.") var format: ReportFormat = .text
    @Option(name: .customLong("emit"), help: "Print a stage of the pipeline: graph, fused, memory, plan or report.") var stage: Stage = .report
    @Option(name: .shortAndLong, help: "Write an executable plan to this file.") var output: String?
    @Option(help: "The batch size the plan's memory is laid out for (other sizes are planned when run).") var batch: Int = 1

    func validate() throws {
        guard batch >= 1 && batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096") }
    }

    func run() throws {
        let text = try reportingDiagnostics { () throws(CompileFailure) -> String in
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            printWarnings(compilation)
            let program = ModelLoader.program(for: compilation)
            let memory = MemoryPlanner.plan(program, batch: batch)
            if let output {
                let document = PlanDocument(formatVersion: PlanDocument.formatVersion, program: program, memory: memory,
                                            inputShape: compilation.graph.inputShape,
                                            outputShape: compilation.graph[compilation.graph.output].shape)
                try PlanFile.write(document, weights: try weights.source.provider(for: compilation.graph), to: output)
                return "\(output): \(program.steps.count) steps, \(program.parameters.count) distinct parameters, "
                    + "arena \(memory.arenaBytes) bytes for batch \(batch) (lower bound \(memory.lowerBoundBytes))"
            }
            switch stage {
            case .graph: return GraphPrinter.print(compilation.graph)
            case .fused: return ProgramPrinter.fused(program)
            case .memory: return ProgramPrinter.memory(program, memory)
            case .plan: return ProgramPrinter.plan(program, memory)
            case .report: return compilation.report.rendered(as: format)
            }
        }
        emit(text)
    }
}
