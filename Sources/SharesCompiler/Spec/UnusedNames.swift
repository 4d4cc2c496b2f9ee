/// Names a spec declares and nothing reads: a variable no expression uses, and an argument of a block
/// (one that a stage uses) that none of its layers uses. Each is legal, and each is how a mistake
/// looks: a misspelt variable in a spec that extends another (`vars: {clases: 100}`) changed nothing
/// and said nothing, and a stage's `stride: 2` strode nothing where the block's layers did not read
/// `$stride`. Warnings, with the names meant where one is close.
enum UnusedNames {
    /// Warnings of each kind given one by one; the rest are counted in one more (each with its "did you
    /// mean" took O(variables) each: 20,000 unused variables took 40 s).
    static let listed = 20

    static func warnings(in spec: Spec) -> [Diagnostic] {
        var globalUses = Set<String>()
        var unused: [String: Set<String>] = [:]  // by block: the arguments none of its layers reads
        var globalExpressions: [Expression] =
            spec.variables.values.flatMap { [$0.value.value] + ($0.written.map { [$0.value] } ?? []) }
            + spec.input.value.map(\.value)
            + (spec.stem + spec.head).flatMap(\.expressions)
        for stage in spec.stages {
            globalExpressions +=
                ([stage.repeatCount] + (stage.stride.map { [$0] } ?? []) + stage.arguments.map(\.value))
                .map(\.value)
        }
        func names(_ expressions: [Expression]) -> Set<String> { Set(expressions.flatMap { $0.variables.map(\.0) }) }
        for (name, template) in spec.blocks {
            let declared = Set(template.parameters.map(\.name))
            // A default reads the stage's argument of that name where the stage gives it, else the global.
            let inDefaults = names(template.parameters.compactMap(\.defaultValue?.value))
            let inLayers = names(template.layers.flatMap(\.expressions))
            unused[name] = declared.subtracting(inDefaults).subtracting(inLayers)
            globalUses.formUnion(inDefaults)
            globalUses.formUnion(inLayers.subtracting(declared))
        }
        globalUses.formUnion(names(globalExpressions))
        var warnings: [Diagnostic] = []
        let variables = spec.variables.keys.sorted()
        let usedBlocks = Set(spec.stages.map(\.block.value)).sorted()
        var blocksTaking: [String: [String]] = [:]  // by argument name, the used blocks that take it
        for block in usedBlocks {
            for parameter in spec.blocks[block]?.parameters ?? [] {
                blocksTaking[parameter.name, default: []].append(block)
            }
        }
        // The compiled file's own only: a parent's or a library's variable may serve stages, heads or
        // blocks that this network replaced or does not use.
        let unusedVariables = variables.filter { name in
            let declaration = spec.variables[name]!
            return !globalUses.contains(name) && declaration.setBy == nil && declaration.location.file == spec.path
        }.sorted { spec.variables[$0]!.location < spec.variables[$1]!.location }
        let known = variables.filter(globalUses.contains)
        for name in unusedVariables.prefix(listed) {
            // A block argument of the same name hides the variable inside the block.
            warnings.append(
                Diagnostic(
                    .warning, at: spec.variables[name]!.location,
                    .unusedVariable(name, known: known, hiddenBy: blocksTaking[name] ?? [])))
        }
        if unusedVariables.count > listed {
            warnings.append(
                Diagnostic(
                    .warning, at: spec.variables[unusedVariables[listed]]!.location,
                    .moreUnused(unusedVariables.count - listed, what: "variables")))
        }
        let stagesOf = Dictionary(grouping: spec.stages, by: \.block.value)
        var unusedArguments: [(block: String, parameter: BlockParameter)] = []
        for name in usedBlocks {
            guard let template = spec.blocks[name], let arguments = unused[name] else { continue }
            unusedArguments += template.parameters.filter { arguments.contains($0.name) }.map { (name, $0) }
        }
        for (block, parameter) in unusedArguments.prefix(listed) {
            let setting = (stagesOf[block] ?? []).lazy.filter { $0.sets(parameter.name) }.prefix(3)
            warnings.append(
                Diagnostic(
                    .warning, at: parameter.location, .unusedBlockArgument(block: block, argument: parameter.name),
                    notes: setting.map { stage in
                        let place =
                            stage.arguments.first { $0.name.value == parameter.name }?.name.location
                            ?? stage.stride?.location ?? stage.location
                        return Diagnostic.note(at: place, .argumentSetByStage(stage.name.value))
                    }))
        }
        if unusedArguments.count > listed {
            warnings.append(
                Diagnostic(
                    .warning, at: unusedArguments[listed].parameter.location,
                    .moreUnused(unusedArguments.count - listed, what: "block arguments")))
        }
        return warnings.sorted { $0.location < $1.location }
    }
}

extension LayerSpec {
    /// The expressions among its arguments.
    var expressions: [Expression] {
        arguments.values.compactMap { argument in
            if case .expression(let expression) = argument.value { return expression }
            return nil
        }
    }
}

extension BlockTemplate {
    /// Every layer: pre, body, shortcut (where it has layers) and post.
    var layers: [LayerSpec] {
        var shortcut: [LayerSpec] = []
        if case .projection(let layers, _) = self.shortcut { shortcut = layers }
        return pre + body + shortcut + post
    }
}
