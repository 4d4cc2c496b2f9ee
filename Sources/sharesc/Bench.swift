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
          sharesc bench Architectures/cifar/sharesnet-164.yaml --batch 8 --threads 2 --format json
        """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "Images per batch.") var batch: Int = 1
    @Option(help: "Timed runs.") var runs: Int = 20
    @Option(help: "Untimed warm-up runs.") var warmup: Int = 3
    @Option(help: "Output format: text or json.") var format: ReportFormat = .text
    @Flag(help: "Also time every step and list the slowest (text format only).") var profile = false
    @Option(help: "With --profile: how many of the slowest steps to list (0: all).") var profileSteps = 25

    struct Result: Encodable {
        var network: String
        var batch: Int
        var threads: Int
        var runs: Int
        var medianMs: Double
        var minMs: Double
        var maxMs: Double
        var imagesPerSecond: Double
        var gflops: Double
        var macs: Int
        var arenaBytes: Int
        var arenaLowerBoundBytes: Int
        var weightBytes: Int
        var workspaceBytes: Int
        var peakRssBytes: Int
        var kernelLevel: String

        enum CodingKeys: String, CodingKey {
            case network, batch, threads, runs, macs
            case medianMs = "median_ms", minMs = "min_ms", maxMs = "max_ms", imagesPerSecond = "images_per_second", gflops
            case arenaBytes = "arena_bytes", arenaLowerBoundBytes = "arena_lower_bound_bytes", weightBytes = "weight_bytes"
            case workspaceBytes = "workspace_bytes", peakRssBytes = "peak_rss_bytes", kernelLevel = "kernel_level"
        }
    }

    func validate() throws {
        guard batch >= 1 && batch <= 4096, runs >= 1, warmup >= 0, profileSteps >= 0 else { throw ValidationError("--batch, --runs, --warmup and --profile-steps must be positive") }
        guard format != .markdown else { throw ValidationError("bench prints text or json") }
    }

    func run() throws {
        let loaded = try reportingDiagnostics { () throws(CompileFailure) in try model.load() }
        let input = RandomInput.images(batch * loaded.inputShape.elementCount, seed: 0)
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
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let result = Result(network: loaded.network, batch: batch, threads: model.threads, runs: runs, medianMs: median,
                            minMs: times.first!, maxMs: times.last!, imagesPerSecond: Double(batch) * 1000 / median,
                            gflops: 2 * Double(loaded.macs) * Double(batch) / (median * 1e6), macs: loaded.macs,
                            arenaBytes: memory.arenaBytes * loaded.executor.arenaCount,
                            arenaLowerBoundBytes: memory.lowerBoundBytes * loaded.executor.arenaCount,
                            weightBytes: loaded.executor.weightBytes, workspaceBytes: loaded.executor.workspaceBytes,
                            peakRssBytes: peakResidentBytes() ?? 0, kernelLevel: Executor.kernelLevel)
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            emit(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        // One arena per thread that runs images side by side, each planned for one image.
        let arenas = loaded.executor.arenaCount > 1 ? "\(loaded.executor.arenaCount) x " : ""
        emit("""
            \(result.network): batch \(batch), \(model.threads) thread\(model.threads == 1 ? "" : "s"), \(runs) runs, \(result.kernelLevel) kernels
              median \(Format.fixed(median, decimals: 2)) ms  (min \(Format.fixed(result.minMs, decimals: 2)), max \(Format.fixed(result.maxMs, decimals: 2)))
              \(Format.fixed(result.imagesPerSecond, decimals: 1)) images/s, \(Format.fixed(result.gflops, decimals: 1)) GFLOP/s (2 x \(Format.metric(loaded.macs, unit: "MACs")) per image)
              arena \(arenas)\(Format.bytes(memory.arenaBytes)) (lower bound \(Format.bytes(memory.lowerBoundBytes))\(arenas.isEmpty ? "" : " each")), weights \(Format.bytes(result.weightBytes)), workspace \(Format.bytes(result.workspaceBytes))
              peak resident memory \(Format.bytes(result.peakRssBytes))
            """)
        if profile { emit(Self.profileTable(loaded.executor.program, stepSeconds: stepSeconds, runs: runs, batch: batch, listed: profileSteps)) }
    }

    /// The slowest steps first, with their share of the time and GFLOP/s.
    static func profileTable(_ program: Program, stepSeconds: [Double], runs: Int, batch: Int, listed: Int) -> String {
        let total = stepSeconds.reduce(0, +)
        var lines = ["steps by time (each step's fastest of \(runs) profiled runs; total \(Format.fixed(total * 1000, decimals: 2)) ms):"]
        let slowest = stepSeconds.indices.sorted(by: { stepSeconds[$0] > stepSeconds[$1] })
        for index in listed > 0 ? Array(slowest.prefix(listed)) : slowest {
            let step = program.steps[index]
            let seconds = stepSeconds[index]
            let macs = program.macs(of: step) * batch
            let rate = macs == 0 ? "" : Format.fixed(2 * Double(macs) / seconds / 1e9, decimals: 1) + " GFLOP/s"
            lines.append("  " + [Format.fixed(seconds * 1000, decimals: 3) + " ms", Format.fixed(100 * stepSeconds[index] / total, decimals: 1) + "%",
                                 rate, "\(program.values[step.output].shape)", step.name].joined(separator: "  "))
        }
        var byKind: [String: (seconds: Double, steps: Int)] = [:]
        for (index, step) in program.steps.enumerated() {
            byKind[step.kernel.kind, default: (0, 0)].seconds += stepSeconds[index]
            byKind[step.kernel.kind, default: (0, 0)].steps += 1
        }
        lines.append("by kernel:")
        for (kind, entry) in byKind.sorted(by: { ($0.value.seconds, $1.key) > ($1.value.seconds, $0.key) }) {
            lines.append("  " + [Format.fixed(entry.seconds * 1000, decimals: 3) + " ms",
                                 Format.fixed(100 * entry.seconds / total, decimals: 1) + "%", "\(entry.steps) x \(kind)"].joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
