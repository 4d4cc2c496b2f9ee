/// Graphviz DOT of the network at stage and block level (`sharesc graph`). Each tied weight is one
/// cylinder node; dashed edges in its colour run to every block whose convolution uses it, so the
/// sharing is visible at a glance: `sharesc graph spec.yaml | dot -Tsvg > net.svg`.
public enum DOTRendering {
    static let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

    public static func render(_ graph: Graph) -> String {
        var out = "digraph \(quoted(graph.network)) {\n"
        out +=
            "  graph [rankdir=TB, fontname=\"Helvetica\", label=\(quoted("\(graph.network) (\(graph.variant.rawValue))")), labelloc=t];\n"
        out +=
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n"
        out += "  edge [fontname=\"Helvetica\", fontsize=9];\n"

        // The last shape and the tied convolutions of each stem/block/head unit, in network order.
        struct Unit {
            var id: String
            var label: String
            var stage: Int?
            var shape: Shape
            var tied: [(tie: Int, conv: String)]
        }
        var units: [Unit] = [Unit(id: "input", label: "input", stage: nil, shape: graph.inputShape, tied: [])]
        let tieOfParameter = Dictionary(
            uniqueKeysWithValues: graph.ties.enumerated().map { ($0.element.weight, $0.offset) })
        for node in graph.nodes.dropFirst() {
            let id: String, label: String, stage: Int?
            switch node.section {
            case .stem: (id, label, stage) = ("stem", "stem", nil)
            case .head: (id, label, stage) = ("head", "head", nil)
            case .block(let s, let b): (id, label, stage) = ("s\(s)_b\(b)", "block \(b)", s)
            }
            if units.last?.id != id {
                units.append(Unit(id: id, label: label, stage: stage, shape: node.shape, tied: []))
            }
            units[units.count - 1].shape = node.shape
            if case .conv(let conv) = node.op, let tie = tieOfParameter[conv.weight] {
                let conv = node.name.split(separator: ".").dropFirst(2).joined(separator: ".")
                units[units.count - 1].tied.append((tie, conv))
            }
        }

        func declare(_ unit: Unit, indent: String) {
            let fill = unit.tied.first.map { palette[$0.tie % palette.count] + "33" } ?? "#ffffff"
            out += "\(indent)\(unit.id) [label=\(quoted("\(unit.label)\n\(unit.shape)")), fillcolor=\"\(fill)\"];\n"
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
                "    label=\(quoted("\(info.name): \(info.template) x\(info.blocks)")); style=rounded; color=\"#999999\";\n"
            while index < units.count, units[index].stage == stage {
                declare(units[index], indent: "    ")
                index += 1
            }
            out += "  }\n"
        }
        for (from, to) in zip(units, units.dropFirst()) { out += "  \(from.id) -> \(to.id);\n" }

        for (number, tie) in graph.ties.enumerated() {
            let color = palette[number % palette.count]
            let weight = graph[tie.weight]
            let uses = units.reduce(0) { $0 + $1.tied.filter { $0.tie == number }.count }
            let label = "\(tie.name)\n\(weight.shape.map(String.init).joined(separator: "x"))\nshared by \(uses)"
            out +=
                "  tie_\(number) [shape=cylinder, style=filled, fillcolor=\"\(color)\", fontcolor=\"#ffffff\", label=\(quoted(label))];\n"
            for unit in units {
                for use in unit.tied where use.tie == number {
                    out +=
                        "  tie_\(number) -> \(unit.id) [style=dashed, color=\"\(color)\", label=\(quoted(use.conv)), constraint=false];\n"
                }
            }
        }
        return out + "}\n"
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n") + "\""
    }
}
