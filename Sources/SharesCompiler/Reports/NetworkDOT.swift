/// The stage-level picture: input, stem, one cluster per stage with its blocks (or runs of identical
/// blocks), head; each tied weight one cylinder with a dashed edge to every unit that uses it.
enum NetworkDOT {
    static func render(_ graph: Graph, collapse: Bool) -> String {
        let units = PictureUnits(graph, collapse: collapse).units
        var out = DOTRendering.header(graph, title: "\(graph.network) (\(graph.variant.rawValue))")

        // A tie whose uses all lie in one stage is drawn inside that stage, so that its edges stay short;
        // a tie across stages sits beside the network.
        var stageOfTie: [Int: Int] = [:]
        for (number, _) in graph.ties.enumerated() {
            let stages = Set(units.filter { $0.uses.contains { $0.tie == number } }.compactMap(\.stage))
            if stages.count == 1, let stage = stages.first { stageOfTie[number] = stage }
        }

        func declare(_ unit: PictureUnits.Unit, indent: String) {
            let fill = unit.uses.first.map { DOTRendering.color(tie: $0.tie) + "33" } ?? "#ffffff"
            var lines = [unit.label, unit.shape.description]
            if let shortcut = unit.shortcut { lines.append(shortcut) }
            out += "\(indent)\(unit.id) [label=\(DOTRendering.quoted(lines)), fillcolor=\"\(fill)\"];\n"
        }
        var index = 0
        while index < units.count {
            guard let stage = units[index].stage else {
                declare(units[index], indent: "  ")
                index += 1
                continue
            }
            let info = graph.stages[stage]
            out += "  subgraph cluster_\(stage) {\n"
            out +=
                "    label=\(DOTRendering.quoted("\(info.name): \(info.template) x\(info.blocks)")); style=rounded; color=\"#999999\";\n"
            while index < units.count, units[index].stage == stage {
                declare(units[index], indent: "    ")
                index += 1
            }
            for (number, tieStage) in stageOfTie.sorted(by: { $0.key < $1.key }) where tieStage == stage {
                out += "    " + tieNode(number, graph) + "\n"
                // Collapsed, level with its first user; expanded, rank constraints would bend the chain of blocks.
                if collapse, let first = units.first(where: { $0.uses.contains { $0.tie == number } }) {
                    out += "    { rank=same; tie_\(number); \(first.id); }\n"
                }
            }
            out += "  }\n"
        }
        for (from, to) in zip(units, units.dropFirst()) { out += "  \(from.id) -> \(to.id) [weight=10];\n" }

        for (number, _) in graph.ties.enumerated() {
            if stageOfTie[number] == nil { out += "  " + tieNode(number, graph) + "\n" }
            let color = DOTRendering.color(tie: number)
            for unit in units {
                for use in Set(unit.uses.filter { $0.tie == number }).sorted(by: { $0.conv < $1.conv }) {
                    let count = unit.blocks.map(\.count) ?? 1
                    let label = count > 1 ? "\(use.conv) x\(count)" : use.conv
                    out +=
                        "  tie_\(number) -> \(unit.id) [style=dashed, color=\"\(color)\", label=\(DOTRendering.quoted(label)), constraint=false];\n"
                }
            }
        }
        return out + "}\n"
    }

    /// One cylinder: the tie's name, its weight's shape, and every layer that uses it.
    private static func tieNode(_ number: Int, _ graph: Graph) -> String {
        let tie = graph.ties[number]
        let shape = graph[tie.weight].shape.map(String.init).joined(separator: "x")
        let users = users(of: tie, graph)
        let lines = [tie.name, shape] + (users.count == 1 ? ["used by " + users[0]] : ["used by"] + users)
        return
            "tie_\(number) [shape=cylinder, style=filled, fillcolor=\"\(DOTRendering.color(tie: number))\", fontcolor=\"#ffffff\", label=\(DOTRendering.quoted(lines))];"
    }

    /// `stage1.block2..18 conv2`: the layers that read the tie's weight, blocks of one stage and layer
    /// folded into ranges.
    static func users(of tie: Tie, _ graph: Graph) -> [String] {
        var groups: [(owner: String, conv: String, blocks: [Int])] = []
        for node in graph.nodes {
            guard case .conv(let conv) = node.op, conv.weight == tie.weight else { continue }
            let local = PictureUnits.localName(node, graph)
            guard case .block(let stage, let block) = node.section else {
                groups.append((local, "", []))
                continue
            }
            let owner = graph.stages[stage].name
            if let last = groups.last, last.owner == owner, last.conv == local {
                groups[groups.count - 1].blocks.append(block)
            } else {
                groups.append((owner, local, [block]))
            }
        }
        return groups.map { group in
            group.blocks.isEmpty ? group.owner : "\(group.owner).block\(ranges(group.blocks)) \(group.conv)"
        }
    }

    /// `[1, 2, 3, 5]` -> `1..3,5`.
    static func ranges(_ values: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < values.count {
            var end = index
            while end + 1 < values.count, values[end + 1] == values[end] + 1 { end += 1 }
            parts.append(end == index ? String(values[index]) : "\(values[index])..\(values[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}
