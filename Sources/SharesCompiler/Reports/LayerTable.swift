/// The researcher's view of a network: one row per layer use, in graph order, or those rows folded into
/// blocks or into the stem, the stages and the head (as torchinfo's `depth` folds modules). Every
/// column but the output shape is a sum over the layer uses a row holds, so the rows of any depth add
/// up to the report's totals, and a tied weight counts once overall: in the row of its first use.
/// Codable with the snake_case keys of the report's `per_layer`.
public struct LayerTable: Codable, Hashable, Sendable {
    /// How far the rows are unfolded (`--per-layer-depth`).
    public enum Depth: Int, Codable, CaseIterable, Sendable {
        /// The stem, each stage, the head.
        case stages = 1
        /// Each block; the stem's and the head's layers, which belong to no block.
        case blocks = 2
        /// Each layer use.
        case layers = 3
    }

    public struct Row: Codable, Hashable, Sendable {
        /// The layer's path in the spec (`stage1.block2.conv2`), a block's (`stage1.block2`), or a section's.
        public var name: String
        /// A layer's op (`conv`, `batchnorm`, ...); `block`, `stem`, `stage` or `head` for a folded row.
        public var kind: String
        /// The output of the row's last layer in graph order (a block's or a stage's output).
        public var output: Shape
        /// Distinct trainable parameters first used in this row: a tied weight counts at its first use only.
        public var parameters: Int
        /// Trainable parameters read, every use counted, as a sharing-unaware counter says.
        public var perUse: Int
        /// Multiply-accumulates per image.
        public var macs: Int
        /// The ties whose weights the row's layers read, in order of first use; empty for none.
        public var ties: [String]
        /// Bytes of the row's layer outputs per image, as float32 (for one layer, its output).
        public var activationBytes: Int
    }

    public var depth: Depth
    public var rows: [Row]
}

extension LayerTable.Row {
    enum CodingKeys: String, CodingKey {
        case name, kind, output, parameters, macs, ties
        case perUse = "parameters_per_use", activationBytes = "activation_bytes"
    }
}
