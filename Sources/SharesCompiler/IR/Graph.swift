/// Index of a node's output value in `Graph.nodes`.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
    public var description: String { "%\(index)" }
}

/// Where a node sits in the network, for per-stage reports and pictures.
public enum Section: Hashable, Sendable {
    case stem
    /// Stage index into `Graph.stages`, and the 1-based block within it.
    case block(stage: Int, block: Int)
    case head
}

public struct GraphNode: Hashable, Sendable {
    public var id: ValueID
    public var op: Op
    public var inputs: [ValueID]
    /// Inferred output shape of one sample.
    public var shape: Shape
    /// Path of the layer in the spec: `stem.conv1`, `stage2.block1.shortcut.conv1`, `head.fc1`.
    public var name: String
    public var section: Section
    /// Where the layer was written; for block layers, inside the block template.
    public var location: Location
}

public struct StageInfo: Hashable, Sendable {
    public var name: String
    public var template: String
    public var blocks: Int
    public var location: Location
}

/// The network as a graph: nodes in topological order (every input precedes its user), parameters
/// as first-class values with their own identity, and ties naming parameters used by several nodes.
public struct Graph: Hashable, Sendable {
    /// `shared`: the spec ties weights; `untied`: it declares no tie (or none with two uses); `sequential`:
    /// its ties turned off by `--sequential`.
    public enum Variant: String, Hashable, Sendable, Codable, CaseIterable { case shared, untied, sequential }

    public var network: String
    public var source: String
    public var variant: Variant
    public var inputShape: Shape
    public var nodes: [GraphNode] = []
    public var parameters: [Parameter] = []
    public var ties: [Tie] = []
    public var stages: [StageInfo] = []

    public var output: ValueID { ValueID(nodes.count - 1) }

    // Borrowed, not copied: `graph[id].shape` in a loop over a deep network copied (and retained and
    // released) whole nodes, which was most of the verifier's time at 20,000 blocks.
    public subscript(value: ValueID) -> GraphNode { _read { yield nodes[value.index] } }
    public subscript(parameter: ParameterID) -> Parameter { _read { yield parameters[parameter.index] } }

    /// How many nodes read each parameter (a tied weight has several).
    public func parameterUseCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: parameters.count)
        for node in nodes { for parameter in node.op.parameters { counts[parameter.index] += 1 } }
        return counts
    }
}
