import ArgumentParser
import Foundation
import SharesCompiler

/// What `run` and `bench` execute: a spec (with its weights) or a plan file, on how many threads.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A spec (.yaml) or a plan written by `sharesc compile -o`.") var model: String
    @OptionGroup var spec: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(
        parsing: .unconditional,  // so that `--threads -1` is refused as out of range, not as a missing value
        help:
            "Threads that run the network (default: a plan's own, else one per CPU this process may use; at most one per usable CPU run, taking the pieces of more in turn)."
    )
    var threads: Int?

    /// The threads it runs on: as asked, a plan file's own, or one per CPU this process may use.
    var threadCount: Int { threads ?? Executor.usableCores }

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if !ModelLoader.isSpec(model)
            && (weights.weights != nil || weights.seed != nil || weights.randomizeBatchNorm || !spec.overrides.isEmpty
                || spec.sequential)
        {
            throw ValidationError(
                "a plan carries its weights and variant; --weights, --seed, --randomize-bn, --set and --sequential apply to specs"
            )
        }
    }

    /// The model, ready to run; what runs otherwise than planned is said on standard error.
    func load() throws(CompileFailure) -> LoadedModel {
        let loaded =
            ModelLoader.isSpec(model)
            ? try ModelLoader.load(
                spec: model, options: spec.compileOptions, weights: weights.source, threads: threadCount)
            : try ModelLoader.load(plan: model, threads: threads)
        printWarnings(loaded.warnings)
        return loaded
    }
}
