/// Builds a `LayerTable` from a graph and its per-node costs: a row per layer use, each folded into its
/// block or section when the depth asks for it.
public enum LayerTableBuilder {
    public static func build(_ graph: Graph, costs: [NodeCost], depth: LayerTable.Depth) throws(CompileFailure)
        -> LayerTable
    {
        var rows: [LayerTable.Row] = []
        // Where each folded row is, by name, and which of them hold a layer yet.
        var folds: [String: Int] = [:]
        var filled = Set<Int>()
        if depth == .stages {
            // Every section has a row, as in the report's stage table, even a stage of zero blocks.
            let sections = [("stem", "stem")] + graph.stages.map { ($0.name, "stage") } + [("head", "head")]
            for (name, kind) in sections {
                folds[name] = rows.count
                rows.append(empty(name, kind, output: graph.inputShape))
            }
        }
        var counted = Set<ParameterID>()
        for (node, cost) in zip(graph.nodes, costs) {
            if case .input = node.op { continue }  // the image, not a layer
            let layer = try row(for: node, cost: cost, in: graph, counted: &counted)
            guard let (name, kind) = fold(node, in: graph, depth: depth) else {
                rows.append(layer)
                continue
            }
            let index = folds[name] ?? rows.count
            if index == rows.count {
                folds[name] = index
                rows.append(empty(name, kind, output: layer.output))
            }
            rows[index] = try merged(rows[index], layer, at: node.location)
            filled.insert(index)
        }
        // A section without layers passes its input through: it shows the previous section's output.
        if depth == .stages {
            for index in rows.indices.dropFirst() where !filled.contains(index) {
                rows[index].output = rows[index - 1].output
            }
        }
        // The renderers' total row sums every column; parameters, uses and MACs are the report's checked totals.
        let location = graph.nodes.first?.location ?? Location(file: graph.source, line: 1, column: 1)
        _ = try checkedSum(rows.map(\.activationBytes), at: location, "the activation bytes")
        return LayerTable(depth: depth, rows: rows)
    }

    /// One layer use. Its distinct parameters are those no earlier node read (`counted` remembers them).
    private static func row(
        for node: GraphNode, cost: NodeCost, in graph: Graph, counted: inout Set<ParameterID>
    ) throws(CompileFailure) -> LayerTable.Row {
        var parameters = 0, ties: [String] = []
        for parameter in node.op.parameters where graph[parameter].role.isTrainable {
            if counted.insert(parameter).inserted { parameters += graph[parameter].elementCount }
            if let tie = graph[parameter].tie, !ties.contains(tie) { ties.append(tie) }
        }
        guard let bytes = Shape.checkedProduct(node.shape.dims + [MemoryLayout<Float>.size]) else {
            throw CompileFailure(Diagnostic(at: node.location, .tensorTooLarge("the output of \(node.name)")))
        }
        return LayerTable.Row(
            name: node.name, kind: node.op.mnemonic, output: node.shape, parameters: parameters,
            perUse: cost.parametersPerUse, macs: cost.macs, ties: ties, activationBytes: bytes)
    }

    /// The folded row a node belongs to at `depth` (its name and kind), or nil when it keeps a row of its own.
    private static func fold(_ node: GraphNode, in graph: Graph, depth: LayerTable.Depth) -> (String, String)? {
        switch (depth, node.section) {
        case (.layers, _), (.blocks, .stem), (.blocks, .head): return nil
        case (.blocks, .block(let stage, let block)): return ("\(graph.stages[stage].name).block\(block)", "block")
        case (.stages, .stem): return ("stem", "stem")
        case (.stages, .block(let stage, _)): return (graph.stages[stage].name, "stage")
        case (.stages, .head): return ("head", "head")
        }
    }

    private static func empty(_ name: String, _ kind: String, output: Shape) -> LayerTable.Row {
        LayerTable.Row(
            name: name, kind: kind, output: output, parameters: 0, perUse: 0, macs: 0, ties: [], activationBytes: 0)
    }

    /// `fold` with `layer` added: the sums grow, the output becomes the layer's (it comes later in graph order).
    private static func merged(_ fold: LayerTable.Row, _ layer: LayerTable.Row, at location: Location)
        throws(CompileFailure) -> LayerTable.Row
    {
        func sum(_ a: Int, _ b: Int, _ what: String) throws(CompileFailure) -> Int {
            let (total, overflow) = a.addingReportingOverflow(b)
            if overflow { throw CompileFailure(Diagnostic(at: location, .tensorTooLarge(what))) }
            return total
        }
        var result = fold
        result.output = layer.output
        result.parameters = try sum(fold.parameters, layer.parameters, "the parameter count")
        result.perUse = try sum(fold.perUse, layer.perUse, "the parameter count")
        result.macs = try sum(fold.macs, layer.macs, "the MAC count")
        result.activationBytes = try sum(fold.activationBytes, layer.activationBytes, "the activation bytes")
        result.ties += layer.ties.filter { !fold.ties.contains($0) }
        return result
    }
}
