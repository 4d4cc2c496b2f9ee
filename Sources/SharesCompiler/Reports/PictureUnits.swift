/// What a stage-level picture draws, in network order: the input, the stem, the blocks of each stage
/// and the head. Collapsed, consecutive blocks of a stage that are the same layer for layer (same
/// shapes, same ties) are one unit, so a stage of 18 blocks is drawn as `block1` and
/// `block2..block18 x17`: a 164-layer network fits on a page and still shows every distinct block.
struct PictureUnits {
    /// A tied convolution inside a unit: the tie (index into `Graph.ties`) and the layer's name in its block.
    struct Use: Hashable {
        var tie: Int
        var conv: String
    }

    struct Unit {
        var id: String
        var stage: Int?
        /// The blocks this unit stands for; nil for the input, stem and head.
        var blocks: ClosedRange<Int>?
        var shape: Shape
        var uses: [Use]
        /// What its blocks' shortcut layers do, when they have any: what usually sets block 1 apart.
        var shortcut: String?

        var label: String {
            guard let blocks else { return id }
            if blocks.count == 1 { return "block\(blocks.lowerBound)" }
            return "block\(blocks.lowerBound)..block\(blocks.upperBound) x\(blocks.count)"
        }
    }

    var units: [Unit] = []

    init(_ graph: Graph, collapse: Bool) {
        units = [Unit(id: "input", shape: graph.inputShape, uses: [], shortcut: nil)]
        var signatures: [[String]] = [[]]
        let tieOfParameter = Dictionary(
            uniqueKeysWithValues: graph.ties.enumerated().map { ($0.element.weight, $0.offset) })
        var start = 0
        for node in graph.nodes.dropFirst() {
            let id: String, stage: Int?, block: Int?
            switch node.section {
            case .stem: (id, stage, block) = ("stem", nil, nil)
            case .head: (id, stage, block) = ("head", nil, nil)
            case .block(let s, let b): (id, stage, block) = ("s\(s)_b\(b)", s, b)
            }
            if units.last?.id != id {
                start = node.id.index
                units.append(
                    Unit(
                        id: id, stage: stage, blocks: block.map { $0...$0 }, shape: node.shape, uses: [],
                        shortcut: nil))
                signatures.append([])
            }
            let local = Self.localName(node, graph)
            units[units.count - 1].shape = node.shape
            if local.hasPrefix("shortcut.") {
                // A convolution projects; the CIFAR ResNets' parameter-free shortcut subsamples and pads.
                let projects = node.op.isWeighted || units[units.count - 1].shortcut == "projection shortcut"
                units[units.count - 1].shortcut = projects ? "projection shortcut" : "\(node.op.mnemonic) shortcut"
            }
            if case .conv(let conv) = node.op, let tie = tieOfParameter[conv.weight] {
                units[units.count - 1].uses.append(Use(tie: tie, conv: local))
            }
            signatures[signatures.count - 1].append(Self.signature(of: node, local: local, start: start, graph))
        }
        if collapse { merge(signatures) }
    }

    /// Folds each block into the unit before it when both are blocks of one stage with one signature.
    private mutating func merge(_ signatures: [[String]]) {
        var merged: [Unit] = [], previous: [String]? = nil
        for (unit, signature) in zip(units, signatures) {
            if let blocks = unit.blocks, let last = merged.last, let lastBlocks = last.blocks,
                last.stage == unit.stage, lastBlocks.upperBound + 1 == blocks.lowerBound, previous == signature
            {
                merged[merged.count - 1].blocks = lastBlocks.lowerBound...blocks.upperBound
                merged[merged.count - 1].shape = unit.shape
            } else {
                merged.append(unit)
            }
            previous = signature
        }
        units = merged
    }

    /// A layer's name inside its block (`conv2`, `shortcut.conv1`); stem and head layers keep their full name.
    static func localName(_ node: GraphNode, _ graph: Graph) -> String {
        guard case .block(let stage, let block) = node.section else { return node.name }
        let prefix = "\(graph.stages[stage].name).block\(block)."
        return node.name.hasPrefix(prefix) ? String(node.name.dropFirst(prefix.count)) : node.name
    }

    /// Everything that makes two blocks look alike: each layer's name, op and attributes, output shape,
    /// inputs counted from the block's first layer, and the tie of each parameter (own ones are all alike).
    private static func signature(of node: GraphNode, local: String, start: Int, _ graph: Graph) -> String {
        let inputs = node.inputs.map { $0.index >= start ? String($0.index - start) : "in" }
        let attributes = GraphPrinter.attributes(node.op).filter { !$0.contains("=@") }
        let parameters = node.op.parameters.map { graph[$0].tie ?? "own" }
        return ([local, node.op.mnemonic] + attributes + parameters + inputs + [node.shape.description]).joined(
            separator: " ")
    }
}
