/// Per-node cost: multiply-accumulates of conv and linear layers (counted at every use, since a
/// shared weight still runs once per block), and the parameter elements each node reads.
public struct NodeCost: Hashable, Sendable {
    public var macs: Int
    /// Trainable parameter elements the node reads, counted as if its weights were its own.
    public var parametersPerUse: Int
}

public enum CostAnalysis {
    public static func run(_ graph: Graph) throws(CompileFailure) -> [NodeCost] {
        try graph.nodes.map { node throws(CompileFailure) in
            let input = node.inputs.first.map { graph[$0].shape } ?? graph.inputShape
            var macs: Int? = 0
            switch node.op {
            case .conv(let conv):
                macs = ShapeRules.convolutionMACs(
                    output: node.shape, inputChannels: input.channels, groups: conv.groups,
                    kernel: conv.kernel)
            case .linear(let linear):
                macs = ShapeRules.linearMACs(outFeatures: linear.outFeatures, inFeatures: input.elementCount)
            case .squeezeExcite(let se):
                macs = ShapeRules.squeezeExciteMACs(channels: input.channels, squeezeChannels: se.squeezeChannels)
            case .input, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .add, .subsamplePad,
                .activation, .layerNorm, .layerScale, .stochasticDepth:
                break
            }
            guard let macs else {
                throw CompileFailure(Diagnostic(at: node.location, .tensorTooLarge("the compute of \(node.name)")))
            }
            let perUse = node.op.parameters.map { graph[$0] }.filter(\.role.isTrainable).reduce(0) {
                $0 + $1.elementCount
            }
            return NodeCost(macs: macs, parametersPerUse: perUse)
        }
    }
}

/// Sums that cannot overflow silently: a network whose totals exceed 64 bits is reported, not wrapped.
func checkedSum(_ values: [Int], at location: Location, _ what: String) throws(CompileFailure) -> Int {
    var total = 0
    for value in values {
        let (sum, overflow) = total.addingReportingOverflow(value)
        if overflow { throw CompileFailure(Diagnostic(at: location, .tensorTooLarge(what))) }
        total = sum
    }
    return total
}
