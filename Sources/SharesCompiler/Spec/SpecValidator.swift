/// Checks that need no arithmetic: names resolve, each name is defined once, stage arguments match
/// their block. Reports everything it finds; lowering then evaluates sizes and shapes.
enum SpecValidator {
    static func validate(_ spec: Spec) throws(CompileFailure) {
        var sink = DiagnosticSink()
        checkPrintable(spec.network.value, at: spec.network.location, what: "network", sink: &sink)
        if spec.network.value.isEmpty { sink.error(at: spec.network.location, .emptyNetworkName) }
        checkUniqueNames(spec.stem.namedLayers(prefix: ""), context: "'stem'", sink: &sink)
        checkUniqueNames(spec.head.namedLayers(prefix: ""), context: "'head'", sink: &sink)
        for template in spec.blocks.values.sorted(by: { $0.location < $1.location }) {
            checkPrintable(template.name, at: template.location, what: "block", sink: &sink)
            if template.name.isEmpty { sink.error(at: template.location, .emptyBlockName) }
            checkUniqueNames(template.allNamedLayers, context: "block '\(template.name)'", sink: &sink)
            var seen: [String: Location] = [:]
            for parameter in template.parameters {
                if let previous = seen[parameter.name] {
                    sink.error(
                        at: parameter.location,
                        .duplicateName(parameter.name, context: "the arguments of block '\(template.name)'"),
                        notes: [Diagnostic.note(at: previous, .previousDefinition)])
                }
                seen[parameter.name] = parameter.location
            }
        }
        var stageNames: [String: StageSpec] = [:]
        // An unnamed stage is named `stageN` by its place (at the stage itself): say so where it clashes.
        func automatic(_ stage: StageSpec) -> Bool { stage.name.location == stage.location }
        for stage in spec.stages {
            if let previous = stageNames[stage.name.value] {
                var notes = [
                    Diagnostic.note(
                        at: previous.name.location,
                        automatic(previous)
                            ? .automaticStageName(previous.name.value, previous: true) : .previousDefinition)
                ]
                if automatic(stage) {
                    notes.append(
                        Diagnostic.note(at: stage.location, .automaticStageName(stage.name.value, previous: false)))
                }
                sink.error(at: stage.name.location, .duplicateStage(stage.name.value), notes: notes)
            }
            stageNames[stage.name.value] = stage
            checkPrintable(stage.name.value, at: stage.name.location, what: "stage", sink: &sink)
            if !isNamePart(stage.name.value) {
                sink.error(at: stage.name.location, .badName(stage.name.value, what: "stage"))
            } else if ["stem", "head", "total"].contains(stage.name.value) {
                sink.error(at: stage.name.location, .reservedStageName(stage.name.value))
            }
            guard let template = spec.blocks[stage.block.value] else {
                sink.error(at: stage.block.location, .unknownBlock(stage.block.value, known: spec.blocks.keys.sorted()))
                continue
            }
            checkArguments(of: stage, against: template, sink: &sink)
            checkShares(of: stage, against: template, sink: &sink)
        }
        try sink.check()
    }

    /// A name given in the spec may not hold control characters: a NUL or a newline in it would break
    /// the Python, DOT and Markdown that print it (a NUL made the exported module unreadable). Nor may it
    /// hold what a table shows as another name: an invisible or direction-changing character, a space at
    /// either end.
    private static func checkPrintable(_ name: String, at location: Location, what: String, sink: inout DiagnosticSink)
    {
        if hasUnprintableCharacter(name) { sink.error(at: location, .controlCharacterInName(name, what: what)) }
        // (A newline at an end is a control character, reported as one.)
        if let edge = [name.first, name.last].compactMap({ $0 }).first(where: \.isWhitespace),
            !hasUnprintableCharacter(String(edge))
        {
            sink.error(at: location, .nameEdgeSpace(name, what: what))
        }
        // Names are joined into every layer's and parameter's name: 10,000 blocks of a layer named
        // with 900,000 characters (a file under the size limit) took 8.8 GB. Characters as a reader
        // counts them (an accent written as a combining mark is part of its letter); marks piled on one
        // letter count one each past four code points a character.
        let scalars = name.unicodeScalars.count
        let length = scalars > 4 * longestName ? scalars : name.count
        if length > longestName {
            sink.error(at: location, .nameTooLong(what: what, length: length, limit: longestName))
        }
    }

    static let longestName = 256

    /// The rule for every name sharesc prints, from a spec or from a plan: no control character, no
    /// line or paragraph separator, and no format character, which no table shows and which makes one
    /// name look like another (bidirectional overrides and isolates, the zero-width space, the soft
    /// hyphen, invisible operators, tag characters, the BOM), nor a letter that Unicode says to show as
    /// nothing (the Hangul fillers, U+3164 and its kin). The joiners some scripts spell with, U+200C and
    /// U+200D, are letters' business and stay.
    static func hasUnprintableCharacter(_ name: String) -> Bool {
        name.unicodeScalars.contains {
            switch $0.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: return true
            case .format: return $0.value != 0x200C && $0.value != 0x200D
            case .otherLetter: return $0.properties.isDefaultIgnorableCodePoint
            default: return false
            }
        }
    }

    /// Whether a name given in the spec (a layer's, a stage's, a tie group's) can be one part of the
    /// dotted names of layers, parameters and ties: non-empty, and without the '.' that joins parts.
    private static func isNamePart(_ name: String) -> Bool { !name.isEmpty && !name.contains(".") }

    private static func checkUniqueNames(_ layers: [NamedLayer], context: String, sink: inout DiagnosticSink) {
        var seen: [String: NamedLayer] = [:]
        for layer in layers {
            // Lowering names each block's residual merge `add`.
            if let name = layer.spec.name, name.value == "add" {
                sink.error(at: name.location, .reservedLayerName(name.value))
            }
            if let name = layer.spec.name, !isNamePart(name.value) {
                sink.error(at: name.location, .badName(name.value, what: "layer"))
            }
            if let name = layer.spec.name { checkPrintable(name.value, at: name.location, what: "layer", sink: &sink) }
            if let previous = seen[layer.name] {
                // A name made from the kind and position (`conv1`) was never written: say where it comes from.
                var notes = [
                    Diagnostic.note(
                        at: previous.spec.name?.location ?? previous.spec.location,
                        previous.spec.name == nil
                            ? .automaticName(previous.name, kind: previous.spec.kind.rawValue, previous: true)
                            : .previousDefinition)
                ]
                if layer.spec.name == nil {
                    notes.append(
                        Diagnostic.note(
                            at: layer.spec.location,
                            .automaticName(layer.name, kind: layer.spec.kind.rawValue, previous: false)))
                }
                sink.error(
                    at: layer.spec.name?.location ?? layer.spec.location, .duplicateName(layer.name, context: context),
                    notes: notes)
            }
            seen[layer.name] = layer
        }
    }

    private static func checkArguments(of stage: StageSpec, against template: BlockTemplate, sink: inout DiagnosticSink)
    {
        let known = template.parameters.map(\.name)
        let blockNote = Diagnostic.note(at: template.location, .declaredHere("block '\(template.name)'"))
        var missing = template.parameters.filter { $0.defaultValue == nil && !stage.sets($0.name) }
        for argument in stage.arguments where !known.contains(argument.name.value) {
            // Beside an argument the block needs and does not get, a typo away: one error about the pair,
            // which does not say which to change (alone, each error advised the wrong one half the time:
            // "did you mean 'widht'?" where the declaration was misspelt).
            if let index = missing.firstIndex(where: {
                !Suggestion.closest(to: argument.name.value, among: [$0.name]).isEmpty
            }) {
                let parameter = missing.remove(at: index)
                sink.error(
                    at: argument.name.location,
                    .misspeltBlockArgument(given: argument.name.value, declared: parameter.name, block: template.name),
                    notes: [Diagnostic.note(at: parameter.location, .declaredHere("argument '\(parameter.name)'"))])
                continue
            }
            sink.error(
                at: argument.name.location,
                .unknownBlockArgument(
                    argument.name.value, block: template.name, known: known.filter { $0 != "stride" }),
                notes: [blockNote])
        }
        if let stride = stage.stride, !known.contains("stride") {
            sink.error(at: stride.location, .strideWithoutParameter(block: template.name), notes: [blockNote])
        }
        for parameter in missing {
            sink.error(
                at: stage.block.location, .missingBlockArgument(parameter.name, block: template.name),
                notes: [Diagnostic.note(at: parameter.location, .declaredHere("argument '\(parameter.name)'"))])
        }
    }

    private static func checkShares(of stage: StageSpec, against template: BlockTemplate, sink: inout DiagnosticSink) {
        var listed = Set<String>()  // (a name used twice, an error of its own, is listed once)
        let convs = template.allNamedLayers.filter { $0.spec.kind.isConvolution }.map(\.name).filter {
            listed.insert($0).inserted
        }
        var seen: Set<String> = []
        for entry in stage.share {
            if !convs.contains(entry.conv.value),
                let layer = template.allNamedLayers.first(where: { $0.name == entry.conv.value })
            {
                sink.error(
                    at: entry.conv.location,
                    .notAConvolution(entry.conv.value, kind: layer.spec.kind.rawValue, block: template.name),
                    notes: [Diagnostic.note(at: layer.spec.location, .declaredHere("'\(entry.conv.value)'"))])
            } else if !convs.contains(entry.conv.value) {
                sink.error(
                    at: entry.conv.location, .unknownConv(entry.conv.value, block: template.name, known: convs),
                    notes: [Diagnostic.note(at: template.location, .declaredHere("block '\(template.name)'"))])
            }
            if !seen.insert(entry.conv.value).inserted {
                sink.error(at: entry.conv.location, .duplicateShare(entry.conv.value))
            }
            // Stage ties are named `stage.conv`; a dot-free group name can never join one by accident.
            if let group = entry.group, !isNamePart(group.value) {
                sink.error(at: group.location, .badGroupName(group.value))
            }
            if let group = entry.group {
                checkPrintable(group.value, at: group.location, what: "tie group", sink: &sink)
            }
        }
    }
}

/// A layer with the name it is known by: given with `name:`, or made from its kind and position.
struct NamedLayer {
    var name: String
    var spec: LayerSpec
}

extension Array where Element == LayerSpec {
    /// Names layers `prefix + (name ?? kind + n)`, n counting the layers of that kind in this list.
    func namedLayers(prefix: String) -> [NamedLayer] {
        var counts: [LayerKind: Int] = [:]
        return map { layer in
            counts[layer.kind, default: 0] += 1
            let name = layer.name?.value ?? layer.kind.autoNamePrefix + String(counts[layer.kind]!)
            return NamedLayer(name: prefix + name, spec: layer)
        }
    }
}

extension BlockTemplate {
    var shortcutLayers: [LayerSpec] {
        if case .projection(let layers, _) = shortcut { return layers }
        return []
    }

    var allNamedLayers: [NamedLayer] {
        pre.namedLayers(prefix: "pre.") + body.namedLayers(prefix: "") + shortcutLayers.namedLayers(prefix: "shortcut.")
            + post.namedLayers(prefix: "post.")
    }
}
