/// One block template as an `nn.Module` class: the template's arguments are the constructor's, the
/// layers keep their spec names (`conv1`, `pre.bn1`, `shortcut.conv1`, `post.relu1`), so that the
/// module tree mirrors sharesc's parameter names, and `forward` is written out.
struct TorchBlockClass {
    /// A constructor argument: its Python name and, when it is a plain number, its default.
    struct Argument {
        var specName: String
        var pythonName: String
        var required: Bool
        var literalDefault: String?
    }

    let template: BlockTemplate
    let className: String
    let arguments: [Argument]
    /// Global variables the template reads, as keyword arguments defaulting to their values.
    let globals: [(pythonName: String, value: String)]
    /// Whether blocks say if they project (`shortcut` used only where the body changes the shape).
    let takesProject: Bool
    /// Convolutions tied in at least one block: built by `conv2d(..., tied=...)`.
    let tieable: Set<String>
    /// When a block has its residual sum (`merge: add-if-same-shape` decides it from the shapes).
    let residual: ResidualRule
    let source: String

    /// `vectorInput`: the blocks read vectors (a residual MLP), not images. `realArguments`: the
    /// arguments some stage gives as real numbers.
    init(
        _ template: BlockTemplate, className: String, tieable: Set<String>, vectorInput: Bool, globals scope: Scope,
        realArguments: Set<String>, reserved: Set<String>
    ) throws(CompileFailure) {
        self.template = template
        self.className = className
        self.tieable = tieable
        let sections = template.sections
        var taken = reserved
        // The built-ins: the block input's size is the constructor's first argument.
        let inputSize = vectorInput ? "in_features" : "in_channels"
        var names: [String: String] = [BlockBuiltins.inChannels: inputSize]
        var arguments: [Argument] = []
        // A default sees the global variables, the arguments the stage gives, and the defaults of the
        // arguments declared before it (docs/spec-language.md, §7). So a name of its own argument is the
        // global (`a: $a + 1`), and a name of a later argument that argument where the stage gives it,
        // else the global: such a later argument defaults to None, to tell whether it was given.
        let declared = Dictionary(uniqueKeysWithValues: template.parameters.enumerated().map { ($1.name, $0) })
        let readBefore = Set(
            template.parameters.enumerated().flatMap { index, parameter in
                (parameter.defaultValue?.value.variables ?? []).map(\.name).filter { (declared[$0] ?? -1) > index }
            })
        for parameter in template.parameters {
            let python = PythonSource.localName(parameter.name, avoiding: taken)
            taken.insert(python)
            names[parameter.name] = python
            var literal: String?
            if let value = parameter.defaultValue, value.value.variables.isEmpty, !readBefore.contains(parameter.name),
                let number = try? Scope().evaluate(value)
            {
                literal = PythonSource.literal(number)
            }
            arguments.append(
                Argument(
                    specName: parameter.name, pythonName: python, required: parameter.defaultValue == nil,
                    literalDefault: literal))
        }
        // Global variables the template reads, in the order they are written (never the order of a
        // dictionary, so that the same spec always gives the same file).
        var globals: [(pythonName: String, value: String)] = []
        let layerArguments = sections.flatMap { $0.layers }.flatMap { $0.spec.arguments.values }.sorted {
            $0.location < $1.location
        }
        let read =
            template.parameters.compactMap { $0.defaultValue?.value.variables }
            + layerArguments
            .compactMap { argument -> [(name: String, location: Location)]? in
                if case .expression(let expression) = argument.value { return expression.variables }
                return nil
            }
        // The block's number in its stage, when the template reads it: each block is given its own.
        if read.joined().contains(where: { $0.name == BlockBuiltins.blockNumber }) {
            let python = PythonSource.localName(BlockBuiltins.blockNumber, avoiding: taken)
            taken.insert(python)
            names[BlockBuiltins.blockNumber] = python
            arguments.append(
                Argument(specName: BlockBuiltins.blockNumber, pythonName: python, required: false, literalDefault: "1"))
        }
        // The globals that a default reads under the name of its own or a later argument, under Python
        // names of their own.
        var shadowedGlobals: [String: String] = [:]
        for (index, parameter) in template.parameters.enumerated() {
            for (name, _) in parameter.defaultValue?.value.variables ?? []
            where (declared[name] ?? -1) >= index && shadowedGlobals[name] == nil {
                guard let value = scope.values[name] else { continue }
                let python = PythonSource.localName(name, avoiding: taken)
                taken.insert(python)
                shadowedGlobals[name] = python
                globals.append((python, PythonSource.literal(value)))
            }
        }
        for (name, _) in read.joined() where names[name] == nil {
            guard let value = scope.values[name] else { continue }
            let python = PythonSource.localName(name, avoiding: taken)
            taken.insert(python)
            names[name] = python
            globals.append((python, PythonSource.literal(value)))
        }
        self.arguments = arguments
        self.globals = globals
        let residual = ResidualRule(template, vectorInput: vectorInput)
        self.residual = residual
        if case .projection(_, .changed) = template.shortcut, template.merge == .add {
            takesProject = true
        } else {
            takesProject = false
        }

        // Constructor.
        var signature = ["self", inputSize]
        signature += arguments.filter(\.required).map(\.pythonName)
        signature += arguments.filter { !$0.required }.map { "\($0.pythonName)=\($0.literalDefault ?? "None")" }
        signature += globals.map { "\($0.pythonName)=\($0.value)" }
        if takesProject { signature.append("project=False") }
        if !tieable.isEmpty { signature.append("tied=None") }
        var lines = [
            "class \(className)(nn.Module):",
            "    \"\"\"Block template `\(PythonSource.docstringText(template.name))`.\(takesProject ? " `project`: the body changes the shape, so the shortcut projects." : "")\"\"\"",
            "",
            "    def __init__(\(signature.joined(separator: ", "))):",
            "        super().__init__()"
        ]
        let types = ArgumentTypes(template, globals: scope, realArguments: realArguments)
        for argument in arguments where !argument.required && argument.literalDefault == nil {
            let index = declared[argument.specName] ?? 0
            let value = template.parameters[index].defaultValue!.value
            var visible = names
            for (name, global) in shadowedGlobals {
                guard let at = declared[name], at >= index, let python = names[name] else { continue }
                visible[name] = at == index ? global : "(\(python) if \(python) is not None else \(global))"
            }
            let printed = PythonSource.expression(value, names: visible) { types.isWhole($0, inDefaultOf: index) }
            lines.append("        if \(argument.pythonName) is None:")
            lines.append("            \(argument.pythonName) = \(printed)")
        }
        if !tieable.isEmpty {
            // In the order of the block's layers, as `tied.get` reads them below.
            let names = sections.flatMap(\.layers).map(\.name).filter(tieable.contains)
            lines.append("        tied = known_ties(tied, \(names.map(PythonSource.string).joined(separator: ", ")))")
        }
        if takesProject { lines.append("        self.project = project") }
        var branch = TorchLayer.Residual.none
        switch residual {
        case .never: break
        case .always: branch = .always
        case .when(let conditions):
            lines += [
                "        # The residual sum only where the body keeps the input's shape.",
                "        self.use_res_connect = "
                    + conditions.map {
                        PythonSource.expression($0.lhs, names: names, whole: true) + " == "
                            + PythonSource.expression($0.rhs, names: names, whole: true)
                    }.joined(separator: " and ")
            ]
            branch = .when("self.use_res_connect")
        }

        let printer = TorchLayer.Printer(names: names, scope: nil)
        /// `fresh`: the section starts on a value nothing else reads (the residual sum).
        func build(
            _ section: BlockTemplate.Section, from input: TorchLayer.Tensor,
            fresh: Bool = false, residual: TorchLayer.Residual = .none
        ) throws(CompileFailure) -> (layers: [TorchLayer], output: TorchLayer.Tensor) {
            var current = input
            var freshInput = fresh
            var layers: [TorchLayer] = []
            for named in section.layers {
                let local = String(named.name.dropFirst(section.prefix.count))
                guard PythonSource.isModuleName(local),
                    section.prefix.isEmpty ? !Self.sectionNames.contains(local) : true
                else {
                    throw CompileFailure(
                        Diagnostic(
                            at: named.spec.name?.location ?? named.spec.location, .torchName(named.name, what: "layer"))
                    )
                }
                let tied =
                    named.spec.kind.isConvolution && tieable.contains(named.name)
                    ? "tied.get(\(PythonSource.string(named.name)))" : nil
                let layer = try TorchLayer(
                    named.spec, name: local, input: current, printer: printer, freshInput: freshInput, tied: tied,
                    residual: residual)
                layers.append(layer)
                current = layer.output
                freshInput = layer.producesFreshValue
            }
            return (layers, current)
        }
        let input = TorchLayer.Tensor(
            channels: inputSize, isVector: vectorInput, elements: vectorInput ? inputSize : nil)
        let pre = try build(sections[0], from: input)
        let body = try build(sections[1], from: pre.output, residual: branch)
        let shortcut = try build(sections[2], from: pre.output)
        let post = try build(sections[3], from: body.output, fresh: template.merge == .add)
        if !pre.layers.isEmpty {
            lines.append(
                "        self.pre = \(PythonSource.sequential(pre.layers.sequentialEntries, indent: "        "))")
        }
        for layer in body.layers {
            if layer.kind == .stochasticDepth, case .none = branch {
                lines.append("        # No residual connection: nothing for stochastic depth to drop.")
            }
            lines.append("        " + PythonSource.register(layer.name, layer.constructor))
        }
        // The projection is built where some block uses it: where the shape changes (`project`), where the
        // block has its residual sum (`use_res_connect`), or in every block.
        var guardCondition: String?
        var projects = false
        if case .projection(_, let when) = template.shortcut, !shortcut.layers.isEmpty {
            switch (residual, when) {
            case (.never, _): break
            case (.always, .always): projects = true
            case (.always, .changed): (projects, guardCondition) = (takesProject, "project")
            case (.when, .always): (projects, guardCondition) = (true, "self.use_res_connect")
            // The residual exists only where the shape is kept, so this projection is never used.
            case (.when, .changed): break
            }
        }
        if projects {
            let module =
                "self.shortcut = \(PythonSource.sequential(shortcut.layers.sequentialEntries, indent: guardCondition != nil ? "            " : "        "))"
            lines += guardCondition.map { ["        if \($0):", "            " + module] } ?? ["        " + module]
        }
        if !post.layers.isEmpty {
            lines.append(
                "        self.post = \(PythonSource.sequential(post.layers.sequentialEntries, indent: "        "))")
        }

        // forward.
        lines += ["", "    def forward(self, x):"]
        var current = "x"
        if !pre.layers.isEmpty {
            lines.append("        out = self.pre(x)")
            current = "out"
        }
        var shortcutValue: String?
        if residual.mayHaveSum {
            let projected = projects ? "self.shortcut(\(current))" : current
            switch template.shortcut {
            case .identity: shortcutValue = "x"
            case .projection(_, .always): shortcutValue = projected
            case .projection(_, .changed): shortcutValue = projects ? "\(projected) if self.project else x" : "x"
            }
            if case .when = residual, shortcutValue != "x" {
                // The projection exists only in blocks with the sum: computed there, from the block input
                // (or, after `pre`, kept aside before the body overwrites `out`).
                if !pre.layers.isEmpty {
                    lines.append("        shortcut = \(shortcutValue!) if self.use_res_connect else None")
                    shortcutValue = "shortcut"
                }
            } else if shortcutValue != "x" {
                lines.append("        shortcut = \(shortcutValue!)")
                shortcutValue = "shortcut"
            }
        }
        var call: String?
        func flush() {
            if let pending = call {
                lines.append("        out = \(pending)")
                current = "out"
                call = nil
            }
        }
        for layer in body.layers {
            if !layer.nestsInForward { flush() }
            let argument = call ?? current
            call = "\(PythonSource.child(layer.name))(\(argument)\(layer.flattensInput ? ".flatten(1)" : ""))"
        }
        // The body's last call gets a line of its own when something still follows.
        if shortcutValue != nil || !post.layers.isEmpty { flush() }
        var result = call ?? current
        if let shortcutValue {
            if case .when = residual {
                lines += ["        if self.use_res_connect:", "            \(result) = \(result) + \(shortcutValue)"]
            } else {
                result = "\(result) + \(shortcutValue)"
            }
        }
        if !post.layers.isEmpty { result = "self.post(\(result))" }
        lines.append("        return \(result)")
        source = lines.joined(separator: "\n") + "\n"
    }

    /// Whether the blocks are given their number in the stage (the template reads `$block_number`).
    var takesBlockNumber: Bool { arguments.contains { $0.specName == BlockBuiltins.blockNumber } }

    /// Names a body layer cannot take: the block's own sections and flags (`project`, and the
    /// `use_res_connect` of `add-if-same-shape`).
    static let sectionNames: Set<String> = ["pre", "shortcut", "post", "project", "use_res_connect"]

    /// The constructor call of one block: input channels, then the arguments the stage gives that
    /// differ from the defaults, whether it projects, and the convolutions it ties.
    /// A call that would not fit in 100 columns at `indent` lists its tied convolutions one per line.
    /// `blockNumber`: the block number's text, for a call written once for several blocks (`n`).
    func instance(
        inChannels: Int, values: [String: Number], project: Bool, tied: [(conv: String, holder: String)],
        indent: String, blockNumber: String? = nil
    ) -> String {
        var keywords: [(String, String)] = []
        for argument in arguments {
            guard let value = values[argument.specName] else { continue }
            var text = PythonSource.literal(value)
            if argument.specName == BlockBuiltins.blockNumber, let blockNumber { text = blockNumber }
            if text != argument.literalDefault { keywords.append((argument.pythonName, text)) }
        }
        if takesProject && project { keywords.append(("project", "True")) }
        let entries = tied.map { "\(PythonSource.string($0.conv)): \($0.holder)" }
        let oneLine = PythonSource.call(
            className, [String(inChannels)],
            keywords + (tied.isEmpty ? [] : [("tied", "{" + entries.joined(separator: ", ") + "}")]))
        guard indent.count + oneLine.count > 100, !tied.isEmpty else { return oneLine }
        let dictionary = "{\n" + entries.map { "\(indent)    \($0),\n" }.joined() + "\(indent)}"
        return PythonSource.call(className, [String(inChannels)], keywords + [("tied", dictionary)])
    }
}

extension BlockTemplate {
    /// A section's layers with their names inside the block (`conv1`, `pre.bn1`, `shortcut.conv1`).
    struct Section {
        var prefix: String
        var layers: [NamedLayer]
    }

    /// pre, body, shortcut (its layers, whether or not a block uses them), post.
    var sections: [Section] {
        var shortcutLayers: [LayerSpec] = []
        if case .projection(let layers, _) = shortcut { shortcutLayers = layers }
        return [
            Section(prefix: "pre.", layers: pre.namedLayers(prefix: "pre.")),
            Section(prefix: "", layers: body.namedLayers(prefix: "")),
            Section(prefix: "shortcut.", layers: shortcutLayers.namedLayers(prefix: "shortcut.")),
            Section(prefix: "post.", layers: post.namedLayers(prefix: "post."))
        ]
    }
}

/// When a block of a template has its residual sum. `merge: add` always and `merge: none` never;
/// `merge: add-if-same-shape` where the body keeps the block input's shape, which the block's arguments
/// decide: the body's output channels equal the input's, every convolution and pool has stride 1, and
/// their changes of the size (`2 * pad + 1 - kernel` each) add up to none (a 2x2 pool and a 2x2 convolution
/// padded by 1 keep it together). Conditions that hold or fail for any arguments are folded.
enum ResidualRule {
    typealias Equality = (lhs: Expression, rhs: Expression)
    /// A window at stride 1: how many rows and columns it adds (`2 * pad + 1 - kernel`), and its own
    /// condition for adding none, as the generated code says it (`kernel % 2 == 1`).
    typealias Window = (change: Expression, keeps: Equality)

    case never, always
    /// The equalities that must all hold, over the template's arguments and built-ins.
    case when([Equality])

    /// The equalities are built, not read from the spec: their evaluation errors are not reported.
    private static let nowhere = Location(file: "", line: 0, column: 0)

    init(_ template: BlockTemplate, vectorInput: Bool) {
        switch template.merge {
        case .none: self = .never
        case .add: self = .always
        case .addIfSameShape:
            let sections = template.sections
            guard let conditions = Self.shapeKept(by: sections[0].layers + sections[1].layers, vectorInput: vectorInput)
            else {
                self = .never
                return
            }
            self = conditions.isEmpty ? .always : .when(conditions)
        }
    }

    /// Whether some block of the template may have its residual sum.
    var mayHaveSum: Bool {
        if case .never = self { return false }
        return true
    }

    /// Whether a block with these argument values has its residual sum; nil when a condition cannot be
    /// evaluated.
    func holds(in scope: Scope) -> Bool? {
        switch self {
        case .never: return false
        case .always: return true
        case .when(let conditions):
            for condition in conditions {
                let location = Self.nowhere
                guard let lhs = try? scope.evaluate(Located(condition.lhs, at: location)),
                    let rhs = try? scope.evaluate(Located(condition.rhs, at: location))
                else { return nil }
                if lhs.asDouble != rhs.asDouble { return false }
            }
            return true
        }
    }

    /// The equalities under which `layers` keep their input's shape; nil when they never do.
    private static func shapeKept(by layers: [NamedLayer], vectorInput: Bool) -> [Equality]? {
        let one = Expression.number(.int(1)), two = Expression.number(.int(2))
        var channels = Expression.variable(BlockBuiltins.inChannels, Self.nowhere)
        var conditions: [Equality] = []
        // At stride 1 a window changes the size by the same amount on every image: their sum must be 0.
        var windows: [Window] = []
        for layer in layers {
            let spec = layer.spec
            func value(_ key: String) -> Expression? {
                if case .expression(let expression)? = spec.arguments[key]?.value { return expression }
                return nil
            }
            /// A window of `kernel` at stride 1 padded by `pad`: `2 * pad + 1 - kernel` more rows and columns.
            func window(kernel: Expression, stride: Expression, pad: Expression?) {
                conditions.append((stride, one))
                if let pad {
                    let twicePadPlusOne = Expression.binary(.add, .binary(.multiply, two, pad), one)
                    windows.append((.binary(.subtract, twicePadPlusOne, kernel), (twicePadPlusOne, kernel)))
                } else {
                    // A depthwise convolution's default padding, (kernel - 1) / 2: an odd kernel keeps the size,
                    // an even one loses a row and a column.
                    let parity = Expression.binary(.remainder, kernel, two)
                    windows.append((.binary(.subtract, parity, one), (parity, one)))
                }
            }
            switch spec.kind {
            case .conv:
                window(kernel: value("kernel")!, stride: value("stride") ?? one, pad: value("pad") ?? .number(.int(0)))
                channels = value("out")!
            case .depthwise:
                window(kernel: value("kernel")!, stride: value("stride") ?? one, pad: value("pad"))
            case .maxpool, .avgpool:
                let kernel = value("kernel")!
                window(kernel: kernel, stride: value("stride") ?? kernel, pad: value("pad") ?? .number(.int(0)))
            case .subsamplePad:
                conditions.append((value("stride") ?? one, one))
                channels = value("out")!
            case .linear:
                guard vectorInput else { return nil }
                channels = value("out")!
            case .globalAvgpool:
                // The image becomes 1 x 1: its size is kept only on a 1 x 1 input, which a template cannot tell.
                return nil
            case .flatten:
                guard vectorInput else { return nil }
            case .batchnorm, .relu, .dropout, .relu6, .silu, .hardswish, .gelu, .sigmoid, .squeezeExcite, .layernorm,
                .layerScale, .stochasticDepth:
                break
            }
        }
        conditions += Self.sizeKept(by: windows)
        conditions.append((channels, .variable(BlockBuiltins.inChannels, Self.nowhere)))
        // Fold what the arguments do not decide.
        var kept: [Equality] = []
        for condition in conditions {
            if condition.lhs.description == condition.rhs.description { continue }
            if condition.lhs.variables.isEmpty && condition.rhs.variables.isEmpty {
                let location = Self.nowhere
                guard let lhs = try? Scope().evaluate(Located(condition.lhs, at: location)),
                    let rhs = try? Scope().evaluate(Located(condition.rhs, at: location))
                else { return nil }
                if lhs.asDouble != rhs.asDouble { return nil }
                continue
            }
            kept.append(condition)
        }
        return kept
    }

    /// The conditions under which windows at stride 1 keep the size together: where those the arguments
    /// decide change it by nothing in all, each other keeping its own (`kernel % 2 == 1`, as a person
    /// would write it); otherwise the sum of the others making up for them.
    private static func sizeKept(by windows: [Window]) -> [Equality] {
        var fixed = 0
        var open: [Window] = []
        for window in windows {
            if window.change.variables.isEmpty,
                case .int(let whole)? = try? Scope().evaluate(Located(window.change, at: nowhere))
            {
                fixed += whole
            } else {
                open.append(window)
            }
        }
        guard fixed != 0 else { return open.map(\.keeps) }
        guard let first = open.first else { return [(.number(.int(fixed)), .number(.int(0)))] }  // never
        let sum = open.dropFirst().reduce(first.change) { .binary(.add, $0, $1.change) }
        return [(sum, .number(.int(-fixed)))]
    }
}

/// Whether a block argument's default is a whole number, to print its divisions as Python's `//` (the
/// spec's exact division of whole numbers) or `/` (true division, where a real number takes part:
/// `eps: $e / 2` with `e: 1.0` is 0.5, where `//` gave 0.0). A name is whole where every value it can
/// take is: a global's, the default's, and what each stage gives (`realArguments`: the arguments some
/// stage gives as reals). Names as a default sees them (docs/spec-language.md, §7): an argument
/// declared before it is that argument; its own name or a later one's is the stage's value, else the
/// global.
struct ArgumentTypes {
    let template: BlockTemplate
    let globals: Scope
    let realArguments: Set<String>
    private let declared: [String: Int]

    init(_ template: BlockTemplate, globals: Scope, realArguments: Set<String>) {
        self.template = template
        self.globals = globals
        self.realArguments = realArguments
        declared = Dictionary(uniqueKeysWithValues: template.parameters.enumerated().map { ($1.name, $0) })
    }

    /// Whether `expression`, in the default of the argument at `index`, is a whole number.
    func isWhole(_ expression: Expression, inDefaultOf index: Int) -> Bool {
        switch expression {
        case .number(let number):
            return number.isWhole
        case .variable(let name, _):
            guard let argument = declared[name] else { return isWholeGlobal(name) }
            if argument < index { return isWholeArgument(argument) }
            return !realArguments.contains(name) && isWholeGlobal(name)
        case .negate(let operand, _):
            return isWhole(operand, inDefaultOf: index)
        case .binary(_, let lhs, let rhs, _):
            return isWhole(lhs, inDefaultOf: index) && isWhole(rhs, inDefaultOf: index)
        }
    }

    private func isWholeArgument(_ index: Int) -> Bool {
        let parameter = template.parameters[index]
        guard !realArguments.contains(parameter.name) else { return false }
        return parameter.defaultValue.map { isWhole($0.value, inDefaultOf: index) } ?? true
    }

    /// A global's type; a built-in (`in_channels`, `block_number`) is whole.
    private func isWholeGlobal(_ name: String) -> Bool { globals.values[name]?.isWhole ?? true }
}
