import Foundation
import Testing

@testable import SharesCompiler

/// The protobuf writer against known encodings, and the exported model's structure read back with a
/// minimal wire-format reader written here (ONNX Runtime itself runs in Tests/onnxruntime and below
/// when Python has it).
struct ONNXExportTests {
    @Test func wireFormat() {
        var writer = ProtoWriter()
        writer.int(1, 300)
        #expect(writer.bytes == [0x08, 0xAC, 0x02])
        writer = ProtoWriter()
        writer.int(2, -1)
        #expect(writer.bytes == [0x10] + Array(repeating: 0xFF, count: 9) + [0x01])
        writer = ProtoWriter()
        writer.string(4, "Conv")
        #expect(writer.bytes == [0x22, 4] + Array("Conv".utf8))
        writer = ProtoWriter()
        writer.float(2, 1)
        #expect(writer.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F])
        writer = ProtoWriter()
        writer.message(7) { $0.int(1, 1) }
        #expect(writer.bytes == [0x3A, 2, 0x08, 0x01])
    }

    /// Fields of one message: (field number, varint value or bytes).
    static func fields(_ bytes: ArraySlice<UInt8>) -> [(Int, UInt64, ArraySlice<UInt8>)] {
        var result: [(Int, UInt64, ArraySlice<UInt8>)] = []
        var index = bytes.startIndex
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let key = varint()
            switch key & 7 {
            case 0: result.append((Int(key >> 3), varint(), []))
            case 2:
                let length = Int(varint())
                result.append((Int(key >> 3), 0, bytes[index..<index + length]))
                index += length
            case 5:
                result.append((Int(key >> 3), 0, bytes[index..<index + 4]))
                index += 4
            default:
                Issue.record("unexpected wire type")
                return result
            }
        }
        return result
    }

    /// Protobuf cannot hold 2 GiB in one message: such a model is refused before its weights are made
    /// (it was written, 2.2 GB that neither onnx nor ONNX Runtime could parse).
    @Test func modelsPastTwoGiBAreRefused() throws {
        let graph = try compileInMemory([
            "spec.yaml": "input: [1, 23, 23]\nhead: [{linear: {out: 1048576, bias: false}}]\n"
        ])
        .graph
        #expect(throws: CompileFailure.self) { try ONNXExporter.checkSize(graph) }
        do { try ONNXExporter.checkSize(graph) } catch {
            #expect(
                error.description
                    == "spec.yaml:1:1: error: the ONNX model would hold 2218786816 bytes, past protobuf's 2 GiB limit on one file; export the weights as safetensors (sharesc init) or the PyTorch module instead"
            )
        }
        let small = try compileInMemory([
            "spec.yaml": "input: [1, 23, 23]\nhead: [{linear: {out: 1000, bias: false}}]\n"
        ])
        try ONNXExporter.checkSize(small.graph)
    }

    @Test func tiedWeightIsOneInitializerReadByEveryUse() throws {
        let graph = try compileInMemory(PassTests.tiny).graph
        let bytes = try ONNXExporter.export(graph, weights: WeightInitializer.initialize(graph))
        let model = Self.fields(bytes[...])
        #expect(model.first { $0.0 == 1 }?.1 == UInt64(ONNXExporter.irVersion))
        let graphBytes = try #require(model.first { $0.0 == 7 }?.2)
        let graphFields = Self.fields(graphBytes)
        let initializerNames = graphFields.filter { $0.0 == 5 }.compactMap { tensor in
            Self.fields(tensor.2).first { $0.0 == 8 }.map { String(decoding: $0.2, as: UTF8.self) }
        }
        #expect(initializerNames == graph.parameters.map(\.name))
        let convInputs = graphFields.filter { $0.0 == 1 }.map { Self.fields($0.2) }
            .filter { node in node.contains { $0.0 == 4 && String(decoding: $0.2, as: UTF8.self) == "Conv" } }
            .map { node in node.filter { $0.0 == 1 }.map { String(decoding: $0.2, as: UTF8.self) } }
        #expect(convInputs.filter { $0.contains("stage1.shared.conv2.weight") }.count == 3)
        #expect(convInputs.first == ["input", "stem.conv1.weight"])
        let outputName = Self.fields(try #require(graphFields.first { $0.0 == 12 }?.2)).first { $0.0 == 1 }?.2
        #expect(outputName.map { String(decoding: $0, as: UTF8.self) } == "logits")
    }

    @Test(.enabled(if: Python.hasONNXRuntime, "needs python3 with onnx, onnxruntime and numpy (.ci/run installs them)"))
    func onnxRuntimeRunsTheExportedModel() throws {
        let graph = try compileInMemory(PassTests.tiny).graph
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-tiny-\(getpid()).onnx").path
        try Data(
            try ONNXExporter.export(graph, weights: WeightInitializer.initialize(graph, options: InitOptions(seed: 2)))
        ).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import onnx, onnxruntime as ort, numpy as np
            m = onnx.load('\(path)'); onnx.checker.check_model(m, full_check=True)
            y = ort.InferenceSession('\(path)').run(None, {'input': np.ones((3, 3, 8, 8), np.float32)})[0]
            assert y.shape == (3, 2) and np.isfinite(y).all(), y
            """
        let (status, message) = try Python.run(script)
        #expect(status == 0, "\(message)")
    }
    /// Every layer kind of the modern families, tied depthwise convolutions, layer norm and layer scale
    /// on images and on a vector, stochastic depth inside a residual block and at the very end.
    static let modern = [
        "spec.yaml": """
        network: modern
        input: [3, 8, 8]
        blocks:
          mb:
            args: {width: required, stride: 1}
            body:
              - conv: {out: 2 * $in_channels, kernel: 1}
              - batchnorm
              - relu6
              - depthwise: {kernel: 3, stride: $stride}
              - batchnorm
              - silu
              - squeeze_excite: {width: 2, activation: silu}
              - conv: {out: $width, kernel: 1}
              - batchnorm
              - stochastic_depth: {p: 0.1}
            merge: add-if-same-shape
          cn:
            body:
              - depthwise: {kernel: 5, bias: true}
              - layernorm: {eps: 1e-6}
              - conv: {out: 4 * $in_channels, kernel: 1, bias: true}
              - gelu
              - conv: {out: $in_channels, kernel: 1, bias: true}
              - hardswish
              - squeeze_excite: {width: 2}
              - sigmoid
              - layer_scale: {init: 0.5}
        stem: [conv: {out: 4, kernel: 3, pad: 1}]
        stages:
          - {block: mb, width: 4, repeat: 3, share: {dwconv1: after-first}}
          - {block: mb, width: 6, stride: 2}
          - {block: cn, repeat: 2, share: {dwconv1: all}}
        head: [global_avgpool, flatten, layernorm, linear: {out: 6}, layer_scale, gelu, stochastic_depth: {p: 0.2}]
        """
    ]

    /// Initializers keep the weights file's names and shapes (a layer scale stays [C]; the exporter
    /// reshapes it in the graph), each tied weight once.
    @Test func initializersKeepTheParametersShapes() throws {
        let graph = try compileInMemory(Self.modern).graph
        let bytes = try ONNXExporter.export(graph, weights: WeightInitializer.initialize(graph))
        let graphFields = Self.fields(try #require(Self.fields(bytes[...]).first { $0.0 == 7 }?.2))
        let initializers = graphFields.filter { $0.0 == 5 }.map { tensor in
            let fields = Self.fields(tensor.2)
            let name = fields.first { $0.0 == 8 }.map { String(decoding: $0.2, as: UTF8.self) }
            return (name ?? "", fields.filter { $0.0 == 1 }.map { Int($0.1) })
        }
        #expect(initializers.map(\.0) == graph.parameters.map(\.name))
        #expect(initializers.map(\.1) == graph.parameters.map(\.shape))
        #expect(graph.ties.count == 2)
    }

    /// ONNX Runtime on the exported model against the Swift reference interpreter on the graph: the
    /// exporter's rendering of each new op (Clip, the erf GELU, SiLU, the transposed LayerNormalization,
    /// the unsqueezed layer scale, the squeeze-and-excitation gate) means what the IR means.
    @Test(.enabled(if: Python.hasONNXRuntime, "needs python3 with onnx, onnxruntime and numpy (.ci/run installs them)"))
    func onnxRuntimeAgreesWithTheReferenceInterpreterOnTheModernOps() throws {
        let graph = try compileInMemory(Self.modern).graph
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 3, randomizeBatchNorm: true))
        let batch = 2
        let input = RandomInput.images(batch * graph.inputShape.elementCount, seed: 4)
        let expected = ReferenceInterpreter.run(graph, weights: weights, input: input, batch: batch)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-modern-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let paths = ["model.onnx", "x.f32", "y.f32"].map { directory.appendingPathComponent($0).path }
        let (model, x, y) = (paths[0], paths[1], paths[2])
        try Data(ONNXExporter.export(graph, weights: weights)).write(to: URL(fileURLWithPath: model))
        try input.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: x)) }
        try expected.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: y)) }
        let dims = ([batch] + graph.inputShape.dims).map(String.init).joined(separator: ", ")
        let script = """
            import onnx, onnxruntime as ort, numpy as np
            m = onnx.load('\(model)'); onnx.checker.check_model(m, full_check=True)
            x = np.fromfile('\(x)', np.float32).reshape(\(dims))
            expected = np.fromfile('\(y)', np.float32).reshape(\(batch), -1)
            actual = ort.InferenceSession('\(model)', providers=['CPUExecutionProvider']).run(None, {'input': x})[0]
            error = np.abs(actual - expected).max() / np.abs(expected).max()
            assert actual.shape == expected.shape and error < 1e-5, (actual.shape, error)
            """
        let (status, message) = try Python.run(script)
        #expect(status == 0, "\(message)")
    }
}
