import Foundation
import Testing

@testable import SharesCompiler

/// The reference interpreter on single ops against values worked out by hand, then on whole small
/// networks against ONNX Runtime running the exported model.
struct ReferenceInterpreterTests {
    /// A network whose stem is `layers` (YAML list items, one per line).
    static func network(input: [Int], _ layers: String) throws -> Graph {
        let spec =
            "network: op\ninput: [\(input.map(String.init).joined(separator: ", "))]\nstem:\n"
            + layers.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        return try compileInMemory(["spec.yaml": spec]).graph
    }

    /// Weights given by parameter name; every parameter must be named.
    static func weights(_ graph: Graph, _ values: [String: [Float]]) -> WeightStore {
        #expect(Set(values.keys) == Set(graph.parameters.map(\.name)))
        return WeightStore(values: graph.parameters.map { values[$0.name] ?? [] })
    }

    static func run(_ graph: Graph, _ values: [String: [Float]] = [:], input: [Float]) -> [Float] {
        ReferenceInterpreter.run(graph, weights: weights(graph, values), input: input, batch: 1)
    }

    static func expectClose(_ actual: [Float], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation)
    {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        let close = zip(actual, expected).allSatisfy { abs(Double($0) - $1) <= 1e-6 * max(1, abs($1)) }
        #expect(close, "got \(actual), expected \(expected)", sourceLocation: sourceLocation)
    }

    /// 1, 2, ..., 16 as one 4x4 channel.
    static let ramp: [Float] = (1...16).map(Float.init)

    @Test func pointwiseConvolutionWithBias() throws {
        let graph = try Self.network(input: [2, 2, 2], "- conv: {out: 3, kernel: 1, bias: true}")
        // Input channels a = 1 2 3 4, b = 5 6 7 8. Outputs: a + 0.5, b, 2a - b - 1.
        let y = Self.run(
            graph, ["stem.conv1.weight": [1, 0, 0, 1, 2, -1], "stem.conv1.bias": [0.5, 0, -1]],
            input: [1, 2, 3, 4, 5, 6, 7, 8])
        Self.expectClose(y, [1.5, 2.5, 3.5, 4.5, 5, 6, 7, 8, -4, -3, -2, -1])
    }

    @Test func paddedStridedConvolution() throws {
        let graph = try Self.network(input: [2, 4, 4], "- conv: {out: 2, kernel: 3, stride: 2, pad: 1}")
        // Channel 0 is the ramp 1...16 (row-major 4x4), channel 1 all ones. Output (oy, ox) centres the
        // 3x3 window on input (2 oy, 2 ox).
        // Output 0: top-left tap x1 (reads padding for every output but (1, 1)), bottom-right tap x2 on
        // channel 0, plus the centre tap of channel 1 (always inside): (0,0) 2*6+1, (0,1) 2*8+1,
        // (1,0) 2*14+1, (1,1) 6+2*16+1.
        // Output 1: all-ones kernel over channel 1 counts the taps inside the image: 4, 6, 6, 9.
        let corners: [Float] = [1, 0, 0, 0, 0, 0, 0, 0, 2], centre: [Float] = [0, 0, 0, 0, 1, 0, 0, 0, 0]
        let zeros = [Float](repeating: 0, count: 9), ones = [Float](repeating: 1, count: 9)
        let y = Self.run(
            graph, ["stem.conv1.weight": corners + centre + zeros + ones],
            input: Self.ramp + [Float](repeating: 1, count: 16))
        Self.expectClose(y, [13, 17, 29, 39, 4, 6, 6, 9])
    }

    @Test func groupedConvolution() throws {
        let graph = try Self.network(input: [4, 1, 1], "- conv: {out: 2, kernel: 1, groups: 2}")
        // Output 0 reads input channels 0-1, output 1 reads channels 2-3.
        let y = Self.run(graph, ["stem.conv1.weight": [1, 10, 100, 1000]], input: [1, 2, 3, 4])
        Self.expectClose(y, [1 + 20, 300 + 4000])
    }

    @Test func batchNormUsesRunningStatistics() throws {
        let graph = try Self.network(input: [2, 1, 2], "- batchnorm: {eps: 1}")
        // Channel 0: (x - 1) / sqrt(3 + 1) * 2 + 1 = x. Channel 1: x / sqrt(8 + 1) * 0.5 - 1 = x / 6 - 1.
        let y = Self.run(
            graph,
            [
                "stem.bn1.weight": [2, 0.5], "stem.bn1.bias": [1, -1],
                "stem.bn1.running_mean": [1, 0], "stem.bn1.running_var": [3, 8]
            ],
            input: [1, 3, -2, 4])
        Self.expectClose(y, [1, 3, -2.0 / 6 - 1, 4.0 / 6 - 1])
    }

    @Test func maxPoolPaddingNeverWins() throws {
        let graph = try Self.network(input: [1, 4, 4], "- maxpool: {kernel: 3, stride: 2, pad: 1}")
        // Every value negative: zero padding would give 0 in three windows; -inf padding does not.
        let y = Self.run(graph, input: Self.ramp.map { -$0 })
        Self.expectClose(y, [-1, -2, -5, -6])
    }

    @Test func avgPoolCountsPaddedZeros() throws {
        let graph = try Self.network(input: [1, 4, 4], "- avgpool: {kernel: 3, stride: 2, pad: 1}")
        // Window sums 1+2+5+6, 2+3+4+6+7+8, 5+6+9+10+13+14, 6+7+8+10+11+12+14+15+16, always over 9.
        Self.expectClose(Self.run(graph, input: Self.ramp), [14.0 / 9, 30.0 / 9, 57.0 / 9, 99.0 / 9])
        let plain = try Self.network(input: [1, 4, 4], "- avgpool: {kernel: 2}")
        Self.expectClose(Self.run(plain, input: Self.ramp), [3.5, 5.5, 11.5, 13.5])
    }

    @Test func globalAvgPool() throws {
        let graph = try Self.network(input: [2, 4, 4], "- global_avgpool")
        Self.expectClose(Self.run(graph, input: Self.ramp + Self.ramp.map { 2 * $0 }), [8.5, 17])
    }

    @Test func subsamplePadKeepsEveryStrideThPixelAndCentresTheChannels() throws {
        let graph = try Self.network(input: [2, 3, 3], "- subsample_pad: {out: 5, stride: 2}")
        // Rows and columns 0 and 2 of each 3x3 channel (0...8, 9...17); 3 new channels: 1 before, 2 after.
        let y = Self.run(graph, input: (0..<18).map(Float.init))
        let padBefore: [Double] = [0, 0, 0, 0], channel0: [Double] = [0, 2, 6, 8], channel1: [Double] = [9, 11, 15, 17]
        Self.expectClose(y, padBefore + channel0 + channel1 + [0, 0, 0, 0] + [0, 0, 0, 0])
    }

    @Test func linearFlattensItsInput() throws {
        let graph = try Self.network(input: [3, 1, 1], "- linear: {out: 2}")
        let y = Self.run(
            graph, ["stem.fc1.weight": [1, 0, -1, 0.5, 0.5, 0.5], "stem.fc1.bias": [10, -1]], input: [1, 2, 3])
        Self.expectClose(y, [1 - 3 + 10, 3 - 1])
        // Over a 2x1x2 image the weight columns follow C, H, W order.
        let image = try Self.network(input: [2, 1, 2], "- linear: {out: 1, bias: false}")
        Self.expectClose(Self.run(image, ["stem.fc1.weight": [1, 10, 100, 1000]], input: [1, 2, 3, 4]), [4321])
    }

    @Test func addMergesBodyAndIdentityShortcut() throws {
        let spec = """
            network: add
            input: [1, 1, 3]
            blocks:
              b:
                body: [relu, dropout: {p: 0.5}]
            stages:
              - {block: b, repeat: 1}
            """
        let graph = try compileInMemory(["spec.yaml": spec]).graph
        #expect(graph.nodes.map(\.op.mnemonic).suffix(1) == ["add"])
        // relu(x) + x.
        Self.expectClose(Self.run(graph, input: [-1, 2, -3]), [-1, 4, -3])
    }

    @Test func batchesAreIndependentSamples() throws {
        let graph = try Self.network(input: [1, 1, 2], "- linear: {out: 1}")
        let weights = Self.weights(graph, ["stem.fc1.weight": [1, 2], "stem.fc1.bias": [0.5]])
        let y = ReferenceInterpreter.run(graph, weights: weights, input: [1, 1, 2, 3, -1, 0], batch: 3)
        Self.expectClose(y, [3.5, 8.5, -0.5])
    }

    // MARK: - Against ONNX Runtime

    /// Everything the IR has, on 18x18 inputs: conv + batchnorm, a padded strided max pool (with no relu
    /// before or after it, so that windows of negative values show whether padding wins), a grouped conv, option-A blocks with a tied conv and a subsample_pad shortcut (odd sizes: 9 -> 5,
    /// 8 -> 11 channels, so 1 padded in front and 2 behind), pre-activation blocks with a projection
    /// shortcut, conv biases, dropout, a padded average pool, global average pool and a linear head.
    static let mixed = """
        network: mixed
        input: [3, 18, 18]
        blocks:
          option_a:
            args: {width: required, stride: 1}
            body:
              - conv: {out: $width, kernel: 3, stride: $stride, pad: 1, bias: true}
              - batchnorm
              - relu
              - conv: {out: $width, kernel: 3, pad: 1}
              - batchnorm
            shortcut:
              - subsample_pad: {out: $width, stride: $stride}
            post: [relu]
          preact:
            args: {width: required, stride: 1}
            pre: [batchnorm, relu]
            body:
              - conv: {out: $width, kernel: 1, stride: $stride}
              - batchnorm
              - relu
              - dropout: {p: 0.3}
              - conv: {out: $width, kernel: 3, pad: 1, groups: 4}
            shortcut:
              - conv: {out: $width, kernel: 1, stride: $stride}
        stem:
          - conv: {out: 8, kernel: 3, pad: 1}
          - batchnorm
          - maxpool: {kernel: 3, stride: 2, pad: 1}
          - conv: {out: 8, kernel: 3, pad: 1, groups: 2}
          - batchnorm
          - relu
        stages:
          - {block: option_a, width: 8, repeat: 2, share: {conv2: all}}
          - {block: option_a, width: 11, repeat: 1, stride: 2}
          - {block: preact, width: 16, repeat: 2, stride: 2}
        head:
          - batchnorm
          - relu
          - avgpool: {kernel: 3, stride: 2, pad: 1}
          - global_avgpool
          - linear: {out: 5}
        """

    /// A plain network whose head flattens a 4x2x2 image into a bias-free linear layer.
    static let flattening = """
        network: flattening
        input: [2, 8, 8]
        stem:
          - conv: {out: 4, kernel: 5, stride: 2, pad: 2}
          - batchnorm: {eps: 0.001}
          - relu
          - avgpool: {kernel: 2}
          - flatten
          - dropout
          - linear: {out: 3, bias: false}
        """

    static func deterministicInput(count: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in Float(random.normal()) }
    }

    /// Runs the exported model in ONNX Runtime on `input` (batch x the graph's input shape).
    static func onnxRuntime(_ graph: Graph, weights: WeightStore, input: [Float], batch: Int) throws -> [Float] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sharesc-reference-\(getpid())-\(graph.network)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("model.onnx").path
        let inputPath = directory.appendingPathComponent("input.npy").path
        let outputPath = directory.appendingPathComponent("output.npy").path
        try Data(ONNXExporter.export(graph, weights: weights)).write(to: URL(fileURLWithPath: model))
        try NumPyFile.write(input, shape: [batch] + graph.inputShape.dims, to: inputPath)
        let script = """
            import numpy as np, onnxruntime as ort
            options = ort.SessionOptions(); options.intra_op_num_threads = 1
            session = ort.InferenceSession('\(model)', options, providers=['CPUExecutionProvider'])
            np.save('\(outputPath)', session.run(None, {'input': np.load('\(inputPath)')})[0].astype(np.float32))
            """
        let (status, message) = try Python.run(script)
        guard status == 0 else {
            Issue.record("onnxruntime failed: \(message)")
            return []
        }
        let (shape, values) = try NumPyFile.read(outputPath)
        #expect(shape == [batch] + graph[graph.output].shape.dims)
        return values
    }

    @Test(
        .enabled(if: Python.hasONNXRuntime, "needs python3 with onnx, onnxruntime and numpy (.ci/run installs them)"),
        arguments: ["mixed", "flattening"])
    func agreesWithONNXRuntime(network: String) throws {
        let graph = try compileInMemory(["spec.yaml": network == "mixed" ? Self.mixed : Self.flattening]).graph
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 7, randomizeBatchNorm: true))
        let batch = 2
        let input = Self.deterministicInput(count: batch * graph.inputShape.elementCount, seed: 11)
        let expected = try Self.onnxRuntime(graph, weights: weights, input: input, batch: batch)
        let actual = ReferenceInterpreter.run(graph, weights: weights, input: input, batch: batch)
        try #require(actual.count == expected.count)
        let scale = largestMagnitude(expected)
        let difference = largestDifference(actual, expected)
        #expect(scale > 0)
        #expect(difference / scale <= 1e-4, "max abs diff \(difference), max abs \(scale)")
        // The two samples differ, so the batch is not one sample repeated.
        let half = expected.count / batch
        #expect(Array(actual[..<half]) != Array(actual[half...]))
    }
}
