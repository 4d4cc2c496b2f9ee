/// The identity of one parameter tensor. A tied weight is one `ParameterID` referenced by many nodes.
public struct ParameterID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: ParameterID, b: ParameterID) -> Bool { a.index < b.index }
    public var description: String { "@\(index)" }
}

public struct Parameter: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable, CaseIterable {
        case convWeight = "conv.weight", convBias = "conv.bias"
        case bnScale = "bn.weight", bnShift = "bn.bias", bnMean = "bn.running_mean", bnVariance = "bn.running_var"
        case linearWeight = "linear.weight", linearBias = "linear.bias"
        case lnScale = "ln.weight", lnShift = "ln.bias"
        case layerScale = "layer_scale.weight"

        /// Batchnorm running statistics are buffers: stored and used at inference, never trained.
        public var isTrainable: Bool { self != .bnMean && self != .bnVariance }
    }

    public var id: ParameterID
    /// Stable name derived from the spec: `stage1.block2.conv1.weight`, or `stage3.shared.conv2.weight` when tied.
    public var name: String
    public var shape: [Int]
    public var role: Role
    /// The tie group this parameter belongs to, if it is shared.
    public var tie: String?
    /// In the sequential variant, the name of the tied parameter this per-use copy stands for.
    public var untiedFrom: String? = nil

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A group of convolutions declared to use one weight.
public struct Tie: Hashable, Sendable {
    public var name: String
    public var weight: ParameterID
    public var bias: ParameterID?
    /// The share declarations that form it, in source order.
    public var declarations: [Location]
}
