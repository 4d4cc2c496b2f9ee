import CKernels
import Foundation
import Testing

@testable import SharesCompiler

/// NaN and infinities planted in inputs and weights reach exactly the outputs they reach in PyTorch
/// (the reference interpreter's rules: ReLU and max keep NaN, padding is a zero that is multiplied),
/// through every kernel at every instruction-set level, and through whole plans. A diverged network
/// must look diverged.
@Suite(.serialized)
struct NonFiniteTests {
    typealias Guarded = KernelTests.Guarded
    typealias ConvCase = KernelTests.ConvCase

    /// nil when `actual` has NaN, +inf and -inf exactly where `expected` has them and its finite values
    /// agree within `tolerance` of the largest finite expected magnitude; else the first difference.
    static func disagreement(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-4) -> String? {
        guard actual.count == expected.count else { return "\(actual.count) values, expected \(expected.count)" }
        let scale = max(expected.filter(\.isFinite).map(abs).max() ?? 0, 1e-30)
        for (index, (a, e)) in zip(actual.map(Double.init), expected).enumerated() {
            let same = e.isNaN ? a.isNaN : e.isInfinite ? a == e : a.isFinite && abs(a - e) <= tolerance * scale
            if !same { return "value \(index) is \(a), expected \(e)" }
        }
        return nil
    }

    /// `values` with NaN, +inf and -inf at three positions spread over it.
    static func planted(_ values: [Float]) -> [Float] {
        var values = values
        for (fraction, value) in [(0.2, Float.nan), (0.55, .infinity), (0.9, -.infinity)] {
            values[min(values.count - 1, Int(Double(values.count) * fraction))] = value
        }
        return values
    }

    static func relu(_ v: Double) -> Double { v < 0 ? 0 : v }

    // MARK: Convolutions

    /// The epilogue every convolution test applies: scale, shift, residual and ReLU (which must keep NaN).
    struct Epilogue {
        let scale: Guarded, shift: Guarded, residual: Guarded, channels: Int
        init(_ c: ConvCase) {
            channels = c.outChannels
            scale = Guarded(KernelTests.random(c.outChannels, seed: 71))
            shift = Guarded(KernelTests.random(c.outChannels, seed: 72))
            residual = Guarded(KernelTests.random(c.outChannels * c.pixels, seed: 73))
        }
        var c: sc_epilogue {
            sc_epilogue(
                scale: UnsafePointer(scale.pointer), shift: UnsafePointer(shift.pointer),
                residual: UnsafePointer(residual.pointer),
                activation: Int32(SC_ACT_RELU), act_output: nil, act_scale: nil, act_shift: nil, act_relu: 0)
        }
        func expected(_ raw: [Double]) -> [Double] {
            raw.enumerated().map { i, v in
                relu(
                    v * Double(scale.pointer[i % channels]) + Double(shift.pointer[i % channels])
                        + Double(residual.pointer[i]))
            }
        }
    }

    /// Direct convolutions of every kind (copied rows, one and several reduction blocks, strides,
    /// groups, depthwise), with non-finite values in the input and then in the weights: a non-finite
    /// weight reaches the border pixels too, through the padding's zeros.
    @Test(arguments: KernelTests.convCases)
    func directConvolution(_ c: ConvCase) {
        var geometry = c.geometry
        let epilogue = Epilogue(c)
        let clean = (
            weights: KernelTests.random(c.outChannels * c.inChannels / c.groups * c.kernel * c.kernel, seed: 74),
            input: KernelTests.random(c.batch * c.height * c.width * c.inChannels, seed: 75)
        )
        for (what, weights, input) in [
            ("input", clean.weights, Self.planted(clean.input)), ("weights", Self.planted(clean.weights), clean.input)
        ] {
            let expected = epilogue.expected(KernelTests.referenceConv(c, weights: weights, input: input))
            let packed = Guarded(count: sc_conv_nhwc_packed_size(&geometry))
            sc_conv_nhwc_pack(&geometry, weights, packed.pointer)
            KernelTests.atEveryLevel { level in
                let output = Guarded(count: c.outChannels * c.pixels),
                    workspace = Guarded(count: sc_conv_nhwc_workspace_size(&geometry))
                var e = epilogue.c
                sc_conv_nhwc(
                    &geometry, packed.pointer, input, output.pointer, &e, workspace.pointer, 0, c.pixels, 0,
                    sc_conv_nhwc_panels(&geometry))
                let problem = Self.disagreement(output.values, expected)
                #expect(problem == nil, "level \(level), non-finite \(what): \(problem ?? "")")
            }
        }
    }

    /// Winograd with non-finite values in its input: the chunks holding them are computed directly
    /// (with weights recovered from the transformed ones), so NaN and infinities reach the pixels a
    /// direct convolution reaches, not whole tiles, as the transforms alone would spread them.
    @Test(arguments: KernelTests.winogradCases)
    func winogradInput(_ c: ConvCase) {
        var geometry = c.winogradKernelGeometry
        let epilogue = Epilogue(c)
        let weights = KernelTests.random(c.outChannels * c.inChannels * 9, seed: 76)
        var input = KernelTests.random(c.height * c.width * c.inChannels, seed: 77)
        // An interior pixel, reaching 3x3 outputs.
        input[(c.height / 2 * c.width + c.width / 2) * c.inChannels + 1] = .nan
        input = Self.planted(input)
        let expected = epilogue.expected(KernelTests.referenceConv(c, weights: weights, input: input))
        let packed = Guarded(count: sc_winograd_packed_size(&geometry))
        #expect(sc_winograd_pack(&geometry, weights, packed.pointer) == 1)
        let tiles = sc_winograd_tiles(&geometry), panels = sc_conv_nhwc_panels(&geometry)
        KernelTests.atEveryLevel { level in
            let output = Guarded(count: c.outChannels * c.pixels),
                workspace = Guarded(count: sc_winograd_workspace_size(&geometry))
            var e = epilogue.c
            for (begin, end) in [(0, tiles / 2), (tiles / 2, tiles)] {  // as two threads split it
                sc_winograd_conv(
                    &geometry, packed.pointer, input, output.pointer, &e, workspace.pointer, begin, end, 0, panels)
            }
            let problem = Self.disagreement(output.values, expected)
            #expect(problem == nil, "level \(level): \(problem ?? "")")
            #expect(output.guardsIntact && workspace.guardsIntact, "level \(level): wrote outside its buffers")
        }
    }

    // MARK: Elementwise and pooling

    @Test func reluAddAndScaleShiftKeepNaN() {
        let channels = 11, pixels = 9
        let x = Self.planted(KernelTests.random(channels * pixels, seed: 78)),
            b = Self.planted(KernelTests.random(channels * pixels, seed: 79).reversed())
        let scale = KernelTests.random(channels, seed: 80), shift = KernelTests.random(channels, seed: 81)
        KernelTests.atEveryLevel { level in
            let y = Guarded(count: x.count)
            sc_relu(x, y.pointer, x.count)
            #expect(Self.disagreement(y.values, x.map { Self.relu(Double($0)) }) == nil, "relu, level \(level)")
            sc_add(x, b, y.pointer, x.count, 1)
            #expect(
                Self.disagreement(y.values, zip(x, b).map { Self.relu(Double($0) + Double($1)) }) == nil,
                "add + relu, level \(level)")
            sc_scale_shift_nhwc(x, y.pointer, pixels, Int32(channels), scale, shift, 1)
            let expected = x.indices.map {
                Self.relu(Double(x[$0]) * Double(scale[$0 % channels]) + Double(shift[$0 % channels]))
            }
            #expect(Self.disagreement(y.values, expected) == nil, "scale and shift + relu, level \(level)")
        }
    }

    @Test func linearKeepsNaN() {
        let inputs = 20, outputs = 6
        let x = KernelTests.random(inputs, seed: 82), w = Self.planted(KernelTests.random(inputs * outputs, seed: 83))
        let y = Guarded(count: outputs)
        sc_linear(x, w, nil, y.pointer, Int32(inputs), Int32(outputs), 1)
        let expected = (0..<outputs).map { o in
            Self.relu((0..<inputs).reduce(0.0) { $0 + Double(w[o * inputs + $1]) * Double(x[$1]) })
        }
        #expect(Self.disagreement(y.values, expected) == nil)
        #expect(y.values.contains { $0.isNaN }, "the planted NaN must reach an output")
    }

    /// Max pooling keeps a NaN wherever in the window it comes (first, middle or last), at stride 2
    /// and at stride 1 (5 x 5 by rows and columns); average and global pooling carry NaN and
    /// infinities by their sums.
    @Test(arguments: [2, 1], [11, 40])
    func poolingKeepsNaN(step: Int, channels: Int) {
        // 11 channels: a vector of eight and a tail at the AVX2 level; 40: a block of 32 maxima first.
        for kernel in step == 1 ? [3, 5] : [3] {
            poolingKeepsNaN(step: step, channels: channels, kernel: kernel)
        }
    }

    func poolingKeepsNaN(step: Int, channels: Int, kernel: Int) {
        let height = 7, width = 6, pad = kernel / 2
        let outHeight = (height + 2 * pad - kernel) / step + 1, outWidth = (width + 2 * pad - kernel) / step + 1
        var x = Self.planted(KernelTests.random(height * width * channels, seed: 84))
        x[0] = .nan  // the first tap of the first window
        x[(width + 1) * channels + 2] = .nan  // the last tap of the first 3 x 3 window, channel 2
        x[(2 * width + 3) * channels + 9] = .nan  // a middle tap, channel 9 (in the tail of 11)
        func window(_ c: Int, _ oy: Int, _ ox: Int) -> [Double] {
            (0..<kernel * kernel).compactMap { k in
                let iy = oy * step - pad + k / kernel, ix = ox * step - pad + k % kernel
                return iy < 0 || iy >= height || ix < 0 || ix >= width
                    ? nil : Double(x[(iy * width + ix) * channels + c])
            }
        }
        func expected(_ combine: ([Double]) -> Double) -> [Double] {
            (0..<outHeight * outWidth * channels).map {
                combine(window($0 % channels, $0 / channels / outWidth, $0 / channels % outWidth))
            }
        }
        let maximum = expected { $0.contains(where: \.isNaN) ? .nan : $0.max()! }
        // Every window lies inside the padded input, so the divisor (which counts the padding) is k x k.
        let average = expected { $0.reduce(0, +) / Double(kernel * kernel) }
        let sums = (0..<channels).map { c in
            stride(from: c, to: x.count, by: channels).reduce(0.0) { $0 + Double(x[$1]) } / Double(height * width)
        }
        KernelTests.atEveryLevel { level in
            let context = "level \(level), stride \(step), \(kernel) x \(kernel), \(channels) channels"
            for (pool, expected) in [(sc_max_pool_nhwc, maximum), (sc_avg_pool_nhwc, average)] {
                let y = Guarded(count: outHeight * outWidth * channels)
                pool(
                    x, y.pointer, Int32(channels), Int32(height), Int32(width), Int32(kernel), Int32(step), Int32(pad),
                    Int32(outHeight), Int32(outWidth), 0, outHeight)
                #expect(Self.disagreement(y.values, expected) == nil, "\(context)")
            }
            let global = Guarded(count: channels)
            sc_global_avg_pool_nhwc(x, global.pointer, Int32(channels), Int32(height * width))
            #expect(Self.disagreement(global.values, sums) == nil, "\(context)")
        }
    }

    // MARK: Whole plans

    /// A feature-map network whose 3x3 convolutions run by Winograd F(4x4, 3x3) and F(2x2, 3x3), so
    /// that the NaN pattern of its output shows whether any tile spread it.
    static let winogradMap = """
        network: winograd-map
        input: [32, 17, 17]
        stem:
          - conv: {out: 32, kernel: 3, pad: 1}
          - batchnorm
          - relu
          - conv: {out: 40, kernel: 3, pad: 1}
          - batchnorm
          - conv: {out: 40, kernel: 3, stride: 2, pad: 1}
          - conv: {out: 40, kernel: 3, pad: 1}
        """

    static let source = SpecSource { path in
        if path == "winograd-map.yaml" { return winogradMap }
        return try ExecutorTests.source.read(path)
    }

    /// A weight holding NaN or infinity takes its Winograd steps to the indirect GEMM, with one warning
    /// per tensor naming its steps, at the weights file when the values come from one.
    @Test func nonFiniteWeightLeavesWinogradWithOneWarningPerTensor() throws {
        let compilation = try Compiler.compile("winograd-map.yaml", options: CompileOptions(source: Self.source))
        let graph = compilation.graph
        var weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 5))
        let plan = Compiler.plan(Compiler.program(compilation), threads: 1)
        #expect(plan.schedule.steps.filter { $0.algorithm.winogradTile != nil }.count == 3)
        for name in ["stem.conv2.weight", "stem.conv4.weight"] {
            weights[graph.parameters.first { $0.name == name }!.id][7] = .infinity
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-nonfinite-\(getpid()).st")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightFile.write(graph, weights, to: path)
        let reader = try WeightFileReader(path: path, for: graph)
        for (provider, file) in [(weights as any WeightProvider, "winograd-map.yaml"), (reader, path)] {
            let (fitted, warnings) = try Compiler.fitted(plan, to: provider, source: "winograd-map.yaml")
            #expect(fitted.schedule.steps.filter { $0.algorithm.winogradTile != nil }.count == 1)
            #expect(
                warnings.map(\.rendered) == [
                    "\(file):1:1: warning: 'stem.conv2.weight' holds NaN or infinity, so step 'stem.conv2+bn2' runs by the indirect GEMM instead of Winograd",
                    "\(file):1:1: warning: 'stem.conv4.weight' holds NaN or infinity, so step 'stem.conv4' runs by the indirect GEMM instead of Winograd"
                ])
        }
        let tied = Message.nonFiniteWeight(parameter: "w", steps: ["a", "b", "c", "d", "e"]).text
        #expect(
            tied
                == "'w' holds NaN or infinity, so steps 'a', 'b', 'c' and 2 more run by the indirect GEMM instead of Winograd"
        )
    }

    /// The plan against the reference interpreter with NaN and infinities in the input, and then with
    /// a NaN in a (tied, where there is one) convolution weight and an infinite batchnorm variance.
    @Test(arguments: [
        "winograd-map.yaml", "feature-map.yaml", "bottleneck.yaml", "preact.yaml", "mixed.yaml", "winograd.yaml"
    ])
    func planMatchesReferenceInterpreter(_ name: String) throws {
        let compilation = try Compiler.compile(name, options: CompileOptions(source: Self.source))
        let graph = compilation.graph
        let clean = WeightInitializer.initialize(graph, options: InitOptions(seed: 5, randomizeBatchNorm: true))
        var poisoned = clean
        let weight =
            graph.parameters.first { $0.tie != nil } ?? graph.parameters.first {
                $0.shape.count == 4 && $0.shape[2] == 3
            }!
        poisoned[weight.id][poisoned[weight.id].count / 3] = .nan
        if let variance = graph.parameters.last(where: { $0.name.hasSuffix("running_var") }) {
            poisoned[variance.id][0] = .infinity
        }
        let batch = 2, size = graph.inputShape.elementCount
        let input = RandomInput.images(batch * size, seed: 3)
        var dirty = input
        for (offset, value) in [(size / 3, Float.nan), (size + size / 2, .infinity), (size + size / 5, -.infinity)] {
            dirty[offset] = value
        }
        let program = Compiler.program(compilation)
        for (what, weights, images) in [("input", clean, dirty), ("weights", poisoned, input)] {
            let expected = ReferenceInterpreter.run(graph, weights: weights, input: images, batch: batch).map(
                Double.init)
            #expect(expected.contains { !$0.isFinite }, "\(name): the planted values must reach the output")
            #expect(
                expected.contains { $0.isFinite } || name != "winograd-map.yaml" || what == "weights",
                "\(name): and leave some of it finite")
            try atEveryKernelLevel { level in
                for threads in [1, 2] {
                    let executor = try makeExecutor(program, weights: weights, threads: threads)
                    if name.hasPrefix("winograd") && what == "input" { #expect(executor.winogradSteps > 0) }
                    let problem = Self.disagreement(executor.run(images, batch: batch), expected)
                    #expect(
                        problem == nil,
                        "\(name), non-finite \(what), level \(level), \(threads) threads: \(problem ?? "")")
                }
            }
        }
    }
}
