import Foundation
import Testing

@testable import SharesCompiler

/// Initial weights, the safetensors file and its checks against the graph.
struct WeightTests {
    let graph: Graph = try! compileInMemory(PassTests.tiny).graph

    @Test func initializationIsDeterministicAndPerTensor() {
        let a = WeightInitializer.initialize(graph, options: InitOptions(seed: 7))
        #expect(a == WeightInitializer.initialize(graph, options: InitOptions(seed: 7)))
        #expect(a != WeightInitializer.initialize(graph, options: InitOptions(seed: 8)))
        #expect(zip(graph.parameters, a.values).allSatisfy { $0.elementCount == $1.count })
        // Batchnorm as the reference code sets it, unless asked for non-trivial statistics.
        for parameter in graph.parameters {
            switch parameter.role {
            case .bnScale, .bnVariance: #expect(a[parameter.id].allSatisfy { $0 == 1 })
            case .bnShift, .bnMean: #expect(a[parameter.id].allSatisfy { $0 == 0 })
            case .lnScale: #expect(a[parameter.id].allSatisfy { $0 == 1 })
            case .lnShift: #expect(a[parameter.id].allSatisfy { $0 == 0 })
            case .convWeight, .convBias, .linearWeight, .linearBias, .layerScale: break
            }
        }
        let randomized = WeightInitializer.initialize(graph, options: InitOptions(seed: 7, randomizeBatchNorm: true))
        let variance = graph.parameters.first { $0.role == .bnVariance }!
        #expect(randomized[variance.id].allSatisfy { $0 >= 0.5 && $0 < 2 } && Set(randomized[variance.id]).count > 1)
    }

    @Test func heNormalFanOutAndPyTorchLinear() throws {
        let big = try compileInMemory([
            "spec.yaml":
                "input: [64, 8, 8]\nstem: [conv: {out: 256, kernel: 3, pad: 1}, global_avgpool, linear: {out: 100}]\n"
        ]).graph
        let weights = WeightInitializer.initialize(big, options: InitOptions(seed: 1))
        let conv = weights.values[0].map(Double.init)
        let std = (conv.map { $0 * $0 }.reduce(0, +) / Double(conv.count)).squareRoot()
        let expected = (2.0 / Double(256 * 9)).squareRoot()
        #expect(abs(std / expected - 1) < 0.02)
        let linear = weights.values[1]
        #expect(linear.allSatisfy { abs($0) <= 1 / Float(256).squareRoot() })
        #expect(linear.max()! > 0.9 / Float(256).squareRoot())
    }

    @Test func roundTripIsBitForBitAndTiesAreStoredOnce() throws {
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 3, randomizeBatchNorm: true))
        let bytes = WeightFile.encode(graph, weights, seed: 3)
        let (tensors, metadata) = try Safetensors.decode(bytes, path: "w.safetensors")
        #expect(try WeightFile.bind(tensors, to: graph, path: "w.safetensors") == weights)
        #expect(tensors.count == graph.parameters.count)
        #expect(tensors.filter { $0.name.contains("shared") }.map(\.name) == ["stage1.shared.conv2.weight"])
        #expect(
            metadata["stage1.shared.conv2.weight"]
                == #"["stage1.block1.conv2", "stage1.block2.conv2", "stage1.block3.conv2"]"#)
        #expect(
            metadata["sharesc.network"] == "tiny" && metadata["sharesc.variant"] == "shared"
                && metadata["sharesc.seed"] == "3")
        // The data starts 8-byte aligned after the JSON header.
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
    }

    /// Files are written one tensor at a time (so that a network's weights are never held twice, or at
    /// all when generated): the bytes are those of the whole encoding, and a tensor that fails on the way
    /// leaves the file at the path as it was, with no temporary beside it.
    @Test func streamedFilesEqualTheirEncodingAndFailWhole() throws {
        struct FailingAt: WeightProvider {
            let weights: WeightStore, failing: Int
            func values(of parameter: Int) throws(CompileFailure) -> [Float] {
                guard parameter != failing else {
                    throw CompileFailure(Diagnostic(at: Location(file: "w", line: 1, column: 1), .emptySpec))
                }
                return weights.values[parameter]
            }
        }
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 5, randomizeBatchNorm: true))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-stream-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("w.safetensors").path
        try WeightFile.write(
            graph, WeightGenerator(graph, options: InitOptions(seed: 5, randomizeBatchNorm: true)), to: path, seed: 5)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == WeightFile.encode(graph, weights, seed: 5))
        #expect(throws: CompileFailure.self) {
            try WeightFile.write(graph, FailingAt(weights: weights, failing: graph.parameters.count - 1), to: path)
        }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == written)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["w.safetensors"])
    }

    func loadError(_ bytes: [UInt8]) -> String {
        do {
            let (tensors, _) = try Safetensors.decode(bytes, path: "w.safetensors")
            _ = try WeightFile.bind(tensors, to: graph, path: "w.safetensors")
            return "(loaded)"
        } catch {
            return error.description
        }
    }

    /// A file with the given JSON header and data bytes.
    func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    @Test func corruptFilesAreErrorsNotCrashes() {
        let good = WeightFile.encode(graph, WeightInitializer.initialize(graph))
        #expect(
            loadError([])
                == "w.safetensors:1:1: error: not a valid safetensors file: the file is 0 bytes, shorter than the 8-byte header length"
        )
        #expect(
            loadError(Array(good.prefix(6)))
                == "w.safetensors:1:1: error: not a valid safetensors file: the file is 6 bytes, shorter than the 8-byte header length"
        )
        #expect(
            loadError(Array(good.prefix(100))).hasPrefix(
                "w.safetensors:1:1: error: not a valid safetensors file: the header claims "))
        #expect(loadError(Array(good.dropLast(4))).contains("which do not hold 2 float32 values"))
        #expect(
            loadError(file("{not json"))
                == "w.safetensors:1:1: error: not a valid safetensors file: the header is not a JSON object")
        #expect(
            loadError([255, 255, 255, 255, 255, 255, 255, 255, 0]).contains(
                "the header claims 18446744073709551615 bytes"))
        #expect(
            loadError(
                file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: Array(repeating: 0, count: 8)))
                == "w.safetensors:1:1: error: tensor 'a' is U8; expected F32 (float32), or F16, BF16 or F64 (converted to float32)"
        )
        #expect(
            loadError(file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
                == "w.safetensors:1:1: error: not a valid safetensors file: tensor 'a' has an impossible shape [-1]")
        #expect(
            loadError(
                file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
            )
            .contains("impossible shape"))
        #expect(
            loadError(
                file(
                    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
                    data: Array(repeating: 0, count: 8)))
                == "w.safetensors:1:1: error: not a valid safetensors file: tensors 'a' and 'b' overlap")
        // The data is exactly the tensors' bytes: nothing before, between or after them.
        let one = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}}"#
        #expect(
            loadError(file(String(format: one, 0, 4), data: [0, 0, 0, 0, 9]))
                == "w.safetensors:1:1: error: not a valid safetensors file: data bytes 4 to 5 of 5 belong to no tensor")
        #expect(
            loadError(file(String(format: one, 1, 5), data: [0, 0, 0, 0, 9]))
                == "w.safetensors:1:1: error: not a valid safetensors file: data bytes 0 to 1 of 5 belong to no tensor")
        #expect(
            loadError(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#))
                == "w.safetensors:1:1: error: not a valid safetensors file: tensor 'a' of shape [2] needs 2 x 4 bytes, but the file has 0 data bytes"
        )
        #expect(
            loadError(file(#"{"a":{"dtype":"F32","shape":[1]}}"#))
                == "w.safetensors:1:1: error: not a valid safetensors file: tensor 'a' lacks a valid dtype, shape or data_offsets"
        )
        // Numbers written as floats or booleans are no dimensions or offsets (safetensors' reader refuses
        // them too); the header parser gave 8.0, 1e0 and true as 8, 1 and 1.
        for header in [
            #"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,
            #"{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}"#,
            #"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#,
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}"#
        ] {
            #expect(
                loadError(file(header, data: [0, 0, 0, 0])).hasSuffix(
                    "tensor 'a' lacks a valid dtype, shape or data_offsets"))
        }
    }

    /// A key given twice is refused, where the parser kept one of the two silently (a second
    /// `__metadata__`, a tensor listed twice); the reference safetensors reader refuses both.
    @Test func duplicateKeysAreRefused() {
        let a = #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let refused = "w.safetensors:1:1: error: not a valid safetensors file: "
        #expect(
            loadError(file(#"{"__metadata__":{},"# + a + #","__metadata__":{"x":"y"}}"#, data: [0, 0, 0, 0]))
                == refused + "key '__metadata__' appears twice in the top-level object")
        #expect(
            loadError(file("{" + a + "," + a + "}", data: [0, 0, 0, 0]))
                == refused + "key 'a' appears twice in the top-level object")
        #expect(
            loadError(file(#"{"__metadata__":{"k":"1","k":"2"},"# + a + "}", data: [0, 0, 0, 0]))
                == refused + "key 'k' appears twice in '__metadata__'")
        #expect(
            loadError(
                file(#"{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
                == refused + "key 'dtype' appears twice in 'a'")
    }

    /// The duplicate-key scan reads strings as JSON does: an escaped quote does not end one, an escape
    /// spells the same key as its character, and a key's text inside a value is no key.
    @Test func duplicateKeyScanReadsEscapes() {
        func scan(_ json: String) -> String? { Safetensors.duplicateKey(in: Array(json.utf8)) }
        #expect(scan(#"{"a\":":1,"a\":":2}"#) == #"key 'a":' appears twice in the top-level object"#)
        #expect(scan(#"{"a\\":1,"a\\\\":2,"a\\\"":3}"#) == nil)
        #expect(scan(#"{"a\\":1,"a\\":2}"#) == #"key 'a\' appears twice in the top-level object"#)
        #expect(scan(#"{"a":1,"\u0061":2}"#) == "key 'a' appears twice in the top-level object")
        #expect(scan(#"{"x":"a\",\"a\":","a":1,"y":["a","a"]}"#) == nil)
        #expect(scan(#"{"l":[{"a":1},{"a":2}],"o":{"a":1}}"#) == nil)
        #expect(scan(#"{"l":[{"b":1},{"a":1,"a":2}]}"#) == "key 'a' appears twice in 'l'")
        #expect(scan(#"{"o":{"p":{}},"q":{"a":{},"a":[]}}"#) == "key 'a' appears twice in 'q'")
        #expect(scan(#"["a","a"]"#) == nil)
    }

    /// Generated weights larger than the machine can allocate (a legal spec: 2^40 floats) are an error at
    /// the layer that uses them, for every command that generates them, where the allocation trapped.
    @Test func unallocatableGeneratedWeightsAreAnError() throws {
        let spec = "input: [1048576, 1, 1]\nstem: [conv: {out: 1048576, kernel: 1}]\n"
        let graph = try compileInMemory(["spec.yaml": spec]).graph
        let expected =
            "spec.yaml:2:8: error: cannot allocate 4398046511104 bytes for 'stem.conv1.weight'; this machine has too little free memory"
        let source = WeightSource.initialized(InitOptions())
        #expect(throws: CompileFailure.self) { _ = try source.provider(for: graph) }
        #expect(throws: CompileFailure.self) { _ = try source.load(for: graph) }
        do {
            _ = try source.provider(for: graph)
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func missingExtraAndMisshapenTensorsAreNamed() throws {
        let weights = WeightInitializer.initialize(graph)
        var tensors = graph.parameters.map {
            Safetensors.Tensor(name: $0.name, shape: $0.shape, values: weights[$0.id])
        }
        tensors.removeAll { $0.name == "head.fc1.bias" }
        tensors[0].shape = [4, 3, 1, 1, 1]
        tensors.append(
            .init(name: "stage1.block2.conv2.weight", shape: [4, 4, 3, 3], values: Array(repeating: 0, count: 144)))
        let message: String
        do {
            _ = try WeightFile.bind(tensors, to: graph, path: "w.safetensors")
            message = "(loaded)"
        } catch { message = error.description }
        #expect(
            message == """
                w.safetensors:1:1: error: tensor 'stem.conv1.weight' has shape [4, 3, 1, 1, 1]; the network expects [4, 3, 1, 1]
                w.safetensors:1:1: error: missing tensor 'head.fc1.bias' of shape [2]
                w.safetensors:1:1: error: tensor 'stage1.block2.conv2.weight' is not a parameter of this network
                """)
    }

    @Test func sharedWeightsDoNotFitTheSequentialVariant() throws {
        let sequential = Untie.run(graph)
        let bytes = WeightFile.encode(graph, WeightInitializer.initialize(graph))
        let (tensors, _) = try Safetensors.decode(bytes, path: "w.safetensors")
        #expect(throws: CompileFailure.self) { try WeightFile.bind(tensors, to: sequential, path: "w.safetensors") }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: CompileFailure.self) { try WeightFile.read("/no/such/weights.safetensors", for: graph) }
    }
}
