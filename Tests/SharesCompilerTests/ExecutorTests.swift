import CKernels
import Foundation
import Testing

@testable import SharesCompiler

/// The optimized CPU plan (fusion, memory planning, packed kernels, threads) against the reference
/// interpreter over the unfused IR: shared and sequential, non-trivial batchnorm statistics, batch 1
/// and 3, one and two threads, every kernel level. Tiny tensors keep the debug build quick.
@Suite(.serialized)
struct ExecutorTests {
    /// Small networks over the shipped block library, covering every kernel and fusion pattern.
    static let specs: [String: String] = [
        // Bottlenecks with tied 3x3s, a maxpool stem with padding, projection shortcuts, odd channels.
        "bottleneck.yaml": """
        include: Architectures/blocks.yaml
        input: [3, 13, 13]
        vars: {classes: 7}
        stem: [conv: {out: 5, kernel: 3, stride: 2, pad: 1}, batchnorm, relu, maxpool: {kernel: 3, stride: 2, pad: 1}]
        stages:
          - {block: bottleneck, planes: 4, repeat: 3, share: {conv2: all}}
          - {block: bottleneck, planes: 6, repeat: 3, stride: 2, share: {conv2: after-first}}
        head: imagenet_head
        """,
        // Pre-activation blocks: standalone batchnorm-ReLU, in-place steps, projection without batchnorm.
        "preact.yaml": """
        include: Architectures/blocks.yaml
        input: [3, 16, 16]
        vars: {classes: 10}
        stem: [conv: {out: 16, kernel: 3, pad: 1}]
        stages:
          - {block: preact_bottleneck, planes: 4, repeat: 3, share: {conv2: after-first}}
          - {block: preact_bottleneck, planes: 8, repeat: 3, stride: 2, share: {conv2: after-first}}
        head: [batchnorm, relu, avgpool: {kernel: 3, stride: 2, pad: 1}, linear: {out: $classes}]
        """,
        // Wide blocks with dropout, basic blocks with subsample-and-pad shortcuts, a grouped conv with bias.
        "mixed.yaml": """
        include: Architectures/blocks.yaml
        input: [3, 9, 9]
        vars: {classes: 3}
        stem: [conv: {out: 8, kernel: 3, pad: 1, groups: 1, bias: true}, conv: {out: 8, kernel: 3, pad: 1, groups: 4, bias: true}]
        stages:
          - {block: wide_basic, width: 17, repeat: 2, dropout: 0.3, share: {conv2: all}}
          - {block: cifar_basic, width: 24, repeat: 2, stride: 2, share: {conv2: after-first}}
        head: [global_avgpool, flatten, linear: {out: $classes}]
        """,
        // One tied weight read by convolutions with different groups (8 -> 8 in one group, 16 -> 8 in two:
        // the same [8, 8, 3, 3]), packed once per grouping.
        "tied-groups.yaml": """
        input: [3, 10, 10]
        blocks:
          a:
            args: {g: 1, p: 1}
            body: [conv: {name: mix, out: 8, kernel: 3, pad: $p, groups: $g, bias: true}, batchnorm]
            shortcut: [conv: {out: 8, kernel: 3, pad: $p}]
            post: [relu]
          up:
            body: [conv: {out: 16, kernel: 1}, batchnorm, relu]
            merge: none
        stem: [conv: {out: 8, kernel: 1}]
        stages:
          - {block: a, repeat: 2, share: {mix: {group: w}}}
          - {name: widen, block: up}
          - {block: a, g: 2, p: 0, share: {mix: {group: w}}}
        head: [global_avgpool, flatten, linear: {out: 3}]
        """,
        // 3x3 convolutions over 32 channels run by Winograd: a tied one by F(4x4, 3x3) over a 17x17 map
        // (partial tiles at the edges), pre-activation ones by F(2x2, 3x3) over 9x9, whose
        // batchnorm-ReLU rides in their epilogue.
        "winograd.yaml": """
        include: Architectures/blocks.yaml
        input: [3, 34, 34]
        vars: {classes: 5}
        stem: [conv: {out: 32, kernel: 3, stride: 2, pad: 1}, batchnorm, relu]
        stages:
          - {block: bottleneck, planes: 32, repeat: 2, share: {conv2: all}}
          - {block: preact_bottleneck, planes: 40, repeat: 2, stride: 2, share: {conv2: after-first}}
        head: [global_avgpool, flatten, linear: {out: $classes}]
        """,
        // The modern families in miniature, over the shipped block library (modern-blocks.yaml): 3x32x32
        // inputs, few channels, tied depthwise convolutions. MobileNetV2: inverted residuals with and
        // without the residual (add-if-same-shape), depthwise 3x3 at strides 1 and 2, ReLU6 in the epilogues.
        "mini-mobilenet-v2.yaml": """
        include: Architectures/modern-blocks.yaml
        input: [3, 32, 32]
        vars: {classes: 5}
        stem: [conv: {out: 8, kernel: 3, stride: 2, pad: 1}, batchnorm, relu6]
        stages:
          - {block: inverted_residual_narrow, width: 8, repeat: 1}
          - {block: inverted_residual, width: 12, expand: 3, repeat: 3, stride: 2, share: {dwconv1: after-first}}
        head: [conv: {out: 24, kernel: 1}, batchnorm, relu6, global_avgpool, dropout: {p: 0.2}, linear: {out: $classes}]
        """,
        // EfficientNet: MBConv with SiLU, depthwise 5x5 and 3x3, squeeze-and-excitation, stochastic depth
        // before the residual sum.
        "mini-efficientnet.yaml": """
        include: Architectures/modern-blocks.yaml
        input: [3, 32, 32]
        vars: {classes: 5}
        stem: [conv: {out: 8, kernel: 3, stride: 2, pad: 1}, batchnorm, silu]
        stages:
          - {block: mbconv_narrow, width: 8, kernel: 3, repeat: 1, drop: 0.2, blocks: 4}
          - {block: mbconv, width: 12, expand: 4, kernel: 5, repeat: 3, stride: 2, first: 1, drop: 0.2, blocks: 4, share: {dwconv1: after-first}}
        head: [conv: {out: 24, kernel: 1}, batchnorm, silu, global_avgpool, dropout: {p: 0.2}, linear: {out: $classes}]
        """,
        // ConvNeXt: a 4x4/4 stem, depthwise 7x7 with bias, LayerNorm over channels, GELU, the layer scale
        // and residual sum in the second pointwise convolution's epilogue, a LayerNorm-then-2x2/2
        // downsampling, and the head's LayerNorm over a pooled vector.
        "mini-convnext.yaml": """
        include: Architectures/modern-blocks.yaml
        input: [3, 32, 32]
        vars: {classes: 5}
        stem: [conv: {out: 8, kernel: 4, stride: 4, bias: true}, layernorm: {eps: 1e-6}]
        stages:
          - {name: stage1, block: convnext, repeat: 2, scale: 0.5, drop: 0.1, blocks: 3, share: {dwconv1: all}}
          - {name: down1, block: convnext_downsample, width: 12}
          - {name: stage2, block: convnext, repeat: 2, scale: 0.5, first: 2, drop: 0.1, blocks: 3, share: {dwconv1: all}}
        head: [global_avgpool, layernorm: {eps: 1e-6}, linear: {out: $classes}]
        """,
        // RegNetY: grouped 3x3, squeeze-and-excitation with ReLU, projection shortcuts.
        "mini-regnet-y.yaml": """
        include: Architectures/modern-blocks.yaml
        input: [3, 32, 32]
        vars: {classes: 5}
        stem: [conv: {out: 8, kernel: 3, stride: 2, pad: 1}, batchnorm, relu]
        stages:
          - {block: regnet_y, width: 16, group_width: 8, repeat: 3, stride: 2, share: {conv2: after-first}}
        head: [global_avgpool, linear: {out: $classes}]
        """,
        // The new ops where nothing absorbs them: activations after pooling and after a residual sum, a
        // layer scale after pooling, a layer norm after an activation, an activation on a vector.
        "standalone-ops.yaml": """
        input: [3, 11, 11]
        blocks:
          r:
            body: [conv: {out: 6, kernel: 3, pad: 1}, batchnorm]
            post: [gelu, layer_scale: {init: 0.3}]
        stem: [conv: {out: 6, kernel: 3, pad: 1}, maxpool: {kernel: 2, stride: 2}, sigmoid, layer_scale: {init: 2}, hardswish]
        stages:
          - {block: r, repeat: 2, share: {conv1: all}}
        # (12001 x 6 weights: enough for the linear layer to be cut into pieces on two threads)
        head: [relu6, layernorm, avgpool: {kernel: 2, stride: 2}, silu, squeeze_excite: {width: 2}, global_avgpool, flatten, linear: {out: 12001}, linear: {out: 4}, silu]
        """
    ]

    /// Layout edges: a linear layer over a flattened 4x2x2 map (its columns in NHWC order inside the
    /// plan), a network whose output is a feature map (converted back to NCHW), and flattened maps
    /// read by a batchnorm (per feature, in ONNX's order) or given as the output.
    static let edges: [String: String] = [
        "flattening.yaml": ReferenceInterpreterTests.flattening,
        "feature-map.yaml": """
        network: feature-map
        input: [3, 9, 7]
        stem:
          - conv: {out: 5, kernel: 3, stride: 2, pad: 1}
          - batchnorm
          - relu
        """,
        "flatten-batchnorm.yaml": """
        network: flatten-batchnorm
        input: [2, 4, 4]
        stem: [conv: {out: 3, kernel: 3, pad: 1}, flatten, batchnorm, relu, dropout: {p: 0.5}, linear: {out: 3}]
        """,
        // Elementwise steps after a flatten of a one-pixel map, which the program aliases (its plan was
        // refused as damaged: each step's output the flattened vector, its input the 1x1 map).
        "flatten-pixel.yaml": """
        network: flatten-pixel
        input: [3, 4, 4]
        head: [global_avgpool, flatten, layernorm, batchnorm, relu, gelu, layer_scale: {init: 0.5}, linear: {out: 2}]
        """,
        "flatten-output.yaml": """
        network: flatten-output
        input: [2, 3, 5]
        stem: [conv: {out: 4, kernel: 3, pad: 1}, relu, flatten]
        """,
        // The output a flattened one-pixel map (through a dropout): a vector, as in the report and the
        // exports, not the 3x1x1 map (`run` wrote it so).
        "flatten-pixel-output.yaml": """
        network: flatten-pixel-output
        input: [3, 3, 3]
        stem: [relu]
        head: [global_avgpool, flatten, dropout: {p: 0.5}]
        """,
        // A flatten of a vector (here after a linear layer, at the output): the vector itself, no step
        // (compile -o wrote a flatten step of it, which run refused as damaged).
        "flatten-vector.yaml": """
        network: flatten-vector
        input: [3, 4, 4]
        stem: [flatten, flatten, linear: {out: 3}, relu, flatten]
        """
    ]

    static let source = SpecSource { path in
        if let text = specs[path] ?? edges[path] { return text }
        return try repositorySource.read(path)
    }

    static func compile(_ name: String, sequential: Bool) throws -> Compilation {
        try Compiler.compile(name, options: CompileOptions(sequential: sequential, source: source))
    }

    func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
        let scale = largestMagnitude(expected)
        return largestDifference(actual, expected) / max(scale, 1e-30)
    }

    @Test(arguments: [
        "bottleneck.yaml", "preact.yaml", "mixed.yaml", "tied-groups.yaml", "winograd.yaml", "flattening.yaml",
        "feature-map.yaml", "flatten-batchnorm.yaml", "flatten-output.yaml", "flatten-pixel.yaml",
        "flatten-pixel-output.yaml", "flatten-vector.yaml", "mini-mobilenet-v2.yaml", "mini-efficientnet.yaml",
        "mini-convnext.yaml",
        "mini-regnet-y.yaml",
        "standalone-ops.yaml"
    ])
    func planMatchesReferenceInterpreter(_ name: String) throws {
        for sequential in [false, true] {
            let compilation = try Self.compile(name, sequential: sequential)
            // The block-library networks tie weights; the layout-edge ones have nothing to tie.
            #expect(sequential == compilation.graph.ties.isEmpty || Self.edges[name] != nil)
            let weights = WeightInitializer.initialize(
                compilation.graph, options: InitOptions(seed: 21, randomizeBatchNorm: true))
            let program = Compiler.program(compilation)
            let graph = compilation.graph
            #expect(program.values[program.output].shape == graph[graph.output].shape)
            for batch in [1, 3] {
                let input = RandomInput.images(batch * compilation.graph.inputShape.elementCount, seed: UInt64(batch))
                let expected = ReferenceInterpreter.run(compilation.graph, weights: weights, input: input, batch: batch)
                // How far apart two images' outputs are: the input's own effect. Where the weights make
                // the output barely depend on the input (EfficientNet's gates, BatchNorm's shifts), an
                // error within the tolerance of the output's scale could still be most of that effect, so
                // the error must also be a hundredth of it at most.
                let perImage = expected.count / batch
                let spread =
                    batch < 2 ? .infinity : largestDifference(expected[0..<perImage], expected[perImage..<2 * perImage])
                try atEveryKernelLevel { level in
                    for threads in [1, 2] {
                        let executor = try makeExecutor(program, weights: weights, threads: threads)
                        #expect((executor.winogradSteps > 0) == (name == "winograd.yaml"))
                        if name == "winograd.yaml" { #expect(executor.winogradStepsByTile.keys.sorted() == [2, 4]) }
                        let actual = executor.run(input, batch: batch)
                        #expect(actual.count == expected.count)
                        let error = relativeError(actual, expected)
                        let largest = largestDifference(actual, expected)
                        #expect(
                            error < 1e-4 && largest <= spread / 100,
                            "\(name) sequential=\(sequential) batch=\(batch) level=\(level) threads=\(threads): \(error), \(largest) against images \(spread) apart"
                        )
                    }
                }
            }
        }
    }

    /// Images run side by side (one arena per thread) and the rest one at a time over all threads: one
    /// executor, reused across batch sizes, gives every image the same result as a batch of one.
    /// Peak resident memory from /proc/self/status, whose eight-digit kilobyte counts (from 9.5 GiB) follow
    /// the tab with no space: `bench` printed 0 B for a 13 GB run.
    @Test func peakResidentMemoryIsReadAtEverySize() {
        #expect(peakResidentBytes(status: "Name:\tsharesc\nVmHWM:\t   53312 kB\nVmRSS:\t   10 kB\n") == 53312 * 1024)
        #expect(peakResidentBytes(status: "VmPeak:\t13300000 kB\nVmHWM:\t13270068 kB\n") == 13_270_068 * 1024)
        #expect(peakResidentBytes(status: "Name:\tsharesc\n") == nil)
        #expect((peakResidentBytes() ?? 0) > 0)
    }

    @Test func imagesSideBySideMatchOneAtATime() throws {
        let compilation = try Self.compile("bottleneck.yaml", sequential: false)
        let weights = WeightInitializer.initialize(
            compilation.graph, options: InitOptions(seed: 9, randomizeBatchNorm: true))
        let program = Compiler.program(compilation)
        let inputSize = compilation.graph.inputShape.elementCount,
            outputSize = program.values[program.output].shape.elementCount
        let input = RandomInput.images(5 * inputSize, seed: 5)
        kernelLevelLock.lock()
        defer { kernelLevelLock.unlock() }
        let single = try makeExecutor(program, weights: weights, threads: 1)
        let alone = (0..<5).flatMap { single.run(Array(input[($0 * inputSize)..<(($0 + 1) * inputSize)]), batch: 1) }
        let executor = try makeExecutor(program, weights: weights, threads: 2)
        for batch in [1, 5, 2, 3] {
            let expected = Array(alone[0..<(batch * outputSize)])
            let actual = executor.run(Array(input[0..<(batch * inputSize)]), batch: batch)
            #expect(relativeError(actual, expected) < 1e-5, "batch \(batch)")
        }
        #expect(executor.arenaCount == min(2, Executor.usableCores))
    }

    /// A plan for more threads than the process has CPUs runs on one thread per CPU, which take its
    /// pieces in turn: the same outputs, images side by side included.
    @Test func planForMoreThreadsThanCPUsRunsOnTheCPUs() throws {
        let compilation = try Self.compile("bottleneck.yaml", sequential: false)
        let weights = WeightInitializer.initialize(
            compilation.graph, options: InitOptions(seed: 3, randomizeBatchNorm: true))
        let program = Compiler.program(compilation)
        let input = RandomInput.images(3 * compilation.graph.inputShape.elementCount, seed: 8)
        kernelLevelLock.lock()
        defer { kernelLevelLock.unlock() }
        let many = try makeExecutor(program, weights: weights, threads: Executor.usableCores + 3)
        #expect(many.plan.schedule.threads == Executor.usableCores + 3)
        #expect(many.threads == Executor.usableCores)
        let one = try makeExecutor(program, weights: weights, threads: 1)
        for batch in [1, 3] {
            let images = Array(input.prefix(batch * compilation.graph.inputShape.elementCount))
            #expect(relativeError(many.run(images, batch: batch), one.run(images, batch: batch)) < 1e-5)
        }
    }

    @Test func tiedWeightIsPackedOnce() throws {
        let shared = try Self.compile("bottleneck.yaml", sequential: false)
        let sequential = try Self.compile("bottleneck.yaml", sequential: true)
        func packedBytes(_ compilation: Compilation) throws -> Int {
            let weights = WeightInitializer.initialize(compilation.graph)
            return try makeExecutor(Compiler.program(compilation), weights: weights, threads: 1).weightBytes
        }
        // Sequential stores 3 + 2 more 3x3 weights: planes 4 (4x4x3x3) twice, planes 6 (6x6x3x3) once... as packed panels.
        #expect(try packedBytes(shared) < packedBytes(sequential))
    }

    @Test func streamingWeightsFromAFileMatchInMemoryWeights() throws {
        let compilation = try Self.compile("preact.yaml", sequential: false)
        let weights = WeightInitializer.initialize(
            compilation.graph, options: InitOptions(seed: 4, randomizeBatchNorm: true))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-exec-\(getpid()).safetensors")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightFile.write(compilation.graph, weights, to: path)
        let program = Compiler.program(compilation)
        let reader = try WeightFileReader(path: path, for: compilation.graph)
        let input = RandomInput.images(2 * compilation.graph.inputShape.elementCount, seed: 1)
        // Bit-for-bit only at one kernel level: hold it while other suites switch levels.
        kernelLevelLock.lock()
        defer { kernelLevelLock.unlock() }
        let fromFile = try makeExecutor(program, weights: reader, threads: 2).run(input, batch: 2)
        let fromMemory = try makeExecutor(program, weights: weights, threads: 2).run(input, batch: 2)
        #expect(fromFile == fromMemory)
    }

    /// Every job runs each of its workers exactly once, whether the pool's threads are spinning or have
    /// gone to sleep (the pauses), and jobs with fewer tasks than threads leave the others idle.
    @Test func workerPoolRunsEachWorkerOncePerJob() {
        let pool = WorkerPool(threads: 3)
        #expect(pool.threads == 3)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0)
        var expected = [0, 0, 0]
        for job in 0..<3000 {
            if job % 1000 == 999 { usleep(20_000) }  // longer than the workers spin
            let tasks = job % 5
            pool.run(tasks) { counts[$0] += 1 }
            for t in 0..<min(tasks, 3) { expected[t] += 1 }
        }
        #expect(Array(counts) == expected)
    }

    /// More threads than the process has CPUs (as under taskset): every job still runs each worker once
    /// (waiting threads yield their CPU to the ones with work, so this takes milliseconds, not minutes).
    @Test func workerPoolWithMoreThreadsThanCPUs() {
        let threads = 4 * Executor.usableCores
        let pool = WorkerPool(threads: threads)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0)
        for _ in 0..<200 { pool.run(threads) { counts[$0] += 1 } }
        #expect(Array(counts) == [Int](repeating: 200, count: threads))
    }

    /// The default thread count is the CPUs the process may use, as Linux lists them for it
    /// (`Cpus_allowed_list: 0-3,6`), not the machine's.
    @Test func usableCoresAreTheAllowedCPUs() throws {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return }  // not Linux
        let ranges = line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
        let allowed = ranges.split(separator: ",").map { range in
            let ends = range.split(separator: "-").compactMap { Int($0) }
            return ends.count == 2 ? ends[1] - ends[0] + 1 : 1
        }
        #expect(Executor.usableCores == allowed.reduce(0, +))
    }

    /// Pieces handed out to whichever thread is free: each runs exactly once, whatever the count.
    @Test func workerPoolRunsEveryPieceOnce() {
        let pool = WorkerPool(threads: 2)
        for pieces in [0, 1, 2, 7, 64] {
            let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(pieces, 1))
            defer { runs.deallocate() }
            runs.initialize(repeating: 0)
            for _ in 0..<50 { pool.runPieces(pieces) { _, piece in runs[piece] += 1 } }
            #expect(Array(runs.prefix(pieces)) == [Int](repeating: 50, count: pieces), "\(pieces) pieces")
        }
    }
}
