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
        /// The tied bias, where the tie's convolutions have one (tied with the weight): its name.
        public var bias: String?
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
    /// Asked for (`--batch N`): inference and training memory at batch N; absent otherwise.
    public var memory: Memory?
    /// The `--set name=value` overrides the network was compiled with, each name once with the value that
    /// held (the last given), spaces around the value dropped.
    public var overrides: [String] = []

    /// How a report or a comparison names a network: `resnet-56 (shared) --set depth=20` (`--set` changes
    /// the network, so the name says which settings it was compiled with).
    public static func label(_ network: String, _ variant: Graph.Variant, overrides: [String]) -> String {
        "\(network) (\(variant.rawValue))" + overrides.map { " --set \($0)" }.joined()
    }

    public static func label(_ graph: Graph, overrides: [String]) -> String {
        label(graph.network, graph.variant, overrides: overrides)
    }
    /// Non-fatal findings of the compilation (also printed to standard error by the commands).
    public var warnings: [Warning] = []

    public struct Warning: Codable, Hashable, Sendable {
        public var location: Location
        public var message: String
        /// The places the text prints under it (`note: stage 'stage2' sets it here`).
        public var notes: [Note] = []

        public struct Note: Codable, Hashable, Sendable {
            public var location: Location
            public var message: String
        }
    }

    enum CodingKeys: String, CodingKey {
        case network, source, variant, input, output, parameters
        case weightBytes = "weight_bytes", bufferBytes = "buffer_bytes"
        case macs, flops, layers, stages, ties, perLayer = "per_layer", memory, overrides, warnings
    }
}

extension Report {
    /// Memory at a batch of N images, float32 throughout (`--batch N`).
    public struct Memory: Codable, Hashable, Sendable {
        public struct Inference: Codable, Hashable, Sendable {
            /// The memory plan's activation arena for one image (`--emit memory`): what one thread running
            /// one image at a time needs.
            public var arenaBytesPerImage: Int
            /// N arenas: the batch's activations if laid out together (one arena per image).
            public var arenaBytes: Int
            /// Distinct trainable parameters (a tied weight once).
            public var weightBytes: Int
            /// Batchnorm running statistics.
            public var bufferBytes: Int
            /// arenaBytes + weightBytes + bufferBytes.
            public var totalBytes: Int
        }

        public struct Training: Codable, Hashable, Sendable {
            /// Distinct trainable parameters (a tied weight once), and their gradients: as many.
            public var weightBytes: Int
            public var gradientBytes: Int
            public var bufferBytes: Int
            /// Activations saved for backward by one forward pass at batch N (`TrainingMemory`), each saved
            /// tensor once; of them, `savedActivationBytesPerImage` grow with every image.
            public var savedActivationBytes: Int
            public var savedActivationBytesPerImage: Int
            /// Optimizer state: SGD's momentum (one per trainable parameter), Adam's two moments.
            public var sgdMomentumBytes: Int
            public var adamBytes: Int
            /// Weights, gradients, buffers, saved activations and the optimizer's state.
            public var totalSGDMomentumBytes: Int
            public var totalAdamBytes: Int
        }

        public var batch: Int
        public var inference: Inference
        public var training: Training
    }
}

extension Report.Memory.Inference {
    enum CodingKeys: String, CodingKey {
        case arenaBytesPerImage = "arena_bytes_per_image", arenaBytes = "arena_bytes", weightBytes = "weight_bytes"
        case bufferBytes = "buffer_bytes", totalBytes = "total_bytes"
    }
}

extension Report.Memory.Training {
    enum CodingKeys: String, CodingKey {
        case weightBytes = "weight_bytes", gradientBytes = "gradient_bytes", bufferBytes = "buffer_bytes"
        case savedActivationBytes = "saved_activation_bytes"
        case savedActivationBytesPerImage = "saved_activation_bytes_per_image"
        case sgdMomentumBytes = "sgd_momentum_bytes", adamBytes = "adam_bytes"
        case totalSGDMomentumBytes = "total_sgd_momentum_bytes", totalAdamBytes = "total_adam_bytes"
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
        case name, weight, shape, bias, parameters, uses, usedBy = "used_by", saved
    }
}

/// `part / whole` in percent, rounded to two decimals so that printed output is stable, or to as many
/// more as it takes not to show a part as none or as all of the whole (a tie with 20,000 uses saved
/// 99.995%, which two decimals made 100 where the text said 99.995%); nothing is 0, never -0.
func percent(_ part: Int, of whole: Int) -> Double {
    guard whole != 0, part != 0 else { return 0 }
    let exact = Double(part) / Double(whole) * 100
    return Format.percentDecimals(part, of: whole, from: 2, to: 8).map { Format.rounded(exact, decimals: $0) } ?? exact
}
