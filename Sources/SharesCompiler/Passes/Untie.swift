/// The sequential variant: every use of a tied parameter gets its own copy, named after the layer
/// that uses it (`stage3.block2.conv2.weight`), exactly as if the spec had declared no sharing.
public enum Untie {
    public static func run(_ graph: Graph) -> Graph {
        var result = graph
        result.variant = .sequential
        result.ties = []
        result.parameters = []
        var renumbered: [ParameterID: ParameterID] = [:]

        func add(_ parameter: Parameter, name: String, untiedFrom: String? = nil) -> ParameterID {
            let id = ParameterID(result.parameters.count)
            result.parameters.append(
                Parameter(
                    id: id, name: name, shape: parameter.shape, role: parameter.role, tie: nil, untiedFrom: untiedFrom))
            return id
        }
        func remap(_ id: ParameterID, node: GraphNode, suffix: String) -> ParameterID {
            let parameter = graph[id]
            if parameter.tie != nil { return add(parameter, name: node.name + suffix, untiedFrom: parameter.name) }
            if let existing = renumbered[id] { return existing }
            let new = add(parameter, name: parameter.name)
            renumbered[id] = new
            return new
        }

        for index in result.nodes.indices {
            let node = result.nodes[index]
            switch node.op {
            case .conv(var conv):
                conv.weight = remap(conv.weight, node: node, suffix: ".weight")
                conv.bias = conv.bias.map { remap($0, node: node, suffix: ".bias") }
                result.nodes[index].op = .conv(conv)
            case .batchNorm(var bn):
                bn.scale = remap(bn.scale, node: node, suffix: ".weight")
                bn.shift = remap(bn.shift, node: node, suffix: ".bias")
                bn.mean = remap(bn.mean, node: node, suffix: ".running_mean")
                bn.variance = remap(bn.variance, node: node, suffix: ".running_var")
                result.nodes[index].op = .batchNorm(bn)
            case .linear(var linear):
                linear.weight = remap(linear.weight, node: node, suffix: ".weight")
                linear.bias = linear.bias.map { remap($0, node: node, suffix: ".bias") }
                result.nodes[index].op = .linear(linear)
            case .squeezeExcite(var se):
                se.reduceWeight = remap(se.reduceWeight, node: node, suffix: ".fc1.weight")
                se.reduceBias = remap(se.reduceBias, node: node, suffix: ".fc1.bias")
                se.expandWeight = remap(se.expandWeight, node: node, suffix: ".fc2.weight")
                se.expandBias = remap(se.expandBias, node: node, suffix: ".fc2.bias")
                result.nodes[index].op = .squeezeExcite(se)
            case .layerNorm(var norm):
                norm.scale = remap(norm.scale, node: node, suffix: ".weight")
                norm.shift = remap(norm.shift, node: node, suffix: ".bias")
                result.nodes[index].op = .layerNorm(norm)
            case .layerScale(var scale):
                scale.weight = remap(scale.weight, node: node, suffix: ".weight")
                result.nodes[index].op = .layerScale(scale)
            case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad,
                .activation,
                .stochasticDepth:
                break
            }
        }
        return result
    }
}

extension Graph {
    /// The network's other variant, by the names of its parameters in order: the sequential one for the
    /// shared variant, the shared one for the sequential; nil for a network without ties. How a
    /// weights file of the other variant is recognized.
    public func otherVariant() -> (variant: Variant, names: [String])? {
        switch variant {
        case .untied: return nil
        case .shared: return (.sequential, Untie.run(self).parameters.map(\.name))
        case .sequential:
            var seen = Set<String>()
            return (.shared, parameters.map { $0.untiedFrom ?? $0.name }.filter { seen.insert($0).inserted })
        }
    }
}
