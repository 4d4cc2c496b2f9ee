import Foundation

/// Writes a network as one self-contained PyTorch file (it imports only `torch`): a class per block
/// template, the stem, stages and head as modules whose tree mirrors sharesc's parameter names, so
/// `state_dict()` holds exactly the tensors of `sharesc init` (plus PyTorch's `num_batches_tracked`).
/// A tied weight is one `nn.Conv2d` in a `shared` module (`stage3.shared.conv2`, or `shared.G` for a
/// group spanning stages), registered once and referenced by each block that uses it.
public enum TorchExporter {
    /// Names of the generated file's own definitions; block arguments and classes steer clear of them.
    static let reserved: Set<String> = [
        "self", "in_channels", "in_features", "project", "tied", "nn", "F", "torch", "OrderedDict",
        "conv2d", "super", "TiedConv2d", "SubsamplePad", "Stage", "create_model", "INPUT_SHAPE",
        "SqueezeExcitation", "LayerNorm2d", "LayerScale", "StochasticDepth"
    ]

    public static func export(_ compilation: Compilation) throws(CompileFailure) -> String {
        let graph = compilation.graph, spec = compilation.spec
        let globals = try spec.globalScope()
        let holders = try Holders(graph, spec: spec)
        // Looked up once, not searched for each stage and block: a search per block made large networks'
        // export quadratic (20,000 blocks took minutes).
        let nodesOfSection = Dictionary(grouping: graph.nodes, by: \.section)
        let stagesOfTemplate = Dictionary(grouping: spec.stages.indices, by: { spec.stages[$0].block.value })
        // Each stage's arguments, evaluated once: the classes ask which are real numbers, the network
        // passes them to the blocks.
        var stageArguments: [[String: Number]] = []
        for stage in spec.stages {
            var values: [String: Number] = [:]
            for argument in stage.arguments { values[argument.name.value] = try globals.evaluate(argument.value) }
            stageArguments.append(values)
        }

        // One class per template, in order of first use.
        var classes: [String: TorchBlockClass] = [:]
        var classOrder: [String] = []
        var taken = reserved
        let networkClass = PythonSource.localName(PythonSource.className(graph.network), avoiding: taken)
        taken.insert(networkClass)
        for stage in spec.stages where classes[stage.block.value] == nil {
            let template = spec.blocks[stage.block.value]!
            let stages = stagesOfTemplate[template.name]!
            // A template that builds no block (its stages repeat it 0 times) needs no class, and may
            // hold what a class could not (a linear over features that depend on the image size).
            if stages.allSatisfy({ graph.stages[$0].blocks == 0 }) { continue }
            let tieable = Set(
                stages.flatMap { index in
                    (1...max(graph.stages[index].blocks, 1)).flatMap {
                        holders.tiedConvolutions(ofStage: index, block: $0).map(\.conv)
                    }
                })
            var name = PythonSource.className(template.name)
            if !name.lowercased().hasSuffix("block") { name += "Block" }
            name = PythonSource.localName(name, avoiding: taken)
            taken.insert(name)
            // The blocks of every stage using the template read images, or every one reads vectors.
            let inputs = stages.compactMap { index in
                nodesOfSection[.block(stage: index, block: 1)]?.first.map { graph[$0.inputs[0]].shape.dims.count == 1 }
            }
            if Set(inputs).count > 1 {
                throw CompileFailure(
                    Diagnostic(
                        at: template.location,
                        .torchUnsupported(
                            layer: "block '\(template.name)'",
                            reason: "some stages give it images and others vectors; use two templates")))
            }
            // The arguments some stage gives as real numbers: a division in a default that reads one is
            // true division, not the exact division of whole numbers.
            let realArguments = Set(stages.flatMap { stageArguments[$0].filter { !$0.value.isWhole }.keys })
            classes[template.name] = try TorchBlockClass(
                template, className: name, tieable: tieable, vectorInput: inputs.first ?? false,
                globals: globals, realArguments: realArguments, reserved: taken)
            classOrder.append(template.name)
        }

        // Top-level definitions, two blank lines apart: the helper modules the code below calls, then the
        // blocks and the network.
        let code =
            classOrder.map { classes[$0]!.source }
            + [
                try networkSource(
                    compilation, className: networkClass, classes: classes, holders: holders,
                    nodesOfSection: nodesOfSection, stageArguments: stageArguments, globals: globals)
            ]
        var definitions: [String] = []
        if holders.usesTiedConvolutions { definitions.append(TorchPrelude.tiedConvolution) }
        if graph.nodes.contains(where: { if case .subsamplePad = $0.op { return true } else { return false } }) {
            definitions.append(TorchPrelude.subsamplePad)
        }
        for (name, helper) in TorchPrelude.layerModules where code.contains(where: { $0.contains(name + "(") }) {
            definitions.append(helper)
        }
        if !spec.stages.isEmpty { definitions.append(TorchPrelude.stage(holdsShared: !holders.stages.isEmpty)) }
        definitions += code
        definitions.append(
            """
            def create_model():
                \"\"\"\(PythonSource.docstringText(graph.network)) (\(graph.variant.rawValue)), freshly initialised.\"\"\"
                return \(networkClass)()
            """)
        let source = PythonSource.wrappingLongCalls(
            definitions.map { $0.trimmingCharacters(in: .newlines) }.joined(separator: "\n\n\n") + "\n")
        var imports: [String] = []
        if source.contains("OrderedDict(") { imports += ["from collections import OrderedDict", ""] }
        if source.contains("torch.") { imports.append("import torch") }
        if source.contains("F.") { imports.append("import torch.nn.functional as F") }
        imports.append("from torch import nn")
        let input = graph.inputShape.dims.map(String.init).joined(separator: ", ")
        return docstring(compilation.report) + "\n" + imports.joined(separator: "\n")
            + "\n\nINPUT_SHAPE = (\(input))  # channels, height, width of one sample\n\n\n" + source
    }

    private static func docstring(_ report: Report) -> String {
        let p = report.parameters
        let settings = report.overrides.map { " --set \($0)" }.joined()
        let input = report.input.dims.map(String.init).joined(separator: " x ")
        let output = report.output.dims.map(String.init).joined(separator: " x ")
        var lines = [
            "\(report.network) (\(report.variant.rawValue)), generated by `sharesc export` from \(report.source)\(settings).",
            "",
            "Parameters: \(Format.grouped(p.total)) distinct, trainable; \(Format.grouped(p.perUse)) counted per use; "
                + "\(Format.grouped(p.saved)) saved by sharing (\(Format.percent(p.saved, of: p.perUse))).",
            "Buffers (batchnorm statistics): \(Format.grouped(p.buffers)). MACs per image: \(Format.grouped(report.macs)).",
            "Input N x \(input) float32; output N x \(output) (\(report.output.isImage ? "a feature map" : "the logits")).",
            "",
            "`create_model()` builds the network. Module paths mirror sharesc's names, so `state_dict()`",
            "holds the tensors of `sharesc init` (plus PyTorch's num_batches_tracked) and a safetensors",
            "file of it goes back to `sharesc run --weights`."
        ]
        if p.saved > 0 {
            lines += [
                "A tied weight is one convolution in a `shared` module, registered once; the blocks that",
                "use it hold a TiedConv2d, so autograd sums its gradient over the uses."
            ]
        }
        return "\"\"\"" + PythonSource.docstringText(lines.joined(separator: "\n")) + "\n\"\"\"\n"
    }

    private static func networkSource(
        _ compilation: Compilation, className: String, classes: [String: TorchBlockClass],
        holders: Holders, nodesOfSection: [Section: [GraphNode]], stageArguments: [[String: Number]], globals: Scope
    ) throws(CompileFailure) -> String {
        let graph = compilation.graph, spec = compilation.spec
        var lines = [
            "class \(className)(nn.Module):",
            "    \"\"\"\(PythonSource.docstringText(graph.network)) (\(graph.variant.rawValue)).\"\"\"",
            "",
            "    def __init__(self):",
            "        super().__init__()"
        ]
        var modules: [String] = []
        if let stem = try section(spec.stem, prefix: "stem.", graph: graph, globals: globals) {
            lines.append("        self.stem = \(stem)")
            modules.append("stem")
        }
        if !holders.root.isEmpty {
            lines.append("        self.shared = \(holders.moduleDict(holders.root, indent: "        "))")
        }
        var current = graph.nodes.last { $0.section == .stem }!.id
        for (index, stage) in spec.stages.enumerated() {
            let name = stage.name.value
            guard PythonSource.isModuleName(name), !["stem", "head", "shared"].contains(name) else {
                throw CompileFailure(Diagnostic(at: stage.name.location, .torchName(name, what: "stage")))
            }
            let own = holders.stages[index] ?? []
            if !own.isEmpty { lines.append("        shared = \(holders.moduleDict(own, indent: "        "))") }
            var values = stageArguments[index]
            let stride = try stage.stride.map { stride throws(CompileFailure) in try globals.evaluate(stride) }
            // Each block's constructor call, and the same call with its block number as `n`.
            var calls: [String] = [], numbered: [String?] = []
            for block in 1...max(graph.stages[index].blocks, 1) where graph.stages[index].blocks > 0 {
                let blockClass = classes[stage.block.value]!  // every template that builds a block has one
                let nodes = nodesOfSection[.block(stage: index, block: block)] ?? []
                let input = current
                current = nodes.last?.id ?? current
                var project = false
                let add = nodes.first { $0.name == "\(name).block\(block).add" }
                if let add { project = graph[add.inputs[0]].shape != graph[input].shape }
                if let stride { values["stride"] = block == 1 ? stride : .int(1) }
                values[BlockBuiltins.blockNumber] = .int(block)
                // The generated block decides its residual from its arguments: check it decides as sharesc did.
                let scope = try blockScope(
                    spec.blocks[stage.block.value]!, globals: globals, values: values,
                    inChannels: graph[input].shape.channels)
                guard blockClass.residual.holds(in: scope) == (add != nil) else {
                    throw CompileFailure(
                        Diagnostic(
                            at: stage.location,
                            .torchUnsupported(
                                layer: "\(name).block\(block)",
                                reason:
                                    "whether its body keeps the input's shape, which decides its residual sum, depends on the image size, which the generated block does not know"
                            )))
                }
                let tied = holders.tiedConvolutions(ofStage: index, block: block)
                calls.append(
                    blockClass.instance(
                        inChannels: graph[input].shape.dims[0], values: values, project: project, tied: tied,
                        indent: "            "))
                numbered.append(
                    blockClass.takesBlockNumber
                        ? blockClass.instance(
                            inChannels: graph[input].shape.dims[0], values: values, project: project, tied: tied,
                            indent: "            ", blockNumber: "n") : nil)
            }
            var arguments: [String] = []
            var start = 0
            // Three or more alike blocks in a row are written once, in a generator: the same call, or the same
            // call but for the block number.
            while start < calls.count {
                var end = start
                while end + 1 < calls.count && calls[end + 1] == calls[start] { end += 1 }
                var numberedEnd = start
                if let pattern = numbered[start] {
                    while numberedEnd + 1 < calls.count && numbered[numberedEnd + 1] == pattern { numberedEnd += 1 }
                }
                if end - start + 1 >= 3 {
                    arguments.append("*(\(calls[start]) for _ in range(\(end - start + 1)))")
                } else if numberedEnd - start + 1 >= 3, let pattern = numbered[start] {
                    arguments.append("*(\(pattern) for n in range(\(start + 1), \(numberedEnd + 2)))")
                    end = numberedEnd
                } else {
                    arguments.append(calls[start])
                    end = start
                }
                start = end + 1
            }
            if !own.isEmpty { arguments.append("shared=shared") }
            let stageModule =
                arguments.isEmpty
                ? "Stage()" : "Stage(\n" + arguments.map { "            \($0),\n" }.joined() + "        )"
            lines.append("        " + PythonSource.register(name, stageModule))
            modules.append(name)
        }
        if let head = try section(spec.head, prefix: "head.", graph: graph, globals: globals) {
            lines.append("        self.head = \(head)")
            modules.append("head")
        }
        if graph.nodes.contains(where: { if case .conv = $0.op { return true } else { return false } }) {
            lines += [
                "        # As `sharesc init` draws them: He-normal conv weights, fan-out (torchvision's for its ResNets,",
                "        # MobileNets, EfficientNets and RegNets; its ConvNeXt draws truncated normals, std 0.02).",
                "        for module in self.modules():",
                "            if isinstance(module, nn.Conv2d):",
                "                nn.init.kaiming_normal_(module.weight, mode=\"fan_out\", nonlinearity=\"relu\")"
            ]
        }
        lines += ["", "    def forward(self, x):"]
        for module in modules.dropLast() { lines.append("        x = \(PythonSource.child(module))(x)") }
        lines.append(modules.last.map { "        return \(PythonSource.child($0))(x)" } ?? "        return x")
        return lines.joined(separator: "\n")
    }

    /// The values a block of a stage sees: the stage's arguments and stride, the built-ins, and the
    /// template's defaults for the rest (as the compiler binds them).
    private static func blockScope(
        _ template: BlockTemplate, globals: Scope, values: [String: Number], inChannels: Int
    ) throws(CompileFailure) -> Scope {
        var scope = globals.adding(BlockBuiltins.inChannels, .int(inChannels))
        for (name, value) in values { scope = scope.adding(name, value) }
        for parameter in template.parameters where values[parameter.name] == nil {
            if let value = parameter.defaultValue { scope = scope.adding(parameter.name, try scope.evaluate(value)) }
        }
        return scope
    }

    /// The stem or head as an `nn.Sequential` with the spec's layer names; nil when empty.
    private static func section(_ layers: [LayerSpec], prefix: String, graph: Graph, globals: Scope)
        throws(CompileFailure) -> String?
    {
        guard !layers.isEmpty else { return nil }
        let nodes = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var built: [TorchLayer] = []
        for named in layers.namedLayers(prefix: "") {
            guard PythonSource.isModuleName(named.name) else {
                throw CompileFailure(
                    Diagnostic(
                        at: named.spec.name?.location ?? named.spec.location,
                        .torchName(prefix + named.name, what: "layer")))
            }
            let node = nodes[prefix + named.name]!
            built.append(
                try TorchLayer(
                    named.spec, name: named.name, input: TorchLayer.Tensor(graph[node.inputs[0]].shape),
                    printer: TorchLayer.Printer(names: [:], scope: globals),
                    freshInput: built.last?.producesFreshValue ?? false, tied: nil))
        }
        return PythonSource.sequential(built.sequentialEntries, indent: "        ")
    }
}

/// Where each tied weight is registered: a stage's own tie in that stage's `shared` module, a group
/// spanning stages in the network's. Each holder is an `nn.Conv2d` that only holds the weight (and
/// bias): every use, the first included, is a `TiedConv2d` with its own stride and padding, so the
/// holder says none (the first use's would mislead where later uses differ).
struct Holders {
    struct Holder {
        /// Path inside its `shared` module: `["conv2"]`, `["shortcut", "conv1"]`, or `["G"]` for a group.
        var path: [String]
        var constructor: String
        var access: String
    }

    var root: [Holder] = []
    var stages: [Int: [Holder]] = [:]
    /// Access expression of each tied weight's holder.
    private var access: [ParameterID: String] = [:]
    /// The tied convolutions of each block, in the block's order: the layer's name in it, and its holder.
    private var tied: [Section: [(conv: String, holder: String)]] = [:]

    var usesTiedConvolutions: Bool { !access.isEmpty }

    init(_ graph: Graph, spec: Spec) throws(CompileFailure) {
        // Each parameter's first user, and the strides and paddings of a weight's convolutions, found in
        // one pass: a search of the nodes per tie was quadratic.
        var firstUse: [ParameterID: ValueID] = [:]
        var strides: [ParameterID: Set<Int>] = [:], paddings: [ParameterID: Set<Int>] = [:]
        for node in graph.nodes {
            for parameter in node.op.parameters where firstUse[parameter] == nil { firstUse[parameter] = node.id }
            if case .conv(let conv) = node.op {
                strides[conv.weight, default: []].insert(conv.stride)
                paddings[conv.weight, default: []].insert(conv.padding)
            }
        }
        for tie in graph.ties {
            guard let use = firstUse[tie.weight].map({ graph[$0] }),
                case .conv(let conv) = use.op, case .block(let stage, _) = use.section
            else { continue }
            let shape = graph[tie.weight].shape
            // The holder never runs; it has its uses' stride and padding where they all agree, so that
            // printing it, or copying it to untie a use, shows a convolution as its uses run it.
            func agreed(_ option: String, _ values: Set<Int>?, unless standard: Int) -> [(String, String)] {
                guard let values, values.count == 1, let value = values.first, value != standard else { return [] }
                return [(option, String(value))]
            }
            let options =
                agreed("stride", strides[tie.weight], unless: 1) + agreed("padding", paddings[tie.weight], unless: 0)
                + (conv.groups == 1 ? [] : [("groups", String(conv.groups))])
                + (conv.bias == nil ? [("bias", "False")] : [])
            let constructor = PythonSource.call(
                "nn.Conv2d", [String(shape[1] * conv.groups), String(shape[0]), String(conv.kernel)], options)
            let weightName = graph[tie.weight].name
            let holderName = String(weightName.dropLast(".weight".count))
            // A tie group's weight is `shared.GROUP.weight` (a group's name holds no '.'); a stage's own tie,
            // `STAGE.shared.CONV.weight`, is named `STAGE.CONV`, which a stage named `shared` makes look alike.
            if holderName == "shared.\(tie.name)" && !tie.name.contains(".") {
                guard PythonSource.isModuleName(tie.name) else {
                    throw CompileFailure(Diagnostic(at: tie.declarations[0], .torchName(tie.name, what: "tie group")))
                }
                let holder = Holder(
                    path: [tie.name], constructor: constructor, access: "self.shared[\(PythonSource.string(tie.name))]")
                root.append(holder)
                access[tie.weight] = holder.access
            } else {
                let path = holderName.dropFirst("\(spec.stages[stage].name.value).shared.".count).split(separator: ".")
                    .map(String.init)
                let holder = Holder(
                    path: path, constructor: constructor,
                    access: "shared" + path.map { "[\(PythonSource.string($0))]" }.joined())
                stages[stage, default: []].append(holder)
                access[tie.weight] = holder.access
            }
        }
        for node in graph.nodes {
            guard case .block(let stage, let block) = node.section, case .conv(let conv) = node.op,
                let holder = access[conv.weight]
            else { continue }
            let prefix = "\(graph.stages[stage].name).block\(block)."
            tied[node.section, default: []].append((String(node.name.dropFirst(prefix.count)), holder))
        }
    }

    /// The tied convolutions of one block: the layer's name in it, and its holder.
    func tiedConvolutions(ofStage stage: Int, block: Int) -> [(conv: String, holder: String)] {
        tied[.block(stage: stage, block: block)] ?? []
    }

    /// `nn.ModuleDict({...})` nesting the holders by path.
    func moduleDict(_ holders: [Holder], indent: String) -> String {
        var keys: [String] = []
        var groups: [String: [Holder]] = [:]
        for holder in holders {
            let key = holder.path[0]
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(
                Holder(path: Array(holder.path.dropFirst()), constructor: holder.constructor, access: holder.access))
        }
        let entries = keys.map { key in
            let members = groups[key]!
            let value =
                members.count == 1 && members[0].path.isEmpty
                ? members[0].constructor : moduleDict(members, indent: indent + "    ")
            return "\(PythonSource.string(key)): \(value)"
        }
        if entries.count == 1 { return "nn.ModuleDict({\(entries[0])})" }
        return "nn.ModuleDict({\n" + entries.map { "\(indent)    \($0),\n" }.joined() + "\(indent)})"
    }
}
