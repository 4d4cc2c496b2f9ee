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
    let source: String

    /// `vectorInput`: the blocks read vectors (a residual MLP), not images.
    init(
        _ template: BlockTemplate, className: String, tieable: Set<String>, vectorInput: Bool, globals scope: Scope,
        reserved: Set<String>
    ) throws(CompileFailure) {
        self.template = template
        self.className = className
        self.tieable = tieable
        let sections = template.sections
        var taken = reserved
        var names: [String: String] = [:]
        var arguments: [Argument] = []
        for parameter in template.parameters {
            let python = PythonSource.localName(parameter.name, avoiding: taken)
            taken.insert(python)
            names[parameter.name] = python
            var literal: String?
            if let value = parameter.defaultValue, value.value.variables.isEmpty,
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
        for (name, _) in read.joined() where names[name] == nil {
            guard let value = scope.values[name] else { continue }
            let python = PythonSource.localName(name, avoiding: taken)
            taken.insert(python)
            names[name] = python
            globals.append((python, PythonSource.literal(value)))
        }
        self.arguments = arguments
        self.globals = globals
        if case .projection(_, .changed) = template.shortcut, template.merge == .add {
            takesProject = true
        } else {
            takesProject = false
        }

        // Constructor.
        // The block input's size: channels of an image, or features of a vector.
        let inputSize = vectorInput ? "in_features" : "in_channels"
        var signature = ["self", inputSize]
        signature += arguments.filter(\.required).map(\.pythonName)
        signature += arguments.filter { !$0.required }.map { "\($0.pythonName)=\($0.literalDefault ?? "None")" }
        signature += globals.map { "\($0.pythonName)=\($0.value)" }
        if takesProject { signature.append("project=False") }
        if !tieable.isEmpty { signature.append("tied=None") }
        var lines = [
            "class \(className)(nn.Module):",
            "    \"\"\"Block template `\(template.name)`.\(takesProject ? " `project`: the body changes the shape, so the shortcut projects." : "")\"\"\"",
            "",
            "    def __init__(\(signature.joined(separator: ", "))):",
            "        super().__init__()"
        ]
        for argument in arguments where !argument.required && argument.literalDefault == nil {
            let value = template.parameters.first { $0.name == argument.specName }!.defaultValue!.value
            lines.append("        if \(argument.pythonName) is None:")
            lines.append(
                "            \(argument.pythonName) = \(PythonSource.expression(value, names: names, whole: true))")
        }
        if !tieable.isEmpty { lines.append("        tied = tied or {}") }
        if takesProject { lines.append("        self.project = project") }

        let printer = TorchLayer.Printer(names: names, scope: nil)
        /// `fresh`: the section starts on a value nothing else reads (the residual sum).
        func build(
            _ section: BlockTemplate.Section, from input: TorchLayer.Tensor,
            fresh: Bool = false
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
                    named.spec.kind == .conv && tieable.contains(named.name)
                    ? "tied.get(\(PythonSource.string(named.name)))" : nil
                let layer = try TorchLayer(
                    named.spec, name: local, input: current, printer: printer, freshInput: freshInput, tied: tied)
                layers.append(layer)
                current = layer.output
                freshInput = layer.producesFreshValue
            }
            return (layers, current)
        }
        let input = TorchLayer.Tensor(
            channels: inputSize, isVector: vectorInput, elements: vectorInput ? inputSize : nil)
        let pre = try build(sections[0], from: input)
        let body = try build(sections[1], from: pre.output)
        let shortcut = try build(sections[2], from: pre.output)
        let post = try build(sections[3], from: body.output, fresh: template.merge == .add)
        if !pre.layers.isEmpty {
            lines.append(
                "        self.pre = \(PythonSource.sequential(pre.layers.sequentialEntries, indent: "        "))")
        }
        for layer in body.layers { lines.append("        " + PythonSource.register(layer.name, layer.constructor)) }
        let projects =
            template.merge == .add && !shortcut.layers.isEmpty
            && {
                if case .projection = template.shortcut { return true } else { return false }
            }()
        if projects {
            let module =
                "self.shortcut = \(PythonSource.sequential(shortcut.layers.sequentialEntries, indent: takesProject ? "            " : "        "))"
            lines += takesProject ? ["        if project:", "            " + module] : ["        " + module]
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
        if template.merge == .add {
            let projected = projects ? "self.shortcut(\(current))" : current
            switch template.shortcut {
            case .identity: shortcutValue = "x"
            case .projection(_, .always): shortcutValue = projected
            case .projection(_, .changed): shortcutValue = "\(projected) if self.project else x"
            }
            if shortcutValue != "x" {
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
        if let shortcutValue { result = "\(result) + \(shortcutValue)" }
        if !post.layers.isEmpty { result = "self.post(\(result))" }
        lines.append("        return \(result)")
        source = lines.joined(separator: "\n") + "\n"
    }

    /// Names a body layer cannot take: the block's own sections and flags.
    static let sectionNames: Set<String> = ["pre", "shortcut", "post", "project"]

    /// The constructor call of one block: input channels, then the arguments the stage gives that
    /// differ from the defaults, whether it projects, and the convolutions it ties.
    /// A call that would not fit in 100 columns at `indent` lists its tied convolutions one per line.
    func instance(
        inChannels: Int, values: [String: Number], project: Bool, tied: [(conv: String, holder: String)],
        indent: String
    ) -> String {
        var keywords: [(String, String)] = []
        for argument in arguments {
            guard let value = values[argument.specName] else { continue }
            let text = PythonSource.literal(value)
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
