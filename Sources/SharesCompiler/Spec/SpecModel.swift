/// The located spec model: what a spec file says, after YAML and before any expression is evaluated.
/// Every element keeps the location it was written at, so later stages can point back at it.

public enum LayerKind: String, CaseIterable, Hashable, Sendable {
    case conv, batchnorm, relu, maxpool, avgpool
    case globalAvgpool = "global_avgpool"
    case flatten, linear, dropout
    case subsamplePad = "subsample_pad"
    case depthwise
    case relu6, silu, hardswish, gelu, sigmoid
    case squeezeExcite = "squeeze_excite"
    case layernorm
    case layerScale = "layer_scale"
    case stochasticDepth = "stochastic_depth"

    /// The keys each layer accepts, with whether they are required. `name` is accepted by all.
    var keys: [(key: String, required: Bool)] {
        switch self {
        case .conv:
            return [
                ("out", true), ("kernel", true), ("stride", false), ("pad", false), ("groups", false), ("bias", false)
            ]
        case .batchnorm: return [("eps", false)]
        case .relu, .globalAvgpool, .flatten, .relu6, .silu, .hardswish, .gelu, .sigmoid: return []
        case .maxpool, .avgpool: return [("kernel", true), ("stride", false), ("pad", false)]
        case .linear: return [("out", true), ("bias", false)]
        case .dropout: return [("p", false)]
        case .subsamplePad: return [("out", true), ("stride", false)]
        case .depthwise: return [("kernel", true), ("stride", false), ("pad", false), ("bias", false)]
        case .squeezeExcite: return [("width", true), ("activation", false)]
        case .layernorm: return [("eps", false)]
        case .layerScale: return [("init", false)]
        case .stochasticDepth: return [("p", true)]
        }
    }

    /// Prefix of the automatic name of the n-th layer of this kind in a section (`conv1`, `bn2`, ...).
    var autoNamePrefix: String {
        switch self {
        case .conv: return "conv"
        case .batchnorm: return "bn"
        case .relu: return "relu"
        case .maxpool: return "maxpool"
        case .avgpool: return "avgpool"
        case .globalAvgpool: return "gap"
        case .flatten: return "flatten"
        case .linear: return "fc"
        case .dropout: return "dropout"
        case .subsamplePad: return "subsample"
        case .depthwise: return "dwconv"
        // Prefixes ending in a digit take an underscore before the counter: relu6_1, not relu61.
        case .relu6: return "relu6_"
        case .silu: return "silu"
        case .hardswish: return "hardswish"
        case .gelu: return "gelu"
        case .sigmoid: return "sigmoid"
        case .squeezeExcite: return "se"
        case .layernorm: return "ln"
        case .layerScale: return "layer_scale"
        case .stochasticDepth: return "drop_path"
        }
    }
}

extension LayerKind {
    /// Convolutions, which `share:` can tie: `conv` and its `depthwise` shorthand.
    var isConvolution: Bool { self == .conv || self == .depthwise }

    /// Keys whose value is a word from a fixed list rather than an expression, with the words allowed.
    static let wordKeys: [String: [String]] = ["activation": ["relu", "silu"]]
}

/// Variables every block's layers and argument defaults can use, bound by the compiler for each block:
/// the block input's channels (an expansion or squeeze width relative to it) and the block's 1-based
/// number in its stage (a stochastic depth rate that grows along the network).
public enum BlockBuiltins {
    public static let inChannels = "in_channels", blockNumber = "block_number"
    public static let names: Set<String> = [inChannels, blockNumber]
}

/// A layer argument: a number or expression, an on/off flag (`bias: true`), or a word (`activation: silu`).
public enum ArgumentValue: Hashable, Sendable {
    case expression(Expression)
    case flag(Bool)
    case word(String)
}

public struct LayerSpec: Hashable, Sendable {
    public var kind: LayerKind
    /// The name given with `name:`; otherwise one is made up from the kind and position.
    public var name: Located<String>?
    public var arguments: [String: Located<ArgumentValue>]
    public var location: Location
}

public enum Shortcut: Hashable, Sendable {
    public enum When: String, Hashable, Sendable { case changed, always }
    /// The block input, unchanged; an error if the body changes the shape.
    case identity
    /// These layers, applied to the (pre-activated) input: always, or only when the body changes the shape.
    case projection([LayerSpec], when: When)
}

public enum Merge: String, Hashable, Sendable {
    /// Residual sum of body and shortcut.
    case add
    /// No residual connection: the block is its body.
    case none
    /// The residual sum where the body keeps the block input's shape, no residual connection where it
    /// does not (inverted residual blocks): the shortcut is then never built.
    case addIfSameShape = "add-if-same-shape"
}

public struct BlockParameter: Hashable, Sendable {
    public var name: String
    /// Nil when the argument is required.
    public var defaultValue: LocatedExpression?
    public var location: Location
}

public struct BlockTemplate: Hashable, Sendable {
    public var name: String
    public var parameters: [BlockParameter]
    public var pre: [LayerSpec]
    public var body: [LayerSpec]
    public var shortcut: Shortcut
    public var merge: Merge
    public var post: [LayerSpec]
    public var location: Location
}

/// Which blocks of a stage join a tie.
public enum BlockSelector: Hashable, Sendable, CustomStringConvertible {
    case all
    case afterFirst
    case none
    /// 1-based block indices.
    case blocks([Located<Int>])

    public var description: String {
        switch self {
        case .all: return "all"
        case .afterFirst: return "after-first"
        case .none: return "none"
        case .blocks(let list): return "[" + list.map { String($0.value) }.joined(separator: ", ") + "]"
        }
    }
}

/// `share: {conv2: after-first}` or `share: {conv2: {blocks: all, group: deep}}`.
public struct ShareEntry: Hashable, Sendable {
    public var conv: Located<String>
    public var selector: Located<BlockSelector>
    /// A named tie group that may span stages; nil for the stage's own tie.
    public var group: Located<String>?
}

public struct StageSpec: Hashable, Sendable {
    public var name: Located<String>
    public var block: Located<String>
    public var repeatCount: LocatedExpression
    public var stride: LocatedExpression?
    /// Block arguments given in the stage, in the order written.
    public var arguments: [BlockArgument]
    public var share: [ShareEntry]
    public var location: Location
}

extension StageSpec {
    /// Whether the stage itself gives the block argument `name` (`stride` is a stage key of its own).
    func sets(_ name: String) -> Bool {
        name == "stride" ? stride != nil : arguments.contains { $0.name.value == name }
    }
}

public struct BlockArgument: Hashable, Sendable {
    public var name: Located<String>
    public var value: LocatedExpression
}

public struct VariableDeclaration: Hashable, Sendable {
    public var name: String
    public var value: LocatedExpression
    public var location: Location
    /// The command-line option whose value replaced the spec's (`--set`, or `compare`'s `--set-a` or `--set-b`).
    public var setBy: String? = nil
    /// The spec's own value, where a command-line option replaced it: the variables it reads are still
    /// the spec's uses of them (`--set n=9` leaves `depth`, which `n: ($depth - 2) / 6` reads, used).
    public var written: LocatedExpression? = nil
}

/// `stem` and `head` are written in place, or name a list from `layers:` (usually in the block library).
public enum LayerList: Hashable, Sendable {
    case inline([LayerSpec])
    case named(Located<String>)
}

/// What one YAML file declares. A network is one such file plus what it includes and extends.
public struct SpecFile: Hashable, Sendable {
    public var path: String
    public var network: Located<String>?
    public var extends: Located<String>?
    public var includes: [Located<String>] = []
    public var variables: [VariableDeclaration] = []
    public var input: Located<[LocatedExpression]>?
    public var stem: LayerList?
    public var stages: [StageSpec]?
    public var head: LayerList?
    public var blocks: [BlockTemplate] = []
    /// Named layer lists (`layers: {imagenet_stem: [...]}`) that `stem` and `head` can name.
    public var layerLists: [(name: Located<String>, layers: [LayerSpec])] = []
    /// Top-level `share:`, by stage name: ties added to stages declared here or in a file this one extends.
    public var shareByStage: [(stage: Located<String>, entries: [ShareEntry])] = []

    public static func == (a: SpecFile, b: SpecFile) -> Bool { a.path == b.path }
    public func hash(into hasher: inout Hasher) { hasher.combine(path) }
}

/// A whole network: the main file merged with what it extends and includes, ready to lower.
public struct Spec: Sendable {
    public var path: String
    public var network: Located<String>
    public var variables: [String: VariableDeclaration]
    public var input: Located<[LocatedExpression]>
    public var stem: [LayerSpec]
    public var stages: [StageSpec]
    public var head: [LayerSpec]
    public var blocks: [String: BlockTemplate]
}

extension Spec {
    /// The spec with every stage's `share:` left out: its sequential variant.
    public var withoutTies: Spec {
        var untied = self
        for index in untied.stages.indices { untied.stages[index].share = [] }
        return untied
    }
}
