/// Builds a `Report` from a graph and its per-node costs.
public enum ReportBuilder {
    public static func build(_ graph: Graph, costs: [NodeCost], totals: CostTotals) -> Report {
        let (total, buffers, perUse) = (totals.parameters, totals.buffers, totals.perUse)
        let weights = graph.nodes.flatMap(\.op.layerWeights)

        return Report(
            network: graph.network, source: graph.source,
            variant: graph.variant,
            input: graph.inputShape, output: graph.nodes.last?.shape ?? graph.inputShape,
            parameters: .init(
                total: total, perUse: perUse, saved: perUse - total,
                savedPercent: percent(perUse - total, of: perUse), buffers: buffers),
            weightBytes: total * 4, bufferBytes: buffers * 4, macs: totals.macs, flops: totals.flops,
            layers: .init(total: weights.count, distinct: Set(weights).count),
            stages: stageRows(graph, costs: costs), ties: tieRows(graph))
    }

    private static func stageRows(_ graph: Graph, costs: [NodeCost]) -> [Report.StageRow] {
        var rows: [Report.StageRow] = [
            .init(
                name: "stem", kind: .stem, block: nil, blocks: 0, output: graph.inputShape, parameters: 0, perUse: 0,
                saved: 0, macs: 0)
        ]
        rows += graph.stages.map {
            .init(
                name: $0.name, kind: .stage, block: $0.template, blocks: $0.blocks, output: graph.inputShape,
                parameters: 0, perUse: 0, saved: 0, macs: 0)
        }
        rows.append(
            .init(
                name: "head", kind: .head, block: nil, blocks: 0, output: graph.inputShape, parameters: 0, perUse: 0,
                saved: 0, macs: 0))

        var counted = Set<ParameterID>()
        var lastRow = 0
        for (node, cost) in zip(graph.nodes, costs) {
            let row: Int
            switch node.section {
            case .stem: row = 0
            case .block(let stage, _): row = stage + 1
            case .head: row = rows.count - 1
            }
            // A stage with zero blocks passes its input through: it inherits the previous output.
            for skipped in lastRow..<row { rows[skipped + 1].output = rows[skipped].output }
            lastRow = max(lastRow, row)
            rows[row].output = node.shape
            rows[row].macs += cost.macs
            rows[row].perUse += cost.parametersPerUse
            for parameter in node.op.parameters
            where graph[parameter].role.isTrainable && counted.insert(parameter).inserted {
                rows[row].parameters += graph[parameter].elementCount
            }
        }
        for skipped in lastRow..<(rows.count - 1) { rows[skipped + 1].output = rows[skipped].output }
        for index in rows.indices { rows[index].saved = rows[index].perUse - rows[index].parameters }
        return rows
    }

    private static func tieRows(_ graph: Graph) -> [Report.TieRow] {
        var users: [ParameterID: [String]] = [:]
        for node in graph.nodes {
            for parameter in node.op.parameters where graph[parameter].tie != nil {
                users[parameter, default: []].append(node.name)
            }
        }
        return graph.ties.map { tie in
            let weight = graph[tie.weight]
            let elements = weight.elementCount + (tie.bias.map { graph[$0].elementCount } ?? 0)
            let usedBy = users[tie.weight] ?? []
            return .init(
                name: tie.name, weight: weight.name, shape: weight.shape, bias: tie.bias.map { graph[$0].name },
                parameters: elements, uses: usedBy.count,
                usedBy: usedBy, saved: (usedBy.count - 1) * elements)
        }
    }
}
