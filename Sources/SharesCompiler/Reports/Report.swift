/// The parameter and compute report of one network. Codable with the snake_case keys of `--format json`.
public struct Report: Codable, Hashable, Sendable {
    public struct Parameters: Codable, Hashable, Sendable {
        /// Distinct trainable parameters: a tied tensor counts once.
        public var total: Int
        /// What a sharing-unaware counter says: every use counted; equals the sequential variant's total.
        public var perUse: Int
        public var saved: Int
        public var savedPercent: Double
        /// Batchnorm running mean and variance: stored, not trained.
        public var buffers: Int
    }

    public struct Layers: Codable, Hashable, Sendable {
        /// Conv and linear layers, one per use.
        public var total: Int
        /// Distinct conv and linear weights.
        public var distinct: Int
    }

    public struct StageRow: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Sendable { case stem, stage, head }
        public var name: String
        public var kind: Kind
        public var block: String?
        public var blocks: Int
        public var output: Shape
        /// Distinct parameters first used in this row (a tie spanning stages counts in its first stage).
        public var parameters: Int
        public var perUse: Int
        public var saved: Int
        public var macs: Int
    }

    public struct TieRow: Codable, Hashable, Sendable {
        public var name: String
        public var weight: String
        public var shape: [Int]
        /// Elements of the tied weight (and bias).
        public var parameters: Int
        public var uses: Int
        public var usedBy: [String]
        public var saved: Int
    }

    public var network: String
    public var source: String
    public var variant: Graph.Variant
    public var input: Shape
    public var output: Shape
    public var parameters: Parameters
    /// Distinct trainable parameters as float32.
    public var weightBytes: Int
    /// Buffers as float32.
    public var bufferBytes: Int
    /// Multiply-accumulates per image of conv and linear layers, every use counted.
    public var macs: Int
    /// 2 x MACs.
    public var flops: Int
    public var layers: Layers
    public var stages: [StageRow]
    public var ties: [TieRow]
    /// Asked for (`--per-layer`): the rows of every layer use, or of blocks or stages; absent otherwise.
    public var perLayer: LayerTable?
    /// The `--set name=value` overrides the network was compiled with, as written.
    public var overrides: [String] = []
    /// Non-fatal findings of the compilation (also printed to standard error by the commands).
    public var warnings: [Warning] = []

    public struct Warning: Codable, Hashable, Sendable {
        public var location: Location
        public var message: String
    }

    enum CodingKeys: String, CodingKey {
        case network, source, variant, input, output, parameters
        case weightBytes = "weight_bytes", bufferBytes = "buffer_bytes"
        case macs, flops, layers, stages, ties, perLayer = "per_layer", overrides, warnings
    }
}

extension Report.Parameters {
    enum CodingKeys: String, CodingKey {
        case total, perUse = "per_use", saved, savedPercent = "saved_percent", buffers
    }
}

extension Report.StageRow {
    enum CodingKeys: String, CodingKey {
        case name, kind, block, blocks, output, parameters, perUse = "per_use", saved, macs
    }
}

extension Report.TieRow {
    enum CodingKeys: String, CodingKey {
        case name, weight, shape, parameters, uses, usedBy = "used_by", saved
    }
}

/// `part / whole` in percent, rounded to two decimals so that printed output is stable.
func percent(_ part: Int, of whole: Int) -> Double {
    whole == 0 ? 0 : (Double(part) * 10_000 / Double(whole)).rounded() / 100
}
