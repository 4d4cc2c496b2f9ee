import Foundation
import Testing

@testable import SharesCompiler

/// Weights saved from a PyTorch model's state_dict(): batchnorm counters, a DDP `module.` prefix and
/// half-precision tensors are adapted with a note; everything else is still checked by name and shape.
struct PyTorchWeightTests {
    let graph: Graph = try! compileInMemory(PassTests.tiny).graph

    /// A safetensors file of raw tensors: (name, dtype, shape, little-endian bytes).
    static func file(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])]) -> [UInt8] {
        var entries: [String] = []
        var data: [UInt8] = []
        for tensor in tensors {
            entries.append(
                "\(Safetensors.json(tensor.name)):{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                    + "\"data_offsets\":[\(data.count),\(data.count + tensor.bytes.count)]}")
            data += tensor.bytes
        }
        let json = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    /// The graph's weights as PyTorch saves them: float32, plus an int64 counter per batchnorm.
    func stateDict(_ weights: WeightStore, prefix: String = "", of network: Graph? = nil) -> [(
        name: String, dtype: String, shape: [Int], bytes: [UInt8]
    )] {
        let graph = network ?? graph
        var tensors = graph.parameters.map { (prefix + $0.name, "F32", $0.shape, Self.bytes(weights[$0.id])) }
        for parameter in graph.parameters where parameter.role == .bnMean {
            let layer = parameter.name.dropLast(".running_mean".count)
            tensors.append((prefix + layer + ".num_batches_tracked", "I64", [], Self.bytes([Int64(391)])))
        }
        return tensors
    }

    /// Loads through the file reader, as `run`, `compile -o` and `export` do.
    func load(_ bytes: [UInt8], for network: Graph? = nil) throws(CompileFailure) -> (WeightStore, notes: [String]) {
        let graph = network ?? graph
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sharesc-\(UUID().uuidString).safetensors"
        ).path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try WeightFileReader(path: path, for: graph)
        var values: [[Float]] = []
        for index in graph.parameters.indices { values.append(try reader.values(of: index)) }
        return (
            WeightStore(values: values),
            reader.notes.map { $0.rendered.replacingOccurrences(of: path, with: "w.safetensors") }
        )
    }

    func loadError(_ bytes: [UInt8]) -> String {
        do {
            _ = try load(bytes)
            return "(loaded)"
        } catch {
            return error.diagnostics.filter { $0.severity == .error }.map(\.message).joined(separator: "\n")
        }
    }

    @Test func batchnormCountersAreIgnoredWithANote() throws {
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 2, randomizeBatchNorm: true))
        let (loaded, notes) = try load(Self.file(stateDict(weights)))
        #expect(loaded == weights)
        let counters = graph.parameters.filter { $0.role == .bnMean }.count
        #expect(
            notes == [
                "w.safetensors:1:1: note: ignored \(counters) num_batches_tracked tensors (PyTorch's batchnorm step counters, not weights)"
            ])
        // A checkpoint converted to float32 throughout holds them as floats: still counters, by name (they
        // were reported as tensors sharesc does not know).
        let converted = stateDict(weights).map { tensor in
            tensor.dtype == "I64" ? (tensor.name, "F32", tensor.shape, Self.bytes([Float(391)])) : tensor
        }
        let (fromFloats, floatNotes) = try load(Self.file(converted))
        #expect(fromFloats == weights && floatNotes == notes)
    }

    @Test func aDistributedDataParallelPrefixIsStripped() throws {
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 4))
        let (loaded, notes) = try load(Self.file(stateDict(weights, prefix: "module.")))
        #expect(loaded == weights)
        #expect(
            notes.first
                == "w.safetensors:1:1: note: stripped the prefix 'module.' from every tensor name (a DistributedDataParallel model's state_dict)"
        )
        #expect(notes.count == 2)
        // torch.compile's wrapper, alone or around (or inside) DistributedDataParallel's.
        for prefix in ["_orig_mod.", "module._orig_mod.", "_orig_mod.module."] {
            let (compiled, compiledNotes) = try load(Self.file(stateDict(weights, prefix: prefix)))
            #expect(compiled == weights)
            #expect(
                compiledNotes.contains(
                    "w.safetensors:1:1: note: stripped the prefix '_orig_mod.' from every tensor name (a torch.compile model's state_dict)"
                ))
            #expect(compiledNotes.count == prefix.split(separator: ".").count + 1)
        }
    }

    @Test func halfPrecisionTensorsBecomeFloat32() throws {
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 5))
        // Values every format holds exactly, so the expected float32 values are known.
        let exact: [Float] = [1, -2, 0.5, 1.5, -0.375, 3, 0.25, -1]
        var expected = weights
        var tensors = stateDict(weights)
        for (index, parameter) in graph.parameters.enumerated()
        where parameter.role == .convWeight || parameter.role == .linearWeight {
            let values = (0..<parameter.elementCount).map { exact[$0 % exact.count] }
            expected.values[index] = values
            // Alternate the two half formats over the tensors.
            if index % 2 == 0 {
                tensors[index] = (
                    parameter.name, "BF16", parameter.shape, Self.bytes(values.map { UInt16($0.bitPattern >> 16) })
                )
            } else {
                tensors[index] = (
                    parameter.name, "F16", parameter.shape, Self.bytes(values.map { Float16($0).bitPattern })
                )
            }
        }
        let (loaded, notes) = try load(Self.file(tensors))
        #expect(loaded == expected)
        #expect(notes.last?.contains("from F16 and BF16 to float32") == true)
    }

    @Test func float16ConversionIsExact() {
        #expect(Safetensors.float16(0x3C00) == 1)
        #expect(Safetensors.float16(0xC000) == -2)
        #expect(Safetensors.float16(0x7BFF) == 65504)
        #expect(Safetensors.float16(0x0001) == 0x1p-24)
        #expect(Safetensors.float16(0x03FF) == Float(0x3FF) * 0x1p-24)
        #expect(Safetensors.float16(0x7C00) == .infinity && Safetensors.float16(0xFC00) == -.infinity)
        #expect(Safetensors.float16(0x7E00).isNaN)
        #expect(Safetensors.float16(0x8000).sign == .minus && Safetensors.float16(0x8000) == 0)
        for bits in stride(from: UInt16(0), to: 0x7C00, by: 7) {
            #expect(Safetensors.float16(bits) == Float(Float16(bitPattern: bits)))
        }
    }

    @Test func otherIntegerTensorsAreStillErrors() {
        let weights = WeightInitializer.initialize(graph)
        var tensors = stateDict(weights)
        tensors.append(("stage1.block1.bn1.step", "I64", [], Self.bytes([Int64(1)])))
        #expect(
            loadError(Self.file(tensors))
                == "tensor 'stage1.block1.bn1.step' is I64; expected F32 (float32), or F16, BF16 or F64 (converted to float32)"
        )
        tensors[tensors.count - 1].dtype = "I32"
        tensors[tensors.count - 1].bytes = Self.bytes([Int32(1)])
        #expect(loadError(Self.file(tensors)).hasPrefix("tensor 'stage1.block1.bn1.step' is I32; expected F32"))
    }

    /// A counter saved as int32 (or any type) is ignored like an int64 one; float64 weights (`.double()`)
    /// are read rounded to float32, as PyTorch's `.float()` rounds them, and said so.
    @Test func int32CountersAndFloat64WeightsAreRead() throws {
        let weights = WeightInitializer.initialize(graph)
        let tensors = stateDict(weights).map { tensor in
            var tensor = tensor
            if tensor.dtype == "I64" {
                (tensor.dtype, tensor.bytes) = ("I32", Self.bytes([Int32(391)]))
            } else {
                let values = tensor.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                (tensor.dtype, tensor.bytes) = ("F64", Self.bytes(values.map { Double($0) }))
            }
            return tensor
        }
        let (loaded, notes) = try load(Self.file(tensors))
        #expect(loaded == weights)
        let counters = graph.parameters.filter { $0.role == .bnMean }.count
        #expect(
            notes == [
                "w.safetensors:1:1: note: ignored \(counters) num_batches_tracked tensors (PyTorch's batchnorm step counters, not weights)",
                "w.safetensors:1:1: note: converted \(graph.parameters.count) tensors from F64 to float32"
            ])
    }

    /// A checkpoint of the other variant's PyTorch export carries no metadata: its names alone tell
    /// (every tied weight once per use, or once for all), and the first error says which variant it is
    /// and what to add, where a page of missing and unexpected tensors said nothing of it.
    @Test func aCheckpointOfTheOtherVariantIsNamedSo() throws {
        let sequential = Untie.run(graph)
        let sharedFile = Self.file(stateDict(WeightInitializer.initialize(graph)))
        let sequentialFile = Self.file(stateDict(WeightInitializer.initialize(sequential), of: sequential))
        func firstError(_ bytes: [UInt8], for network: Graph) -> String? {
            do {
                _ = try load(bytes, for: network)
                return nil
            } catch {
                return error.diagnostics.first { $0.severity == .error }?.message
            }
        }
        #expect(
            firstError(sequentialFile, for: graph)
                == "the file holds the weights of the sequential variant of '\(graph.network)', and this is its shared variant; add --sequential"
        )
        #expect(
            firstError(sharedFile, for: sequential)
                == "the file holds the weights of the shared variant of '\(graph.network)', and this is its sequential variant; leave out --sequential"
        )
        // A file of neither variant gets no such error.
        let other = Self.file(Array(stateDict(WeightInitializer.initialize(graph)).dropFirst()))
        #expect(firstError(other, for: graph)?.hasPrefix("missing tensor") == true)
    }

    @Test func aPrefixOnSomeNamesIsNotStripped() {
        var tensors = stateDict(WeightInitializer.initialize(graph), prefix: "module.")
        tensors[0].name.removeFirst("module.".count)
        let message = loadError(Self.file(tensors))
        #expect(message.contains("missing tensor '\(graph.parameters[1].name)'"))
        #expect(message.contains("tensor 'module.\(graph.parameters[1].name)' is not a parameter of this network"))
    }

    /// Any one wrapper's prefix (a training framework's `model.`), and AveragedModel's `module.` beside
    /// its `n_averaged`; a failure keeps the notes, which explain the names its errors give.
    @Test func anyWrapperPrefixIsStrippedWhereTheNamesThenFit() throws {
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 6))
        let (loaded, notes) = try load(Self.file(stateDict(weights, prefix: "model.")))
        #expect(loaded == weights)
        let stripped = "stripped the prefix 'model.' from every tensor name (a wrapping module's state_dict)"
        #expect(notes.contains("w.safetensors:1:1: note: " + stripped))
        let averaged = stateDict(weights, prefix: "module.") + [("n_averaged", "I64", [], Self.bytes([Int64(5)]))]
        let (fromAverage, averageNotes) = try load(Self.file(averaged))
        #expect(fromAverage == weights)
        #expect(
            averageNotes.contains(
                "w.safetensors:1:1: note: ignored 'n_averaged' (an AveragedModel's count of averaged models, not a weight)"
            ))
        // Its `module.` is the average's (it said a DistributedDataParallel model's), a second the DDP's.
        let average = "stripped the prefix 'module.' from every tensor name (an AveragedModel's state_dict)"
        let ddp = "stripped the prefix 'module.' from every tensor name (a DistributedDataParallel model's state_dict)"
        #expect(averageNotes.contains("w.safetensors:1:1: note: " + average))
        let twice = stateDict(weights, prefix: "module.module.") + [("n_averaged", "I64", [], Self.bytes([Int64(5)]))]
        let (_, twiceNotes) = try load(Self.file(twice))
        #expect(
            twiceNotes.filter { $0.contains("stripped") } == [
                "w.safetensors:1:1: note: " + average, "w.safetensors:1:1: note: " + ddp
            ])
        var misshapen = stateDict(weights, prefix: "model.")
        misshapen[0].shape += [1]
        #expect(throws: CompileFailure.self) { try load(Self.file(misshapen)) }
        do { _ = try load(Self.file(misshapen)) } catch {
            #expect(error.diagnostics.map(\.severity) == [.note, .note, .error])
            #expect(error.diagnostics[0].message == stripped)
            #expect(error.diagnostics[2].message.hasPrefix("tensor '\(graph.parameters[0].name)' has shape"))
        }
    }

    /// Files handed over for safetensors by mistake (PyTorch's own checkpoints, a spec) are named with what to do.
    @Test func torchSaveFilesAreNamed() {
        let body = [UInt8](repeating: 7, count: 200)
        let save = "; save the state_dict with safetensors.torch.save_file instead)"
        #expect(
            loadError([0x50, 0x4B, 0x03, 0x04] + body).hasSuffix("(it is a zip archive, as torch.save writes" + save))
        #expect(
            loadError([0x80, 0x02] + body).hasSuffix("(it is a pickle, as torch.save's legacy format writes" + save))
        // And a spec, handed over as a plan by its name.
        #expect(
            loadError(Array("network: n\ninput: [3, 8, 8]\n".utf8)).hasSuffix(
                "(it begins as text, as a spec does; a file named .plan is read as a plan)"))
    }

    /// A network whose own names all begin as a wrapper's (its one stage named `module`) keeps them: they
    /// were stripped as DistributedDataParallel's, and sharesc refused its own `init` file.
    @Test func aNetworkNamedLikeAWrapperKeepsItsNames() throws {
        let spec = """
            input: [3, 8, 8]
            blocks:
              b:
                body: [{conv: {out: 3, kernel: 3, pad: 1}}, batchnorm]
            stages:
              - {name: module, block: b, repeat: 2, share: {conv1: all}}
            """
        let own = try compileInMemory(["spec.yaml": spec]).graph
        #expect(own.parameters.allSatisfy { $0.name.hasPrefix("module.") })
        let weights = WeightInitializer.initialize(own, options: InitOptions(seed: 7))
        let (loaded, notes) = try load(Self.file(stateDict(weights, of: own)), for: own)
        #expect(loaded == weights)
        #expect(notes.count == 1 && notes[0].contains("num_batches_tracked"))
    }

    @Test func halfPrecisionTensorsAreStillCheckedByShapeAndSize() {
        var tensors = stateDict(WeightInitializer.initialize(graph))
        let first = graph.parameters[0]
        tensors[0] = (
            first.name, "F16", first.shape + [1], Self.bytes([UInt16](repeating: 0x3C00, count: first.elementCount))
        )
        #expect(
            loadError(Self.file(tensors))
                == "tensor '\(first.name)' has shape \(Message.shape(first.shape + [1])); the network expects \(Message.shape(first.shape))"
        )
        tensors[0] = (
            first.name, "BF16", first.shape, Self.bytes([UInt16](repeating: 0x3F80, count: first.elementCount - 1))
        )
        #expect(loadError(Self.file(tensors)).contains("which do not hold \(first.elementCount) BF16 values"))
    }
}
