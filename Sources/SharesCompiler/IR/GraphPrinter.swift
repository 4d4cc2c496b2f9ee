/// The stable text form of a graph (`sharesc compile --emit graph`): parameters, then nodes in order.
/// Golden tests read it, so it must never depend on dictionary order or the machine.
public enum GraphPrinter {
    public static func print(_ graph: Graph) -> String {
        var lines = ["graph \(quotedName(graph.network)) \(graph.variant.rawValue) input \(graph.inputShape)"]
        let uses = graph.parameterUseCounts()
        lines.append("parameter tensors \(graph.parameters.count):")
        for parameter in graph.parameters {
            var line = "  \(parameter.id) \(parameter.name) \(parameter.shape.map(String.init).joined(separator: "x"))"
            if let tie = parameter.tie { line += " tie=\(tie) uses=\(uses[parameter.id.index])" }
            lines.append(line)
        }
        lines.append("nodes \(graph.nodes.count):")
        for node in graph.nodes {
            let inputs = node.inputs.map(\.description).joined(separator: ", ")
            let call = ([node.op.mnemonic + (inputs.isEmpty ? "" : " " + inputs)] + attributes(node.op)).joined(
                separator: " ")
            lines.append("  \(node.id) = \(call) : \(node.shape)  # \(node.name)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same as JSON: parameters with their ties and uses, nodes with their op, attributes and shape.
    public static func json(_ graph: Graph) -> String {
        struct Parameter: Encodable {
            var id: String, name: String, shape: [Int], role: String, tie: String?, uses: Int
        }
        struct Node: Encodable {
            var id: String, name: String, op: String, inputs: [String], attributes: [String: String], shape: [Int]
        }
        struct Document: Encodable {
            var network: String, variant: String, input: [Int], output: String
            var parameters: [Parameter], nodes: [Node]
        }
        let uses = graph.parameterUseCounts()
        let parameters = graph.parameters.map { parameter in
            Parameter(
                id: parameter.id.description, name: parameter.name, shape: parameter.shape,
                role: parameter.role.rawValue,
                tie: parameter.tie, uses: uses[parameter.id.index])
        }
        let nodes = graph.nodes.map { node in
            // "k=3" -> "k": "3": the text form's attributes, keyed.
            let attributes = Dictionary(
                attributes(node.op).map { attribute in
                    let parts = attribute.split(separator: "=", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                }, uniquingKeysWith: { first, _ in first })
            return Node(
                id: node.id.description, name: node.name, op: node.op.mnemonic, inputs: node.inputs.map(\.description),
                attributes: attributes, shape: node.shape.dims)
        }
        return JSONRendering.render(
            Document(
                network: graph.network, variant: graph.variant.rawValue,
                input: graph.inputShape.dims, output: graph.output.description,
                parameters: parameters, nodes: nodes))
    }

    static func attributes(_ op: Op) -> [String] {
        switch op {
        case .conv(let conv):
            var result = ["w=\(conv.weight)", "k=\(conv.kernel)", "s=\(conv.stride)", "p=\(conv.padding)"]
            if conv.groups != 1 { result.append("g=\(conv.groups)") }
            if let bias = conv.bias { result.append("b=\(bias)") }
            return result
        case .batchNorm(let bn):
            return [
                "scale=\(bn.scale)", "shift=\(bn.shift)", "mean=\(bn.mean)", "var=\(bn.variance)", "eps=\(bn.epsilon)"
            ]
        case .maxPool(let pool), .avgPool(let pool):
            return ["k=\(pool.kernel)", "s=\(pool.stride)", "p=\(pool.padding)"]
        case .linear(let linear):
            return ["w=\(linear.weight)"] + (linear.bias.map { ["b=\($0)"] } ?? [])
        case .dropout(let rate):
            return ["p=\(rate)"]
        case .subsamplePad(let pad):
            return ["out=\(pad.outChannels)", "s=\(pad.stride)"]
        case .squeezeExcite(let se):
            return [
                "squeeze=\(se.squeezeChannels)", "act=\(se.activation.rawValue)", "w1=\(se.reduceWeight)",
                "b1=\(se.reduceBias)", "w2=\(se.expandWeight)", "b2=\(se.expandBias)"
            ]
        case .layerNorm(let norm):
            return ["scale=\(norm.scale)", "shift=\(norm.shift)", "eps=\(norm.epsilon)"]
        case .layerScale(let scale):
            return ["w=\(scale.weight)"]
        case .stochasticDepth(let rate):
            return ["p=\(rate)"]
        case .input, .relu, .globalAvgPool, .flatten, .add, .activation:
            return []
        }
    }
}

/// A network's name in the printed stages' headers: in quotes, its own quotes and backslashes escaped
/// (a network named `my "net"` printed `graph "my "net"`).
func quotedName(_ name: String) -> String {
    "\"" + name.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
}
