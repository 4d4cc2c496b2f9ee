/// The inside of one block (`sharesc graph --block NAME`): its layers with their output shapes, in
/// clusters for the `pre`, body, `shortcut` and `post` paths, joined at the residual add. A template
/// has no shapes of its own, so a block built from it is drawn, and the title says which.
enum BlockDOT {
    /// `network`: how the title names the network.
    static func render(_ graph: Graph, named name: String, network: String) throws(CompileFailure) -> String {
        let (stage, block) = try instance(graph, named: name)
        let section = Section.block(stage: stage, block: block)
        let nodes = graph.nodes.filter { $0.section == section }
        let info = graph.stages[stage]
        let title = "\(info.template), as \(info.name).block\(block) of \(network)"
        var out = DOTRendering.header(graph, title: title)
        // A block without layers (an empty body, no merge) passes its input through.
        guard let firstNode = nodes.first, let last = nodes.last else { return out + "  in -> out;\n}\n" }
        let input = graph[firstNode.inputs[0]]
        out += "  in [label=\(DOTRendering.quoted(["block input", input.shape.description])), shape=ellipse];\n"

        let tieOfParameter = Dictionary(
            uniqueKeysWithValues: graph.ties.enumerated().map { ($0.element.weight, $0.offset) })
        let uses = graph.parameterUseCounts()
        func declare(_ node: GraphNode, indent: String) {
            let local = PictureUnits.localName(node, graph)
            let name = String(local.split(separator: ".").last ?? Substring(local))
            let summary = summary(node.op)
            // `relu1` says what it is; a layer named otherwise, or with attributes, gets its kind as well.
            let plain = summary == node.op.mnemonic && Self.automaticPrefix[summary].map(name.hasPrefix) == true
            var lines = plain ? [name] : [name, summary]
            lines.append(node.shape.description)
            var fill = "#ffffff"
            if case .conv(let conv) = node.op, let tie = tieOfParameter[conv.weight] {
                lines.append("tied: \(graph.ties[tie].name) (\(uses[conv.weight.index]) uses)")
                fill = DOTRendering.color(tie: tie) + "55"
            }
            let shape = node.op == .add ? ", shape=ellipse" : ""
            out += "\(indent)n\(node.id.index) [label=\(DOTRendering.quoted(lines)), fillcolor=\"\(fill)\"\(shape)];\n"
        }
        // Paths in the order data meets them; the add and anything unnamed stay outside every cluster.
        for path in ["pre", "body", "shortcut", "post"] {
            let members = nodes.filter { Self.path(of: PictureUnits.localName($0, graph)) == path }
            guard !members.isEmpty else { continue }
            out += "  subgraph cluster_\(path) {\n"
            out += "    label=\(DOTRendering.quoted(path)); style=rounded; color=\"#999999\";\n"
            for node in members { declare(node, indent: "    ") }
            out += "  }\n"
        }
        for node in nodes where Self.path(of: PictureUnits.localName(node, graph)) == nil {
            declare(node, indent: "  ")
        }
        out += "  out [label=\(DOTRendering.quoted(["block output", last.shape.description])), shape=ellipse];\n"

        let first = firstNode.id.index
        for node in nodes {
            for value in node.inputs {
                let from = value.index >= first ? "n\(value.index)" : "in"
                // The block input reaching the add unchanged is the identity shortcut.
                let label = node.op == .add && from == "in" ? " [label=\"identity\"]" : ""
                out += "  \(from) -> n\(node.id.index)\(label);\n"
            }
        }
        out += "  n\(last.id.index) -> out;\n"
        return out + "}\n"
    }

    /// How the spec names layers it is not told the names of (`LayerKind.autoNamePrefix`), by op mnemonic.
    private static let automaticPrefix = [
        "batchnorm": "bn", "relu": "relu", "add": "add", "linear": "fc", "global_avgpool": "gap", "flatten": "flatten"
    ]

    /// `pre.bn1` -> pre, `conv2` -> body, `add` -> nil (drawn between the paths).
    private static func path(of local: String) -> String? {
        if local == "add" { return nil }
        for path in ["pre", "shortcut", "post"] where local.hasPrefix(path + ".") { return path }
        return "body"
    }

    /// `conv 3x3 stride 2 pad 1`: the op and the attributes that decide its shape.
    static func summary(_ op: Op) -> String {
        func window(_ name: String, _ kernel: Int, _ stride: Int, _ padding: Int) -> String {
            "\(name) \(kernel)x\(kernel)" + (stride == 1 ? "" : " stride \(stride)")
                + (padding == 0 ? "" : " pad \(padding)")
        }
        switch op {
        case .conv(let conv):
            return window("conv", conv.kernel, conv.stride, conv.padding)
                + (conv.groups == 1 ? "" : " groups \(conv.groups)") + (conv.bias == nil ? "" : " bias")
        case .maxPool(let pool): return window("maxpool", pool.kernel, pool.stride, pool.padding)
        case .avgPool(let pool): return window("avgpool", pool.kernel, pool.stride, pool.padding)
        case .dropout(let rate): return "dropout p=\(rate)"
        case .subsamplePad(let pad): return "subsample_pad" + (pad.stride == 1 ? "" : " stride \(pad.stride)")
        case .squeezeExcite(let se): return "squeeze_excite \(se.squeezeChannels) \(se.activation.rawValue)"
        case .stochasticDepth(let rate): return "stochastic_depth p=\(rate)"
        case .input, .batchNorm, .relu, .globalAvgPool, .flatten, .linear, .add, .activation, .layerNorm, .layerScale:
            return op.mnemonic
        }
    }

    /// The block `name` stands for: `stage.blockN` itself, or the first block of the template with the
    /// most layers (block 1 of a stage often adds a projection that later blocks lack).
    private static func instance(_ graph: Graph, named name: String) throws(CompileFailure) -> (Int, Int) {
        let location = Location.commandLine("--block \(name)")
        if let dot = name.lastIndex(of: "."), name[name.index(after: dot)...].hasPrefix("block"),
            let block = Int(name[name.index(after: dot)...].dropFirst("block".count))
        {
            let stageName = String(name[..<dot])
            guard let stage = graph.stages.firstIndex(where: { $0.name == stageName }) else {
                throw CompileFailure(
                    Diagnostic(at: location, .unknownStage(stageName, known: graph.stages.map(\.name))))
            }
            guard (1...max(graph.stages[stage].blocks, 1)).contains(block), graph.stages[stage].blocks > 0 else {
                throw CompileFailure(
                    Diagnostic(at: location, .blockIndexOutOfRange(block, repeatCount: graph.stages[stage].blocks)))
            }
            return (stage, block)
        }
        var sizes: [Section: Int] = [:]
        for node in graph.nodes { sizes[node.section, default: 0] += 1 }
        var best: (stage: Int, block: Int, size: Int)?
        for (stage, info) in graph.stages.enumerated() where info.template == name {
            for block in 1...max(info.blocks, 1) where info.blocks > 0 {
                let size = sizes[.block(stage: stage, block: block)] ?? 0
                if size > best?.size ?? 0 { best = (stage, block, size) }
            }
        }
        guard let best else {
            let empty = graph.stages.filter { $0.template == name }.map(\.name)
            if !empty.isEmpty {
                throw CompileFailure(Diagnostic(at: location, .blockOnlyInEmptyStages(name, stages: empty)))
            }
            let used = Set(graph.stages.filter { $0.blocks > 0 }.map(\.template)).sorted()
            let blocks = graph.stages.flatMap { stage in (0..<stage.blocks).map { "\(stage.name).block\($0 + 1)" } }
            throw CompileFailure(Diagnostic(at: location, .blockNotInNetwork(name, used: used, blocks: blocks)))
        }
        return (best.stage, best.block)
    }
}
