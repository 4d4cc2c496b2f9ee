import ArgumentParser
import Foundation
import SharesCompiler

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a network on the CPU: median, min and max ms per batch, GFLOP/s, memory.",
        discussion: """
            Runs --warmup untimed batches, then --runs timed ones. GFLOP/s = 2 x MACs x batch / time.

            Peak resident memory is the whole process's (weights, arena, workspace, code).

            Examples:
              sharesc bench Architectures/imagenet/resnet-50.yaml --threads 1
              sharesc bench Architectures/cifar/sharesnet-164.yaml --batch 8 --threads 2 \\
                --format json
            """
    )

    @OptionGroup var model: ModelOptions
    // (Parsed unconditionally: a negative number is refused as out of range, not as a missing value.)
    @Option(parsing: .unconditional, help: "Images per batch.") var batch: Int = 1
    @Option(parsing: .unconditional, help: "Timed runs.") var runs: Int = 20
    @Option(parsing: .unconditional, help: "Untimed warm-up runs.") var warmup: Int = 3
    @Option(help: "Output format.") var format: OutputFormat = .text
    @Flag(help: "Also time every step: the slowest listed (text), or every one in order (json).") var profile = false
    @Option(
        parsing: .unconditional,
        help: "With --profile: how many of the slowest steps to list (0: all; default \(Self.listedSteps)).")
    var profileSteps: Int?
    static let listedSteps = 25

    /// Timings have no Markdown form, so the report's formats are not all bench's.
    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    struct Result: Encodable {
        var network: String
        var batch: Int
        var threads: Int
        /// The plan's threads; `threads` ran, fewer where the process has fewer usable CPUs.
        var plannedThreads: Int
        var runs: Int
        var medianMs: Double
        var minMs: Double
        var maxMs: Double
        var imagesPerSecond: Double
        var gflops: Double
        var macs: Int
        var arenaBytes: Int
        var arenaLowerBoundBytes: Int
        /// The weights as the kernels hold them: packed convolutions (a tied weight once), linear layers and
        /// each use's batchnorm scale and shift. Not the report's `weight_bytes`, its distinct parameters.
        var packedWeightBytes: Int
        var workspaceBytes: Int
        var peakRssBytes: Int
        var kernelLevel: String
        /// With --profile: every step, in plan order.
        var steps: [ProfiledStep]?

        enum CodingKeys: String, CodingKey {
            case network, batch, threads, runs, macs, steps
            case plannedThreads = "planned_threads"
            case medianMs = "median_ms", minMs = "min_ms", maxMs = "max_ms", imagesPerSecond = "images_per_second",
                gflops
            case arenaBytes = "arena_bytes", arenaLowerBoundBytes = "arena_lower_bound_bytes"
            case packedWeightBytes = "packed_weight_bytes"
            case workspaceBytes = "workspace_bytes", peakRssBytes = "peak_rss_bytes", kernelLevel = "kernel_level"
        }
    }

    /// One step's time, named as `compile --emit plan` names it.
    struct ProfiledStep: Encodable {
        var step: ProgramPrinter.PlannedStep
        var ms: Double
        var percent: Double

        enum CodingKeys: String, CodingKey { case index, name, kernel, algorithm, split, pieces, ms, percent, gflops }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(step.index, forKey: .index)
            try container.encode(step.name, forKey: .name)
            try container.encode(step.kernel, forKey: .kernel)
            try container.encode(step.algorithm, forKey: .algorithm)
            try container.encode(step.split, forKey: .split)
            try container.encode(step.pieces, forKey: .pieces)
            try container.encode(ms, forKey: .ms)
            try container.encode(percent, forKey: .percent)
            if step.macs > 0 { try container.encode(2 * Double(step.macs) / (ms * 1e6), forKey: .gflops) }
        }
    }

    func validate() throws {
        for (name, value, range) in [
            ("--batch", batch, 1...4096), ("--runs", runs, 1...1_000_000), ("--warmup", warmup, 0...1_000_000),
            ("--profile-steps", profileSteps ?? 0, 0...1_000_000)
        ] where !range.contains(value) {
            throw ValidationError("\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        if profileSteps != nil && !profile { throw ValidationError("--profile-steps lists the steps --profile times") }
    }

    func run() throws {
        let (loaded, input) = try reportingDiagnostics { () throws(CompileFailure) in
            let loaded = try model.load()
            return (loaded, try loaded.executor.randomInput(batch: batch, seed: 0))
        }
        let memory = loaded.executor.prepare(batch: batch)
        for _ in 0..<warmup { _ = loaded.executor.run(input, batch: batch) }
        var times: [Double] = [], outputs: [Float] = []
        for _ in 0..<runs {
            let start = monotonicSeconds()
            outputs = loaded.executor.run(input, batch: batch)
            times.append((monotonicSeconds() - start) * 1000)
        }
        if let warning = NonFiniteOutputs(outputs, images: batch).warning { printError(warning) }
        // Profiling runs separately, so that its clock reads do not touch the figures above.
        // Each step's fastest of the profiled runs: on a shared machine a step's minimum is the figure that
        // repeats from one invocation to the next.
        var stepSeconds = [Double](repeating: profile ? .infinity : 0, count: loaded.executor.program.steps.count)
        if profile {
            for _ in 0..<runs {
                var once = [Double](repeating: 0, count: stepSeconds.count)
                once.withUnsafeMutableBufferPointer { _ = loaded.executor.run(input, batch: batch, stepSeconds: $0) }
                for index in stepSeconds.indices { stepSeconds[index] = min(stepSeconds[index], once[index]) }
            }
        }
        times.sort()
        let median =
            times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let executor = loaded.executor, threads = executor.threads
        let total = stepSeconds.reduce(0, +)
        let profiled = ProgramPrinter.steps(of: executor.plan).map { step in
            var step = step
            step.macs *= batch
            return ProfiledStep(
                step: step, ms: stepSeconds[step.index] * 1000, percent: 100 * stepSeconds[step.index] / total)
        }
        let result = Result(
            network: loaded.network, batch: batch, threads: threads,
            plannedThreads: executor.plan.schedule.threads, runs: runs, medianMs: median,
            minMs: times.first!, maxMs: times.last!, imagesPerSecond: Double(batch) * 1000 / median,
            gflops: 2 * Double(loaded.macs) * Double(batch) / (median * 1e6), macs: loaded.macs,
            arenaBytes: memory.arenaBytes * loaded.executor.arenaCount,
            arenaLowerBoundBytes: memory.lowerBoundBytes * loaded.executor.arenaCount,
            packedWeightBytes: loaded.executor.weightBytes, workspaceBytes: loaded.executor.workspaceBytes,
            peakRssBytes: peakResidentBytes() ?? 0, kernelLevel: Executor.kernelLevel,
            steps: profile ? profiled : nil)
        if format == .json {
            emit(JSONRendering.render(result))
            return
        }
        // One arena per thread that runs images side by side, each planned for one image.
        let arenas = loaded.executor.arenaCount > 1 ? "\(loaded.executor.arenaCount) x " : ""
        // Fewer threads than the plan's where the process has fewer CPUs (Executor.threads).
        let planned = executor.plan.schedule.threads
        let capped =
            planned > threads
            ? " (\(model.threads == nil ? "the plan's \(planned)" : "\(planned) asked for"), on \(Format.counted(Executor.usableCores, "usable CPU")))"
            : ""
        emit(
            """
            \(result.network): batch \(batch), \(Format.counted(threads, "thread"))\(capped), \(Format.counted(runs, "run")), \(result.kernelLevel) kernels
              median \(Format.fixed(median, decimals: 2)) ms  (min \(Format.fixed(result.minMs, decimals: 2)), max \(Format.fixed(result.maxMs, decimals: 2)))
              \(Format.fixed(result.imagesPerSecond, decimals: 1)) images/s, \(Format.fixed(result.gflops, decimals: 1)) GFLOP/s (2 x \(Format.metric(loaded.macs, unit: "MACs")) per image)
              arena \(arenas)\(Format.bytes(memory.arenaBytes)) (lower bound \(Format.bytes(memory.lowerBoundBytes))\(arenas.isEmpty ? "" : " each")), packed weights \(Format.bytes(result.packedWeightBytes)), workspace \(Format.bytes(result.workspaceBytes))
              peak resident memory \(Format.bytes(result.peakRssBytes))
            """)
        if profile { emit(Self.profileTable(profiled, runs: runs, listed: profileSteps ?? Self.listedSteps)) }
    }

    /// The slowest steps first, with their share of the time and GFLOP/s; then the time by algorithm.
    static func profileTable(_ steps: [ProfiledStep], runs: Int, listed: Int) -> String {
        let total = steps.reduce(0) { $0 + $1.ms }
        var lines = [
            "steps by time (each step's fastest of \(runs) profiled runs; total \(Format.fixed(total, decimals: 2)) ms):"
        ]
        let slowest = steps.sorted { ($0.ms, -$0.step.index) > ($1.ms, -$1.step.index) }
        for entry in listed > 0 ? Array(slowest.prefix(listed)) : slowest {
            let step = entry.step
            let rate =
                step.macs == 0 ? "" : Format.fixed(2 * Double(step.macs) / (entry.ms * 1e6), decimals: 1) + " GFLOP/s"
            lines.append(
                "  "
                    + [
                        Format.fixed(entry.ms, decimals: 3) + " ms", Format.fixed(entry.percent, decimals: 1) + "%",
                        rate, "\(step.index): \(step.kernel)", step.name
                    ].joined(separator: "  "))
        }
        var byAlgorithm: [String: (ms: Double, steps: Int)] = [:]
        for entry in steps {
            byAlgorithm[entry.step.algorithm, default: (0, 0)].ms += entry.ms
            byAlgorithm[entry.step.algorithm, default: (0, 0)].steps += 1
        }
        lines.append("by algorithm:")
        for (algorithm, entry) in byAlgorithm.sorted(by: { ($0.value.ms, $1.key) > ($1.value.ms, $0.key) }) {
            lines.append(
                "  "
                    + [
                        Format.fixed(entry.ms, decimals: 3) + " ms",
                        Format.fixed(100 * entry.ms / total, decimals: 1) + "%", "\(entry.steps) x \(algorithm)"
                    ].joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
