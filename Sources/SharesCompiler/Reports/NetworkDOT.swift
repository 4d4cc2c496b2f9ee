/// The stage-level picture: input, stem, one cluster per stage with its blocks (or runs of identical
/// blocks), head; each tied weight one cylinder with a dashed edge to every unit that uses it.
enum NetworkDOT {
    static func render(_ graph: Graph, collapse: Bool, title: String) -> String {
        let units = PictureUnits(graph, collapse: collapse).units
        var out = DOTRendering.header(graph, title: title)

        // Each tie's users, in network order: the unit and the layers in it that read the tie (each once, by
        // name). Gathered in one pass over the units: a pass over the units for each tie was quadratic.
        var usersOfTie = [[(unit: Int, convs: [String])]](repeating: [], count: graph.ties.count)
        for (index, unit) in units.enumerated() {
            for (tie, uses) in Dictionary(grouping: unit.uses, by: \.tie) {
                usersOfTie[tie].append((index, Set(uses.map(\.conv)).sorted()))
            }
        }
        let convsOfTie = convolutions(readingTiesOf: graph)

        // A tie whose uses all lie in one stage is drawn inside that stage, so that its edges stay short;
        // a tie across stages sits beside the network.
        var stageOfTie: [Int: Int] = [:]
        var tiesOfStage: [Int: [Int]] = [:]
        for number in graph.ties.indices {
            let stages = Set(usersOfTie[number].compactMap { units[$0.unit].stage })
            if stages.count == 1, let stage = stages.first {
                stageOfTie[number] = stage
                tiesOfStage[stage, default: []].append(number)
            }
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
            for number in tiesOfStage[stage] ?? [] {
                out += "    " + tieNode(number, graph, convolutions: convsOfTie[number]) + "\n"
                // Collapsed, level with its first user; expanded, rank constraints would bend the chain of blocks.
                if collapse, let first = usersOfTie[number].first {
                    out += "    { rank=same; tie_\(number); \(units[first.unit].id); }\n"
                }
            }
            out += "  }\n"
        }
        for (from, to) in zip(units, units.dropFirst()) { out += "  \(from.id) -> \(to.id) [weight=10];\n" }

        for number in graph.ties.indices {
            if stageOfTie[number] == nil {
                out += "  " + tieNode(number, graph, convolutions: convsOfTie[number]) + "\n"
            }
            let color = DOTRendering.color(tie: number)
            for (index, convs) in usersOfTie[number] {
                let unit = units[index]
                for conv in convs {
                    let count = unit.blocks.map(\.count) ?? 1
                    let label = count > 1 ? "\(conv) x\(count)" : conv
                    out +=
                        "  tie_\(number) -> \(unit.id) [style=dashed, color=\"\(color)\", label=\(DOTRendering.quoted(label)), constraint=false];\n"
                }
            }
        }
        return out + "}\n"
    }

    /// One cylinder: the tie's name, its weight's shape, and every layer that uses it (`convolutions`, the
    /// nodes that read its weight).
    private static func tieNode(_ number: Int, _ graph: Graph, convolutions: [ValueID]) -> String {
        let tie = graph.ties[number]
        let shape = graph[tie.weight].shape.map(String.init).joined(separator: "x")
        let users = users(convolutions, graph)
        let lines = [tie.name, shape] + (users.count == 1 ? ["used by " + users[0]] : ["used by"] + users)
        return
            "tie_\(number) [shape=cylinder, style=filled, fillcolor=\"\(DOTRendering.color(tie: number))\", fontcolor=\"#ffffff\", label=\(DOTRendering.quoted(lines))];"
    }

    /// The convolutions that read each tie's weight, in network order, found in one pass over the nodes.
    private static func convolutions(readingTiesOf graph: Graph) -> [[ValueID]] {
        let tieOfWeight = Dictionary(
            uniqueKeysWithValues: graph.ties.enumerated().map { ($0.element.weight, $0.offset) })
        var convolutions = [[ValueID]](repeating: [], count: graph.ties.count)
        for node in graph.nodes {
            guard case .conv(let conv) = node.op, let tie = tieOfWeight[conv.weight] else { continue }
            convolutions[tie].append(node.id)
        }
        return convolutions
    }

    /// `stage1.block2..18 conv2`: the layers of `convolutions` (those that read a tie's weight, in network
    /// order), blocks of one stage and layer folded into ranges.
    static func users(_ convolutions: [ValueID], _ graph: Graph) -> [String] {
        var groups: [(owner: String, conv: String, blocks: [Int])] = []
        for id in convolutions {
            let node = graph[id]
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
