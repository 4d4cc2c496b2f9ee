import ArgumentParser
import Foundation
import SharesCompiler

/// What `run` and `bench` execute: a spec (with its weights) or a plan file, on how many threads.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A spec (.yaml) or a plan written by `sharesc compile -o`.") var model: String
    @OptionGroup var spec: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(help: "Threads that split the work inside each operation (default: the number of cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        if !ModelLoader.isSpec(model) && (weights.weights != nil || weights.seed != nil || !spec.overrides.isEmpty || spec.sequential) {
            throw ValidationError("a plan carries its weights and variant; --weights, --seed, --set and --sequential apply to specs")
        }
    }

    func load() throws(CompileFailure) -> LoadedModel {
        ModelLoader.isSpec(model)
            ? try ModelLoader.load(spec: model, options: spec.compileOptions, weights: weights.source, threads: threads)
            : try ModelLoader.load(plan: model, threads: threads)
    }
}
