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

/// A network's totals, each counted in 64 bits: checked where the graph is made (`Compiler.lower`), so
/// that every command refuses a network whose counts overflow, where only the report did (a plan was
/// written for a spec that `check` refused).
public struct CostTotals: Hashable, Sendable {
    /// Distinct trainable parameters (a tied weight once), and buffers (batchnorm statistics).
    public var parameters: Int, buffers: Int
    /// Trainable parameters counted at every use, and multiply-accumulates.
    public var perUse: Int, macs: Int
    /// 2 x MACs.
    public var flops: Int

    public init(_ graph: Graph, costs: [NodeCost]) throws(CompileFailure) {
        let location = graph.nodes.first?.location ?? Location(file: graph.source, line: 1, column: 1)
        parameters = try checkedSum(
            graph.parameters.filter(\.role.isTrainable).map(\.elementCount), at: location, "the parameter count")
        buffers = try checkedSum(
            graph.parameters.filter { !$0.role.isTrainable }.map(\.elementCount), at: location, "the buffer count")
        // At the layer where the running total overflows, named (it was the network's first line).
        func failure(_ what: String) -> (Int) -> Diagnostic {
            { index in
                let node = graph.nodes[index]
                return Diagnostic(at: node.location, .tensorTooLarge("\(what), summed up to \(node.name),"))
            }
        }
        perUse = try checkedSum(costs.map(\.parametersPerUse), failure: failure("the parameter count"))
        macs = try checkedSum(costs.map(\.macs), failure: failure("the MAC count"))
        flops = try checkedSum(costs.map(\.macs), times: 2, failure: failure("the FLOP count (2 x MACs)"))
    }
}

/// Sums that cannot overflow silently: a network whose totals exceed 64 bits is reported, not wrapped.
func checkedSum(_ values: [Int], at location: Location, _ what: String) throws(CompileFailure) -> Int {
    try checkedSum(values, failure: { _ in Diagnostic(at: location, .tensorTooLarge(what)) })
}

/// `factor` times the sum of `values`; `failure(i)` where adding the i-th overflows.
func checkedSum(_ values: [Int], times factor: Int = 1, failure: (Int) -> Diagnostic) throws(CompileFailure) -> Int {
    var total = 0
    for (index, value) in values.enumerated() {
        let (scaled, scaledOverflow) = value.multipliedReportingOverflow(by: factor)
        let (sum, overflow) = total.addingReportingOverflow(scaled)
        if scaledOverflow || overflow { throw CompileFailure(failure(index)) }
        total = sum
    }
    return total
}
