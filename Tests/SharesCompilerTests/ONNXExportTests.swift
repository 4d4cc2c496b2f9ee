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

    @Test func tiedWeightIsOneInitializerReadByEveryUse() throws {
        let graph = try compileInMemory(PassTests.tiny).graph
        let bytes = ONNXExporter.export(graph, weights: WeightInitializer.initialize(graph))
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
            ONNXExporter.export(graph, weights: WeightInitializer.initialize(graph, options: InitOptions(seed: 2)))
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
}
