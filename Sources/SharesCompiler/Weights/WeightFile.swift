import CKernels
import Foundation

/// A graph's weights as a safetensors file: one tensor per distinct parameter, under the parameter's
/// name (a tied weight once, as `stage3.shared.conv2.weight`), with the layers that use each tied
/// tensor listed in `__metadata__`.
public enum WeightFile {
    public static func encode(_ graph: Graph, _ weights: WeightStore, seed: UInt64? = nil) -> [UInt8] {
        let tensors = graph.parameters.map {
            Safetensors.Tensor(name: $0.name, shape: $0.shape, values: weights[$0.id])
        }
        return Safetensors.encode(tensors, metadata: metadata(graph, seed: seed))
    }

    /// The metadata keys that say which network and variant sharesc wrote a file for.
    static let networkKey = "sharesc.network", variantKey = "sharesc.variant"

    /// `sharesc.*` keys describe the file; every other key is a tied tensor, and its value the layers
    /// that use it as a JSON list (names may hold commas).
    static func metadata(_ graph: Graph, seed: UInt64?) -> [(key: String, value: String)] {
        var users: [ParameterID: [String]] = [:]
        for node in graph.nodes {
            for parameter in node.op.parameters where graph[parameter].tie != nil {
                users[parameter, default: []].append(node.name)
            }
        }
        var entries: [(key: String, value: String)] = [
            ("sharesc.format", "1"), (networkKey, graph.network), (variantKey, graph.variant.rawValue)
        ]
        if let seed { entries.append(("sharesc.seed", String(seed))) }
        for parameter in graph.parameters where parameter.tie != nil {
            let names = (users[parameter.id] ?? []).map(Safetensors.json)
            entries.append((parameter.name, "[" + names.joined(separator: ", ") + "]"))
        }
        return entries
    }

    /// Writes the file one tensor at a time, as `weights` hands them out.
    public static func write(_ graph: Graph, _ weights: some WeightProvider, to path: String, seed: UInt64? = nil)
        throws(CompileFailure)
    {
        try Safetensors.write(
            graph.parameters.map { ($0.name, $0.shape) }, metadata: metadata(graph, seed: seed),
            values: weights.values(of:), to: path)
    }

    /// The file's weights for the graph, and notes on what was adapted from a PyTorch checkpoint.
    public static func read(_ path: String, for graph: Graph) throws(CompileFailure)
        -> (weights: WeightStore, notes: [Diagnostic])
    {
        let reader = try WeightFileReader(path: path, for: graph)
        return (try WeightStore.collect(reader, count: graph.parameters.count), reader.notes)
    }

    /// Checks every tensor against the graph: each parameter present once with its shape, nothing extra.
    public static func bind(_ tensors: [Safetensors.Tensor], to graph: Graph, path: String) throws(CompileFailure)
        -> WeightStore
    {
        let order = try match(
            tensors.map { ($0.name, $0.shape) }, to: graph.parameters.map { ($0.name, $0.shape) }, path: path)
        return WeightStore(values: order.map { tensors[$0].values })
    }

    /// For each expected (name, shape), the index of the tensor that provides it. Every missing,
    /// misshapen or unexpected tensor is reported, not just the first.
    static func match(
        _ found: [(name: String, shape: [Int])], to expected: [(name: String, shape: [Int])],
        path: String
    ) throws(CompileFailure) -> [Int] {
        var sink = DiagnosticSink()
        let at = Location(file: path, line: 1, column: 1)
        var indexOfName: [String: Int] = [:]
        for (index, tensor) in found.enumerated() where indexOfName[tensor.name] == nil {
            indexOfName[tensor.name] = index
        }
        var order: [Int] = []
        for (name, shape) in expected {
            guard let index = indexOfName[name] else {
                sink.error(at: at, .weightMissing(name: name, shape: shape))
                continue
            }
            if found[index].shape != shape {
                sink.error(at: at, .weightShape(name: name, expected: shape, found: found[index].shape))
            }
            order.append(index)
        }
        let known = Set(expected.map(\.name))
        for tensor in found where !known.contains(tensor.name) {
            sink.error(at: at, .weightUnexpected(name: tensor.name))
        }
        try sink.check()
        return order
    }
}

/// Reads a safetensors file one tensor at a time (the header first, each tensor's bytes when asked),
/// so that loading a large network never holds the whole file in memory.
public final class WeightFileReader: WeightProvider {
    public let path: String
    public var file: String? { path }
    public private(set) var header: Safetensors.Header
    /// What was adapted in a file saved from PyTorch (counters dropped, prefix stripped, dtypes converted).
    public private(set) var notes: [Diagnostic] = []
    private let handle: FileHandle
    /// Header entry of each expected parameter, in the order given.
    private var entries: [Safetensors.Entry] = []

    /// Opens the file and checks its header; `expect` then binds tensors to parameters.
    public init(path: String) throws(CompileFailure) {
        self.path = path
        let handle: FileHandle
        do {
            handle = FileHandle(fileDescriptor: try InputFiles.openForReading(path), closeOnDealloc: true)
        } catch {
            throw Safetensors.failure(path, .cannotRead(path: path, reason: error.description))
        }
        self.handle = handle
        let fileSize: Int
        do {
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw Safetensors.failure(path, .cannotRead(path: path, reason: Paths.reason(error)))
        }
        let prefix = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        let length = try Safetensors.headerLength(prefix, fileSize: fileSize, path: path)
        let json = [UInt8]((try? handle.read(upToCount: length)) ?? Data())
        guard json.count == length else {
            throw Safetensors.failure(path, .weightsCorrupt("the file ends inside its header"))
        }
        header = try Safetensors.parseHeader(json[...], fileSize: fileSize, path: path)
    }

    /// Opens a weights file for a network (`notes` says what was adapted from a PyTorch checkpoint).
    public convenience init(path: String, for graph: Graph) throws(CompileFailure) {
        try self.init(path: path)
        try expect(
            graph.parameters.map { ($0.name, $0.shape) }, of: (graph.network, graph.variant.rawValue),
            otherVariant: { graph.otherVariant().map { ($0.variant.rawValue, $0.names) } })
    }

    /// Binds the expected parameters, in order, to the file's tensors, as adapted from a PyTorch
    /// checkpoint: every missing, extra or misshapen tensor is an error, after the notes on what was
    /// adapted (a stripped prefix explains the names the errors give), and after one error that says
    /// which network and variant the file holds, where sharesc wrote it for another (the names alone
    /// were dozens of errors with no hint).
    /// `otherVariant` gives the variant and parameter names of the network's other variant: a file
    /// whose names are all of those (a PyTorch checkpoint of the other export, which carries no
    /// metadata) gets the same error.
    public func expect(
        _ expected: [(name: String, shape: [Int])], of network: (name: String, variant: String)? = nil,
        otherVariant: (() -> (variant: String, names: [String])?)? = nil
    ) throws(CompileFailure) {
        (header, notes) = header.adaptedFromPyTorch(expecting: Set(expected.map(\.name)), path: path)
        do {
            let order = try WeightFile.match(header.entries.map { ($0.name, $0.shape) }, to: expected, path: path)
            entries = order.map { header.entries[$0] }
        } catch {
            // Which network and variant the file holds, where not this one: by its metadata (only a variant
            // sharesc writes: advice from another would be a guess), else by its names alone (a PyTorch
            // checkpoint of the other variant's export, which carries no metadata).
            let metadata = header.metadata
            var holds: (name: String, variant: String)?
            if let writtenFor = metadata[WeightFile.networkKey], let variant = metadata[WeightFile.variantKey],
                Graph.Variant(rawValue: variant) != nil
            {
                holds = (writtenFor, variant)
            } else if let network, let other = otherVariant?(), Set(other.names) == Set(header.entries.map(\.name)) {
                holds = (network.name, other.variant)
            }
            var identity: [Diagnostic] = []
            if let network, let holds, holds != network {
                identity = [
                    Diagnostic(
                        at: Location(file: path, line: 1, column: 1),
                        .weightsOfAnotherNetwork(
                            network: holds.name, variant: holds.variant, expected: network.name,
                            expectedVariant: network.variant))
                ]
            }
            throw CompileFailure(notes + identity + error.diagnostics)
        }
    }

    deinit { try? handle.close() }

    /// One tensor as float32: read into its array where it is float32 (one copy of it in memory, not
    /// three), and checked first to fit in memory, where the allocation would trap.
    public func values(of parameter: Int) throws(CompileFailure) -> [Float] {
        let entry = entries[parameter]
        let bytes = entry.end - entry.begin, floats = entry.count * MemoryLayout<Float>.size
        guard sc_can_allocate(entry.dtype == .f32 ? floats : bytes + floats) != 0 else {
            throw Safetensors.failure(path, .outOfMemory(bytes: floats, purpose: "tensor '\(entry.name)'"))
        }
        var complete = true
        let read = { (buffer: UnsafeMutableRawBufferPointer) in
            complete = InputFiles.read(
                self.handle.fileDescriptor, into: buffer, at: self.header.dataStart + entry.begin)
        }
        let values: [Float]
        if entry.dtype == .f32 {
            values = [Float](unsafeUninitializedCapacity: entry.count) { buffer, count in
                read(UnsafeMutableRawBufferPointer(buffer))
                count = entry.count
            }
        } else {
            let raw = [UInt8](unsafeUninitializedCapacity: bytes) { buffer, count in
                read(UnsafeMutableRawBufferPointer(buffer))
                count = bytes
            }
            values = complete ? Safetensors.floats(raw[...], entry.dtype) : []
        }
        guard complete else {
            throw Safetensors.failure(path, .weightsCorrupt("the file ends inside tensor '\(entry.name)'"))
        }
        return values
    }
}

extension Safetensors.Header {
    /// A `state_dict()` saved from PyTorch, made sharesc's for a network whose parameters are `expected`:
    /// step counters dropped (batchnorm's `num_batches_tracked`, int64 or converted to float, and
    /// AveragedModel's `n_averaged`), and a wrapper's prefix on every name stripped (`module.` of
    /// DistributedDataParallel, `_orig_mod.` of torch.compile, `model.` of a training framework's
    /// module, in any order) where that makes names the network's: a network whose own names all begin
    /// `module.` (its one stage named so) keeps them. One note for each, and one for
    /// float16/bfloat16 tensors, which are read as float32. Every other tensor is still checked by name
    /// and shape.
    func adaptedFromPyTorch(expecting expected: Set<String>, path: String) -> (
        header: Safetensors.Header, notes: [Diagnostic]
    ) {
        let at = Location(file: path, line: 1, column: 1)
        var adapted = self
        var notes: [Diagnostic] = []
        // An AveragedModel's own `module.` comes first (the model it averages may be wrapped too).
        var averaged = false
        if adapted.entries.contains(where: { $0.name == Safetensors.averagedCount }) {
            adapted.entries.removeAll { $0.name == Safetensors.averagedCount }
            notes.append(Diagnostic(.note, at: at, .weightsAveragedCountIgnored))
            averaged = true
        }
        // A prefix is stripped where that makes more names the network's, or where none is yet (the
        // first of two wrappers), four at most (DDP, torch.compile and an average make three): if none
        // is the network's at the end either, the names stay as the file has them.
        let wrappers = [
            "module.": "a DistributedDataParallel model's state_dict",
            "_orig_mod.": "a torch.compile model's state_dict"
        ]
        func known(_ entries: [Safetensors.Entry]) -> Int { entries.filter { expected.contains($0.name) }.count }
        let unstripped = adapted
        var prefixNotes: [Diagnostic] = []
        for _ in 0..<4 {
            guard let first = adapted.entries.first?.name.split(separator: ".", maxSplits: 1).first,
                case let prefix = first + ".",
                adapted.entries.allSatisfy({ $0.name.hasPrefix(prefix) && $0.name != prefix })
            else { break }
            var stripped = adapted
            for index in stripped.entries.indices { stripped.entries[index].name.removeFirst(prefix.count) }
            guard known(stripped.entries) > known(adapted.entries) || known(adapted.entries) == 0 else { break }
            adapted = stripped
            let wrapper =
                averaged && prefix == "module."
                ? "an AveragedModel's state_dict" : wrappers[String(prefix)] ?? "a wrapping module's state_dict"
            averaged = averaged && prefix != "module."
            prefixNotes.append(Diagnostic(.note, at: at, .weightsPrefixStripped(String(prefix), wrapper: wrapper)))
        }
        if known(adapted.entries) == 0 {
            adapted = unstripped
            prefixNotes = []
        }
        notes += prefixNotes
        // By name, whatever their type: a checkpoint converted to float32 throughout holds them as floats.
        let counters = adapted.entries.filter { Safetensors.isBatchCounter($0.name) }.count
        if counters > 0 {
            adapted.entries.removeAll { Safetensors.isBatchCounter($0.name) }
            notes.append(Diagnostic(.note, at: at, .weightsBatchCountersIgnored(count: counters)))
        }
        let converted = adapted.entries.filter { $0.dtype != .f32 }
        if !converted.isEmpty {
            let dtypes = [Safetensors.DType.f16, .bf16, .f64].filter { type in converted.contains { $0.dtype == type } }
            notes.append(
                Diagnostic(.note, at: at, .weightsConverted(count: converted.count, dtypes: dtypes.map(\.rawValue))))
        }
        return (adapted, notes)
    }
}
