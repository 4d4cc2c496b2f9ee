/// Lowers a validated spec to a graph: evaluates every size, expands stages into blocks and blocks
/// into layers, infers shapes as it goes, and resolves each tie to one parameter identity.
struct Lowering {
    /// Bounds that keep hostile specs from exhausting memory; real networks are far below them.
    static let maximumRepeat = 10_000
    static let maximumBlocks = 20_000
    /// Graph nodes in all (layers and the input): long block bodies times many blocks grew without
    /// bound (a 13 KB spec made billions), and every pass and report walks them.
    static let maximumLayers = 200_000
    static let maximumChannels = 1 << 20
    static let maximumSpatial = 1 << 16
    static let maximumWindow = 1 << 10

    private let spec: Spec
    private let globals: Scope
    private var graph: Graph
    private var tieIndex: [String: TieState] = [:]
    /// Every tie group a share declared, in source order, with its first declaration: a group that
    /// ends up with fewer than two uses shares nothing and is reported.
    private var declaredTies: [(group: String, conv: String, stage: String, declaration: Location)] = []
    /// The groups of `declaredTies`, looked up per share entry (a search of the list made 10,000 groups quadratic).
    private var declaredGroups: Set<String> = []
    private var warnings: [Diagnostic] = []
    /// Where each name of a layer or parameter was made: two layers' paths can give one name (a layer
    /// named `shortcut` holding `fc1`, and the shortcut's own `fc1`), and ONNX, PyTorch and the weights
    /// files need every one unique. A tied convolution reserves the names its weight takes in the
    /// sequential variant.
    private var takenNames: [String: (location: Location, tie: String?)] = [:]

    /// The first use of a tie fixes its shape; later uses are checked against it.
    private struct TieState {
        var index: Int
        var firstUse: String
        var firstDeclaration: Location
        var weightShape: [Int]
        var hasBias: Bool
        var uses = 0
    }

    /// A request to tie one convolution of a block: the group it joins and the declaration that asked.
    private struct TieRequest {
        var group: String
        var parameterPrefix: String
        var declaration: Location
    }

    /// `warnAboutTies` is off for the sequential variant, where no tie survives to share anything.
    static func lower(_ spec: Spec, warnAboutTies: Bool = true) throws(CompileFailure) -> (
        Graph, warnings: [Diagnostic]
    ) {
        var lowering = Lowering(spec: spec, globals: try spec.globalScope())
        try lowering.lowerNetwork()
        lowering.dropTiesWithOneUse(warn: warnAboutTies)
        lowering.warnAboutMisplacedStochasticDepth()
        lowering.graph.variant = lowering.graph.ties.isEmpty ? .untied : .shared
        return (lowering.graph, lowering.warnings)
    }

    /// Stochastic depth drops a block's residual branch: outside a block's body (the stem, the head, a
    /// block's pre, shortcut or post layers) there is none, and it does nothing, in training too. Inside
    /// one, a later layer that makes something of nothing (a batchnorm's shift, a bias) gives a dropped
    /// sample's branch a value all the same.
    private mutating func warnAboutMisplacedStochasticDepth() {
        let used = Set(spec.stages.map(\.block.value))
        var places: [(layers: [LayerSpec], place: String)] = [(spec.stem, "the stem"), (spec.head, "the head")]
        var found: [Diagnostic] = []
        for name in used.sorted() {
            guard let template = spec.blocks[name] else { continue }
            var shortcut: [LayerSpec] = []
            if case .projection(let layers, _) = template.shortcut { shortcut = layers }
            places += [
                (template.pre, "the pre layers of block '\(name)'"), (shortcut, "the shortcut of block '\(name)'"),
                (template.post, "the post layers of block '\(name)'")
            ]
            let body = template.body
            // Without a residual merge the body is the block's whole output: nothing to drop.
            if template.merge == .none {
                found += body.filter { $0.kind == .stochasticDepth }.map {
                    Diagnostic(.warning, at: $0.location, .stochasticDepthWithoutResidual(block: name))
                }
                continue
            }
            guard let drop = body.firstIndex(where: { $0.kind == .stochasticDepth }),
                let later = body[(drop + 1)...].first(where: { !Self.keepsZero($0) })
            else { continue }
            found.append(
                Diagnostic(
                    .warning, at: body[drop].location,
                    .stochasticDepthBeforeOffset(block: name, layer: later.kind.rawValue),
                    notes: [Diagnostic.note(at: later.location, .offsetLayer(later.kind.rawValue))]))
        }
        found += places.flatMap { layers, place in
            layers.filter { $0.kind == .stochasticDepth }.map {
                Diagnostic(.warning, at: $0.location, .stochasticDepthOutsideBody(place: place))
            }
        }
        warnings += found.sorted { $0.location < $1.location }
    }

    /// Whether a layer maps an all-zero input to zero (a dropped branch stays dropped through it).
    private static func keepsZero(_ layer: LayerSpec) -> Bool {
        switch layer.kind {
        case .conv, .linear, .depthwise: return layer.arguments["bias"]?.value != .flag(true)
        case .batchnorm, .layernorm, .sigmoid: return false
        case .relu, .maxpool, .avgpool, .globalAvgpool, .flatten, .dropout, .subsamplePad, .relu6, .silu, .hardswish,
            .gelu, .squeezeExcite, .layerScale, .stochasticDepth:
            return true
        }
    }

    /// A tie used once shares nothing: warn, and give its weight the name of the layer that uses it.
    private mutating func dropTiesWithOneUse(warn: Bool) {
        for declared in declaredTies where warn && (tieIndex[declared.group]?.uses ?? 0) < 2 {
            warnings.append(
                Diagnostic(
                    .warning, at: declared.declaration,
                    .shareSelectsOneBlock(conv: declared.conv, stage: declared.stage)))
        }
        var kept: [Tie] = []
        for tie in graph.ties {
            guard let state = tieIndex[tie.name], state.uses < 2 else {
                kept.append(tie)
                continue
            }
            graph.parameters[tie.weight.index].tie = nil
            graph.parameters[tie.weight.index].name = state.firstUse + ".weight"
            if let bias = tie.bias {
                graph.parameters[bias.index].tie = nil
                graph.parameters[bias.index].name = state.firstUse + ".bias"
            }
        }
        graph.ties = kept
    }

    private init(spec: Spec, globals: Scope) {
        self.spec = spec
        self.globals = globals
        self.graph = Graph(network: spec.network.value, source: spec.path, variant: .shared, inputShape: Shape([]))
    }

    // MARK: Network, stages, blocks

    private mutating func lowerNetwork() throws(CompileFailure) {
        let dims = spec.input.value
        let channels = try globals.integer(dims[0], "input channels", in: 1...Self.maximumChannels)
        let height = try globals.integer(dims[1], "input height", in: 1...Self.maximumSpatial)
        let width = try globals.integer(dims[2], "input width", in: 1...Self.maximumSpatial)
        // At most 2^20 * 2^16 * 2^16: the product cannot overflow.
        guard channels * height * width <= ShapeRules.maximumElements else {
            throw CompileFailure(
                Diagnostic(at: spec.input.location, .tensorTooLarge("the input \(channels)x\(height)x\(width)")))
        }
        graph.inputShape = .image(channels: channels, height: height, width: width)
        // Images written channels last ([224, 224, 3], as NumPy and TensorFlow hold them) read as 224
        // channels of a 224 x 3 map, which compiles.
        if [1, 3, 4].contains(width), channels == height, channels >= 16 {
            warnings.append(
                Diagnostic(
                    .warning, at: spec.input.location,
                    .inputChannelsLast(channels: channels, height: height, width: width)))
        }
        var current = try append(
            .input, inputs: [], name: "input", section: .stem, location: spec.input.location,
            inputShapes: [graph.inputShape])
        current = try lowerLayers(
            spec.stem.namedLayers(prefix: "stem."), from: current, scope: globals, section: .stem, ties: [:])

        let counts = try spec.stages.map { stage throws(CompileFailure) in
            try globals.integer(stage.repeatCount, "'repeat'", in: 0...Self.maximumRepeat)
        }
        var blocks = 0
        for (stage, count) in zip(spec.stages, counts) {
            blocks += count
            if blocks > Self.maximumBlocks {  // at the stage whose blocks cross the limit
                throw CompileFailure(
                    Diagnostic(at: stage.location, .tooManyBlocks(counts.reduce(0, +), limit: Self.maximumBlocks)))
            }
        }
        for (index, stage) in spec.stages.enumerated() {
            current = try lowerStage(stage, index: index, blocks: counts[index], from: current)
        }
        _ = try lowerLayers(
            spec.head.namedLayers(prefix: "head."), from: current, scope: globals, section: .head, ties: [:])
    }

    private mutating func lowerStage(_ stage: StageSpec, index: Int, blocks count: Int, from input: ValueID)
        throws(CompileFailure) -> ValueID
    {
        guard let template = spec.blocks[stage.block.value] else {
            throw CompileFailure(
                Diagnostic(at: stage.block.location, .unknownBlock(stage.block.value, known: spec.blocks.keys.sorted()))
            )
        }
        graph.stages.append(
            StageInfo(name: stage.name.value, template: template.name, blocks: count, location: stage.location))
        let stride = try stage.stride.map { stride throws(CompileFailure) in
            try globals.integer(stride, "'stride'", in: 1...Self.maximumWindow)
        }
        var arguments = globals
        for argument in stage.arguments {
            arguments = arguments.binding(
                argument.name.value, to: try globals.evaluate(argument.value), from: argument.value)
        }
        let requests = try tieRequests(of: stage, blocks: count)
        var current = input
        for block in 1...max(count, 1) where count > 0 {
            do {
                // The stage's arguments, its stride on the first block only (1 after), then the
                // block's defaults for whatever the stage left out (a default beats a global).
                var scope =
                    arguments
                    .adding(BlockBuiltins.inChannels, .int(graph[current].shape.channels))
                    .adding(BlockBuiltins.blockNumber, .int(block))
                if let stride { scope = scope.adding("stride", .int(block == 1 ? stride : 1)) }
                for parameter in template.parameters where !stage.sets(parameter.name) {
                    if let value = parameter.defaultValue {
                        scope = scope.binding(parameter.name, to: try scope.evaluate(value), from: value)
                    }
                }
                current = try lowerBlock(
                    template, from: current, scope: scope,
                    section: .block(stage: index, block: block),
                    path: "\(stage.name.value).block\(block).", ties: requests[block] ?? [:])
            } catch {
                let note = Diagnostic.note(
                    at: stage.location, .expandedFrom(stage: stage.name.value, block: block, template: template.name))
                throw CompileFailure(
                    error.diagnostics.map {
                        var diagnostic = $0
                        diagnostic.notes.append(note)
                        return diagnostic
                    })
            }
        }
        return current
    }

    /// For each block of the stage, the convolutions to tie and the tie group each joins.
    private mutating func tieRequests(of stage: StageSpec, blocks count: Int) throws(CompileFailure) -> [Int: [String:
        TieRequest]]
    {
        var requests: [Int: [String: TieRequest]] = [:]
        for entry in stage.share {
            let selected: [Int]
            switch entry.selector.value {
            case .all: selected = Array(1...max(count, 1)).filter { $0 <= count }
            case .afterFirst: selected = count >= 2 ? Array(2...count) : []
            case .none: selected = []
            case .blocks(let list):
                for index in list where !(1...max(count, 1)).contains(index.value) || count == 0 {
                    throw CompileFailure(
                        Diagnostic(at: index.location, .blockIndexOutOfRange(index.value, repeatCount: count)))
                }
                selected = Array(Set(list.map(\.value))).sorted()
            }
            let group = entry.group?.value ?? "\(stage.name.value).\(entry.conv.value)"
            let prefix = entry.group.map { "shared.\($0.value)." } ?? "\(stage.name.value).shared.\(entry.conv.value)."
            let declaration = entry.group?.location ?? entry.selector.location
            if case .none = entry.selector.value {
            } else if declaredGroups.insert(group).inserted {
                declaredTies.append((group, entry.conv.value, stage.name.value, declaration))
            }
            for block in selected {
                requests[block, default: [:]][entry.conv.value] = TieRequest(
                    group: group, parameterPrefix: prefix, declaration: declaration)
            }
        }
        return requests
    }

    private mutating func lowerBlock(
        _ template: BlockTemplate, from input: ValueID, scope: Scope, section: Section,
        path: String, ties: [String: TieRequest]
    ) throws(CompileFailure) -> ValueID {
        let preActivated = try lowerLayers(
            template.pre.namedLayers(prefix: path + "pre."), from: input, scope: scope,
            section: section, ties: ties, stripping: path)
        let body = try lowerLayers(
            template.body.namedLayers(prefix: path), from: preActivated, scope: scope,
            section: section, ties: ties, stripping: path)
        let bodyShape = graph[body].shape, inputShape = graph[input].shape
        if template.merge == .none || (template.merge == .addIfSameShape && bodyShape != inputShape) {
            return try lowerLayers(
                template.post.namedLayers(prefix: path + "post."), from: body, scope: scope,
                section: section, ties: ties, stripping: path)
        }
        var shortcut = input
        switch template.shortcut {
        case .identity:
            guard bodyShape == inputShape else {
                throw CompileFailure(
                    Diagnostic(
                        at: template.location,
                        .identityShapeMismatch(
                            body: bodyShape.description,
                            input: inputShape.description)))
            }
        case .projection(let layers, let when):
            if when == .always || bodyShape != inputShape {
                shortcut = try lowerLayers(
                    layers.namedLayers(prefix: path + "shortcut."), from: preActivated, scope: scope,
                    section: section, ties: ties, stripping: path)
            }
        }
        let merged = try append(
            .add, inputs: [body, shortcut], name: path + "add", section: section, location: template.location)
        return try lowerLayers(
            template.post.namedLayers(prefix: path + "post."), from: merged, scope: scope,
            section: section, ties: ties, stripping: path)
    }

    // MARK: Layers

    private mutating func lowerLayers(
        _ layers: [NamedLayer], from input: ValueID, scope: Scope, section: Section,
        ties: [String: TieRequest], stripping blockPath: String = ""
    ) throws(CompileFailure) -> ValueID {
        var current = input
        for layer in layers {
            let tie = layer.spec.kind.isConvolution ? ties[String(layer.name.dropFirst(blockPath.count))] : nil
            current = try lowerLayer(layer, from: current, scope: scope, section: section, tie: tie)
        }
        return current
    }

    private mutating func lowerLayer(
        _ layer: NamedLayer, from input: ValueID, scope: Scope, section: Section,
        tie: TieRequest?
    ) throws(CompileFailure) -> ValueID {
        let spec = layer.spec
        let inputShape = graph[input].shape
        func integer(_ key: String, default fallback: Int? = nil, in range: ClosedRange<Int>) throws(CompileFailure)
            -> Int
        {
            guard let argument = spec.arguments[key] else { return fallback ?? range.lowerBound }
            guard case .expression(let expression) = argument.value else {
                throw CompileFailure(
                    Diagnostic(at: argument.location, .expected("'\(key)' as a number", found: "a flag")))
            }
            return try scope.integer(
                Located(expression, at: argument.location), "'\(key)' of \(spec.kind.rawValue)", in: range)
        }
        func flag(_ key: String, default fallback: Bool) -> Bool {
            if case .flag(let value)? = spec.arguments[key]?.value { return value }
            return fallback
        }
        // (A number, not a Double, so that a message shows a whole number as written: "found 16".)
        func real(_ key: String, default fallback: Double) throws(CompileFailure) -> Number {
            guard let argument = spec.arguments[key], case .expression(let expression) = argument.value else {
                return .real(fallback)
            }
            return try scope.evaluate(Located(expression, at: argument.location))
        }

        func probability(default fallback: Double) throws(CompileFailure) -> Double {
            let rate = try real("p", default: fallback)
            // (As a float too, as ONNX holds it: 0.99999999999 is 1 there.)
            guard (0..<1).contains(rate.asDouble), Float(rate.asDouble) < 1 else {
                let rounded = (0..<1).contains(rate.asDouble) ? ", which is 1 as a 32-bit float" : ""
                throw CompileFailure(
                    Diagnostic(
                        at: spec.arguments["p"]?.location ?? spec.location,
                        .probabilityExpected(spec.kind.rawValue, found: rate.description + rounded)))
            }
            return rate.asDouble
        }
        func positive(_ key: String, default fallback: Double) throws(CompileFailure) -> Double {
            let value = try float32(key, default: fallback)
            guard Float(value.asDouble) > 0 else {  // (as a float too: 1e-50 would be 0 there)
                let rounded = value.asDouble > 0 ? ", which is 0 as a 32-bit float" : ""
                throw CompileFailure(
                    Diagnostic(
                        at: spec.arguments[key]!.location,
                        .expected("'\(key)' greater than 0", found: value.description + rounded)))
            }
            return value.asDouble
        }
        // A real that the network holds as a 32-bit float (an epsilon, a weight's initial value): 1e39 would
        // be infinite there, in sharesc and in the exports alike.
        func float32(_ key: String, default fallback: Double) throws(CompileFailure) -> Number {
            let value = try real(key, default: fallback)
            guard Float(value.asDouble).isFinite else {
                throw CompileFailure(
                    Diagnostic(
                        at: spec.arguments[key]!.location,
                        .expected(
                            "'\(key)' within 32-bit float range (at most 3.4e38 in size)", found: value.description)))
            }
            return value
        }
        func parameter(_ role: String, _ shape: [Int], _ kind: Parameter.Role) throws(CompileFailure) -> ParameterID {
            try newParameter(layer.name + "." + role, shape, kind, at: spec.location)
        }

        let op: Op
        switch spec.kind {
        case .conv, .depthwise:
            let kernel = try integer("kernel", in: 1...Self.maximumWindow)
            // A depthwise convolution keeps the channels, one group per channel, and pads to keep the size.
            let depthwise = spec.kind == .depthwise
            let out = depthwise ? inputShape.channels : try integer("out", in: 1...Self.maximumChannels)
            var conv = Op.Convolution(
                outChannels: out, kernel: kernel,
                stride: try integer("stride", default: 1, in: 1...Self.maximumWindow),
                padding: try integer("pad", default: depthwise ? (kernel - 1) / 2 : 0, in: 0...Self.maximumWindow),
                groups: depthwise
                    ? inputShape.channels : try integer("groups", default: 1, in: 1...Self.maximumChannels),
                weight: ParameterID(-1), bias: nil)
            let hasBias = flag("bias", default: false)
            if hasBias { conv.bias = ParameterID(-1) }
            // The layer's own geometry first: where its groups do not divide its input, its weight's shape
            // has a zero in it, and a tie reported that shape instead.
            if case .failure(let message) = ShapeRules.output(of: .conv(conv), inputs: [inputShape], name: layer.name) {
                throw CompileFailure(Diagnostic(at: spec.location, message))
            }
            let shapes = ShapeRules.parameterShapes(of: .conv(conv), input: inputShape)
            if let tie {
                try take(layer.name + ".weight", at: spec.location)
                if hasBias { try take(layer.name + ".bias", at: spec.location) }
                (conv.weight, conv.bias) = try tiedParameters(
                    tie, use: layer.name, weightShape: shapes[0], hasBias: hasBias,
                    location: spec.location)
            } else {
                conv.weight = try newParameter(layer.name + ".weight", shapes[0], .convWeight, at: spec.location)
                if hasBias {
                    conv.bias = try newParameter(layer.name + ".bias", shapes[1], .convBias, at: spec.location)
                }
            }
            op = .conv(conv)
        case .batchnorm:
            let epsilon = try positive("eps", default: 1e-5)
            let shape = [inputShape.channels]
            op = .batchNorm(
                Op.BatchNorm(
                    epsilon: epsilon, scale: try parameter("weight", shape, .bnScale),
                    shift: try parameter("bias", shape, .bnShift), mean: try parameter("running_mean", shape, .bnMean),
                    variance: try parameter("running_var", shape, .bnVariance)))
        case .relu: op = .relu
        case .maxpool, .avgpool:
            let kernel = try integer("kernel", in: 1...Self.maximumWindow)
            let pool = Op.Pooling(
                kernel: kernel, stride: try integer("stride", default: kernel, in: 1...Self.maximumWindow),
                padding: try integer("pad", default: 0, in: 0...kernel / 2))
            op = spec.kind == .maxpool ? .maxPool(pool) : .avgPool(pool)
        case .globalAvgpool: op = .globalAvgPool
        case .flatten: op = .flatten
        case .linear:
            let out = try integer("out", in: 1...Self.maximumChannels)
            let hasBias = flag("bias", default: true)
            var linear = Op.Linear(outFeatures: out, weight: ParameterID(-1), bias: nil)
            linear.weight = try newParameter(
                layer.name + ".weight", [out, inputShape.elementCount], .linearWeight, at: spec.location)
            if hasBias { linear.bias = try newParameter(layer.name + ".bias", [out], .linearBias, at: spec.location) }
            op = .linear(linear)
        case .dropout: op = .dropout(rate: try probability(default: 0.5))
        case .stochasticDepth: op = .stochasticDepth(rate: try probability(default: 0))
        case .relu6: op = .activation(.relu6)
        case .silu: op = .activation(.silu)
        case .hardswish: op = .activation(.hardswish)
        case .gelu: op = .activation(.gelu)
        case .sigmoid: op = .activation(.sigmoid)
        case .squeezeExcite:
            let channels = inputShape.channels
            let squeeze = try integer("width", in: 1...Self.maximumChannels)
            var activation = Op.SqueezeExcite.Activation.relu
            if case .word(let word)? = spec.arguments["activation"]?.value {
                activation = Op.SqueezeExcite.Activation(rawValue: word) ?? .relu
            }
            op = .squeezeExcite(
                Op.SqueezeExcite(
                    squeezeChannels: squeeze, activation: activation,
                    reduceWeight: try parameter("fc1.weight", [squeeze, channels, 1, 1], .convWeight),
                    reduceBias: try parameter("fc1.bias", [squeeze], .convBias),
                    expandWeight: try parameter("fc2.weight", [channels, squeeze, 1, 1], .convWeight),
                    expandBias: try parameter("fc2.bias", [channels], .convBias)))
        case .layernorm:
            let shape = [inputShape.channels]
            op = .layerNorm(
                Op.LayerNorm(
                    epsilon: try positive("eps", default: 1e-5), scale: try parameter("weight", shape, .lnScale),
                    shift: try parameter("bias", shape, .lnShift)))
        case .layerScale:
            op = .layerScale(
                Op.LayerScale(
                    initial: try float32("init", default: 1e-6).asDouble,
                    weight: try parameter("weight", [inputShape.channels], .layerScale)))
        case .subsamplePad:
            op = .subsamplePad(
                Op.SubsamplePad(
                    outChannels: try integer("out", in: 1...Self.maximumChannels),
                    stride: try integer("stride", default: 1, in: 1...Self.maximumWindow)))
        }
        return try append(op, inputs: [input], name: layer.name, section: section, location: spec.location)
    }

    // MARK: Graph building

    private mutating func append(
        _ op: Op, inputs: [ValueID], name: String, section: Section, location: Location,
        inputShapes: [Shape]? = nil
    ) throws(CompileFailure) -> ValueID {
        guard graph.nodes.count < Self.maximumLayers else {
            throw CompileFailure(Diagnostic(at: location, .tooManyLayers(layer: name, limit: Self.maximumLayers)))
        }
        try take(name, at: location)
        let shapes = inputShapes ?? inputs.map { graph[$0].shape }
        switch ShapeRules.output(of: op, inputs: shapes, name: name) {
        case .failure(let message):
            throw CompileFailure(Diagnostic(at: location, message))
        case .success(let shape):
            let id = ValueID(graph.nodes.count)
            graph.nodes.append(
                GraphNode(
                    id: id, op: op, inputs: inputs, shape: shape, name: name, section: section, location: location))
            return id
        }
    }

    /// Claims `name` in the one namespace of layers and parameters, for a layer (`tie` nil) or for the
    /// weight of tie group `tie`, declared at `location`.
    private mutating func take(_ name: String, at location: Location, tie: String? = nil) throws(CompileFailure) {
        guard let first = takenNames.updateValue((location, tie), forKey: name) else { return }
        throw CompileFailure(
            Diagnostic(
                at: location, .nameClash(name, tie: tie),
                notes: [Diagnostic.note(at: first.location, .nameClashFirst(name, tie: first.tie))]))
    }

    /// A tied parameter (of `tie`'s group) takes its name where its group is declared.
    private mutating func newParameter(
        _ name: String, _ shape: [Int], _ role: Parameter.Role, tie: TieRequest? = nil, at location: Location
    ) throws(CompileFailure) -> ParameterID {
        guard let count = Shape.checkedProduct(shape), count <= ShapeRules.maximumElements else {
            throw CompileFailure(Diagnostic(at: location, .tensorTooLarge("parameter '\(name)'")))
        }
        try take(name, at: tie?.declaration ?? location, tie: tie?.group)
        let id = ParameterID(graph.parameters.count)
        graph.parameters.append(Parameter(id: id, name: name, shape: shape, role: role, tie: tie?.group))
        return id
    }

    private mutating func tiedParameters(
        _ request: TieRequest, use: String, weightShape: [Int], hasBias: Bool,
        location: Location
    ) throws(CompileFailure) -> (ParameterID, ParameterID?) {
        let describe = { (shape: [Int]) in shape.map(String.init).joined(separator: "x") }
        if var state = tieIndex[request.group] {
            // A disagreement is at the share that brings this use in, with notes at the first use's share
            // (where it is another) and at the convolution.
            func disagreement(_ message: Message) -> CompileFailure {
                let first =
                    state.firstDeclaration == request.declaration
                    ? []
                    : [
                        Diagnostic.note(
                            at: state.firstDeclaration, .tieFirstUse(group: request.group, use: state.firstUse))
                    ]
                return CompileFailure(
                    Diagnostic(
                        at: request.declaration, message, notes: first + [Diagnostic.note(at: location, .tieUse(use))]))
            }
            guard state.weightShape == weightShape else {
                throw disagreement(
                    .tieShapeMismatch(
                        group: request.group, use: use, shape: describe(weightShape), firstUse: state.firstUse,
                        firstShape: describe(state.weightShape)))
            }
            guard state.hasBias == hasBias else {
                throw disagreement(
                    .tieBiasMismatch(group: request.group, use: use, hasBias: hasBias, firstUse: state.firstUse))
            }
            state.uses += 1
            tieIndex[request.group] = state
            if !graph.ties[state.index].declarations.contains(request.declaration) {
                graph.ties[state.index].declarations.append(request.declaration)
            }
            return (graph.ties[state.index].weight, graph.ties[state.index].bias)
        }
        let weight = try newParameter(
            request.parameterPrefix + "weight", weightShape, .convWeight, tie: request, at: location)
        let bias =
            hasBias
            ? try newParameter(
                request.parameterPrefix + "bias", [weightShape[0]], .convBias, tie: request, at: location) : nil
        tieIndex[request.group] = TieState(
            index: graph.ties.count, firstUse: use, firstDeclaration: request.declaration,
            weightShape: weightShape, hasBias: hasBias, uses: 1)
        graph.ties.append(Tie(name: request.group, weight: weight, bias: bias, declarations: [request.declaration]))
        return (weight, bias)
    }
}
