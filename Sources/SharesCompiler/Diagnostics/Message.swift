/// Every message sharesc prints, in one place: wording stays consistent, and tests can name the case.
public enum Message: Error, Hashable, Sendable {
    // Files and YAML
    case cannotRead(path: String, reason: String)
    case emptySpec
    case emptyLibrary
    case fileNamedHere(String)
    case fileTooLarge(bytes: Int, limit: Int)
    case nestingTooDeep(limit: Int)
    case tooManyNodes(limit: Int)
    case yamlSyntax(String)
    case yamlContext(String)
    case duplicateKey(String)
    case mergeKeyUnsupported
    case complexKey(found: String)
    case tagUnsupported(String)
    // Shape of the document
    case expected(String, found: String)
    case unknownKey(String, context: String, allowed: [String])
    case unknownWord(String, expected: String, known: [String])
    case unknownLayerKind(String, known: [String])
    case missingKey(String, context: String)
    case notAllowedInInclude([String])
    case includedHere
    case includeCycle(chain: [String])
    case extendsCycle(chain: [String])
    case duplicateBlock(String, what: String)
    case duplicateName(String, context: String)
    case duplicateStage(String)
    case noLayers
    // Expressions and variables
    case expressionExpected(String, text: String)
    case expressionUnexpected(String, text: String)
    case expressionTooDeep(limit: Int)
    case expressionTooLong(limit: Int)
    case unknownVariable(String, known: [String])
    case variableCycle(chain: [String])
    case fileChainTooLong(limit: Int)
    case divisionByZero
    case inexactDivision(Int, Int)
    case arithmeticOverflow
    case realOverflow
    case wholeNumberExpected(String, found: String)
    case outOfRange(String, value: Int, range: String)
    case probabilityExpected(String, found: String)
    case badOverride(String, option: String)
    case unknownOverride(String, option: String, spec: String, known: [String])
    case valueSetOnCommandLine(String, value: String, option: String)
    case realValue(String, value: String)
    // Blocks and stages
    case unknownBlock(String, known: [String])
    case unknownLayerList(String, known: [String])
    case unknownBlockArgument(String, block: String, known: [String])
    case unknownStageKey(String, found: String)
    case missingBlockArgument(String, block: String)
    case misspeltBlockArgument(given: String, declared: String, block: String)
    case reservedArgument(String)
    case builtinArgument(String)
    case strideWithoutParameter(block: String)
    case unknownStage(String, known: [String])
    case unknownConv(String, block: String, known: [String])
    case notAConvolution(String, kind: String, block: String)
    case nameWithoutDollar(String, what: String)
    case blockIndexOutOfRange(Int, repeatCount: Int)
    case duplicateShare(String)
    case badGroupName(String)
    case reservedLayerName(String)
    case badName(String, what: String)
    case controlCharacterInName(String, what: String)
    case nameEdgeSpace(String, what: String)
    case emptyNetworkName
    case emptyBlockName
    case nameTooLong(what: String, length: Int, limit: Int)
    case reservedStageName(String)
    case badVariableName(String)
    case shareSelectsOneBlock(conv: String, stage: String)
    case inputChannelsLast(channels: Int, height: Int, width: Int)
    case unusedVariable(String, known: [String], hiddenBy: [String])
    case unusedBlockArgument(block: String, argument: String)
    case moreUnused(Int, what: String)
    case argumentSetByStage(String)
    case stochasticDepthOutsideBody(place: String)
    case stochasticDepthBeforeOffset(block: String, layer: String)
    case stochasticDepthWithoutResidual(block: String)
    case offsetLayer(String)
    case tooManyBlocks(Int, limit: Int)
    case tooManyLayers(layer: String, limit: Int)
    // Shapes and ties
    case shapeNotImage(layer: String, shape: String)
    case shapeVanishes(layer: String, input: String)
    case channelsNotDivisible(channels: Int, groups: Int, what: String)
    case subsampleShrinks(from: Int, to: Int)
    case identityShapeMismatch(body: String, input: String)
    case mergeShapeMismatch(body: String, shortcut: String)
    case tensorTooLarge(String)
    case tieShapeMismatch(group: String, use: String, shape: String, firstUse: String, firstShape: String)
    case tieFirstUse(group: String, use: String)
    case tieUse(String)
    case nameClash(String, tie: String?)
    case nameClashFirst(String, tie: String?)
    case tieBiasMismatch(group: String, use: String, hasBias: Bool, firstUse: String)
    case expandedFrom(stage: String, block: Int, template: String)
    case declaredHere(String)
    case previousDefinition
    // Weight files
    case weightsCorrupt(String)
    case weightsDtype(name: String, dtype: String)
    case weightMissing(name: String, shape: [Int])
    case weightUnexpected(name: String)
    case weightShape(name: String, expected: [Int], found: [Int])
    case weightsOfAnotherNetwork(network: String, variant: String, expected: String, expectedVariant: String)
    case cannotWrite(path: String, reason: String)
    // Weights saved by PyTorch, adapted on load (notes)
    case weightsBatchCountersIgnored(count: Int)
    case weightsAveragedCountIgnored
    case weightsConverted(count: Int, dtypes: [String])
    case weightsPrefixStripped(String, wrapper: String)
    // PyTorch export
    case torchName(String, what: String)
    case onnxTooLarge(bytes: Int)
    case torchUnsupported(layer: String, reason: String)
    case planNotAPlan
    case inputShape(found: [Int], expected: [Int])
    case planVersion(found: String, supported: ClosedRange<Int>)
    case planDamaged(String)
    case outOfMemory(bytes: Int, purpose: String)
    case tensorTooLargeToRun(value: String, elements: Int, limit: Int)
    case nonFiniteWeight(parameter: String, steps: [String])
    case automaticName(String, kind: String, previous: Bool)
    case automaticStageName(String, previous: Bool)
    case internalError(String)
    // Pictures
    case blockNotInNetwork(String, used: [String], blocks: [String])
    case blockOnlyInEmptyStages(String, stages: [String])
    case pictureFormat(path: String, known: [String])
    case graphvizMissing(path: String)
    case graphvizFailed(path: String, detail: String)
    // NumPy .npy files
    case npyCorrupt(String)
    case npyDtype(found: String)

    public var text: String {
        switch self {
        case .cannotRead(let path, let reason): return "cannot read '\(path)': \(reason)"
        case .emptySpec:
            return "the spec is empty; expected a mapping with at least 'input' and 'stages' (or 'stem'/'head')"
        case .fileNamedHere(let path): return "'\(path)' is named here"
        case .emptyLibrary: return "the included file is empty; expected a mapping with 'blocks', 'layers' or 'vars'"
        case .fileTooLarge(let bytes, let limit): return "file is \(bytes) bytes; specs are limited to \(limit) bytes"
        case .nestingTooDeep(let limit): return "YAML nested more than \(limit) levels deep"
        case .tooManyNodes(let limit):
            return "YAML expands to more than \(limit) values (aliases are expanded); simplify the spec"
        case .yamlSyntax(let detail): return "YAML syntax error: \(detail)"
        case .yamlContext(let what): return "\(what) starts here"
        case .duplicateKey(let key): return "duplicate key '\(key)' in a mapping; each key may appear once"
        case .complexKey(let found): return "expected a name as a mapping key, found \(found)"
        case .mergeKeyUnsupported:
            return "YAML merge keys ('<<') are not supported; use a block template or 'extends' instead"
        case .tagUnsupported(let tag):
            return "YAML tags ('\(tag)') are not supported; write the value without one"
        case .expected(let what, let found): return "expected \(what), found \(found)"
        case .unknownKey(let key, let context, let allowed):
            return "unknown key '\(key)' in \(context); allowed keys are: \(allowed.joined(separator: ", "))"
                + Suggestion.clause(for: key, among: allowed)
        case .unknownWord(let word, let expected, let known):
            return "expected \(expected), found '\(word)'" + Suggestion.clause(for: word, among: known)
        case .unknownLayerKind(let kind, let known):
            return "unknown layer kind '\(kind)'; the kinds are: \(known.joined(separator: ", "))"
                + Suggestion.clause(for: kind, among: known)
        case .missingKey(let key, let context): return "\(context) needs the key '\(key)'"
        case .notAllowedInInclude(let keys):
            return
                "an included file may only hold 'blocks', 'layers', 'vars', 'include' and 'description', not "
                + keys.map { "'\($0)'" }.joined(separator: ", ") + "; use 'extends' to build on a whole network"
        case .includedHere: return "included here"
        case .includeCycle(let chain): return "include cycle: \(chain.joined(separator: " -> "))"
        case .extendsCycle(let chain):
            return
                "extends cycle: \(chain.joined(separator: " -> ")); a spec cannot extend itself, directly or through other specs"
        case .duplicateBlock(let name, let what):
            return "\(what) '\(name)' is defined more than once; a network's \(what)s, across the files it includes "
                + "and extends, each have one definition (name this one otherwise)"
        case .duplicateName(let name, let context): return "the name '\(name)' is used twice in \(context)"
        case .duplicateStage(let name): return "stage name '\(name)' is used twice"
        case .noLayers: return "the network has no layers: give it 'stem', 'stages' or 'head'"
        case .expressionExpected(let what, let text): return "expected \(what) in '\(text)'"
        case .expressionUnexpected(let found, let text):
            return "unexpected '\(found)' in '\(text)'; expected an operator (+ - * / // %) or the end"
        case .expressionTooDeep(let limit): return "expression nested more than \(limit) levels deep"
        case .expressionTooLong(let limit):
            return "expression has more than \(limit) operators; compute long sums in steps, with variables"
        case .unknownVariable(let name, let known):
            let list =
                known.isEmpty
                ? "none are defined here" : "known here: " + Self.names(known.map { "$" + $0 })
            if BlockBuiltins.names.contains(name) {
                return "unknown variable '$\(name)'; \(list) ('$\(name)' is bound inside blocks only)"
            }
            return "unknown variable '$\(name)'; \(list)" + Suggestion.clause(for: name, among: known) { "'$\($0)'" }
        case .variableCycle(let chain):
            return "variables depend on each other in a cycle: \(chain.map { "$" + $0 }.joined(separator: " -> "))"
        case .fileChainTooLong(let limit):
            return "more than \(limit) files include or extend one another in one chain; shorten it"
        case .divisionByZero: return "division by zero"
        case .inexactDivision(let a, let b):
            return "\(a) / \(b) is not a whole number; use '//' to round down, or choose values that divide exactly"
        case .realOverflow: return "arithmetic overflow: the real value is beyond the largest double (about 1.8e308)"
        case .arithmeticOverflow: return "arithmetic overflow: the value does not fit in 64 bits"
        case .wholeNumberExpected(let what, let found):
            return "\(what) must be an integer (written without a decimal point or exponent), found the real \(found)"
        case .outOfRange(let what, let value, let range): return "\(what) is \(value); expected \(range)"
        case .probabilityExpected(let kind, let found): return "\(kind) 'p' must be in [0, 1), found \(found)"
        case .badOverride(let text, let option):
            return "\(option) expects NAME=VALUE with a number or expression as VALUE, found '\(text)'"
        case .valueSetOnCommandLine(let name, let value, let option):
            return "'\(name)' is \(value) here, set by \(option)"
        case .realValue(let name, let value):
            return
                "'\(name)' is \(value) here, a real number (written with a decimal point or exponent, or computed from one)"
        case .unknownOverride(let name, let option, let spec, let known):
            return
                "\(option) names unknown variable '\(name)'; the variables of '\(spec)' are: \(known.isEmpty ? "(none)" : Self.names(known))"
                + Suggestion.clause(for: name, among: known)
        case .unknownBlock(let name, let known):
            return
                "unknown block '\(name)'; known blocks: \(known.isEmpty ? "(none; did you forget 'include'?)" : Self.names(known))"
                + Suggestion.clause(for: name, among: known)
        case .unknownLayerList(let name, let known):
            return
                "unknown layer list '\(name)'; expected a list of layers or one of: \(known.isEmpty ? "(none defined under 'layers')" : Self.names(known))"
                + Suggestion.clause(for: name, among: known)
        case .unknownBlockArgument(let name, let block, let known):
            // A stage holds its own keys and its block's arguments side by side: a typo may be either.
            let arguments = known.isEmpty ? "it takes none" : Self.names(known)
            return
                "unknown key '\(name)' in a stage: neither a stage key (\(SpecParser.stageKeys.joined(separator: ", "))) nor an argument of block '\(block)' (\(arguments))"
                + Suggestion.clause(for: name, among: SpecParser.stageKeys + known)
        case .unknownStageKey(let name, let found):
            return
                "unknown key '\(name)' in a stage: not a stage key (\(SpecParser.stageKeys.joined(separator: ", "))), nor a block argument, whose value would be a number or expression, not \(found)"
                + Suggestion.clause(for: name, among: SpecParser.stageKeys)
        case .missingBlockArgument(let name, let block): return "block '\(block)' needs the argument '\(name)'"
        case .misspeltBlockArgument(let given, let declared, let block):
            return
                "the stage gives '\(given)', which block '\(block)' does not take, and not '\(declared)', which it needs: one of the two names is misspelt"
        case .reservedArgument(let name): return "'\(name)' is a stage key and cannot be a block argument"
        case .builtinArgument(let name):
            return
                "'\(name)' is set by the compiler in every block (see 'Block templates' in the language reference) and cannot be a block argument"
        case .strideWithoutParameter(let block):
            return "the stage sets 'stride' but block '\(block)' has no 'stride' argument"
        case .unknownStage(let name, let known):
            return "unknown stage '\(name)'; stages are: \(Self.names(known))"
                + Suggestion.clause(for: name, among: known)
        case .unknownConv(let name, let block, let known):
            guard !known.isEmpty else {
                return "block '\(block)' has no convolution named '\(name)'; it has no convolutions"
            }
            return
                "block '\(block)' has no convolution named '\(name)'; its convolutions are: \(Self.names(known))"
                + Suggestion.clause(for: name, among: known)
        case .notAConvolution(let name, let kind, let block):
            return
                "'\(name)' in block '\(block)' is a \(kind), not a convolution: only convolutions (conv, depthwise) share weights"
        case .nameWithoutDollar(let name, let what):
            return "expected \(what), found '\(name)' (to read a variable, write '$\(name)')"
        case .blockIndexOutOfRange(let index, let count):
            return count == 0
                ? "block \(index) is out of range; the stage has no blocks ('repeat' is 0)"
                : "block \(index) is out of range; the stage has blocks 1...\(count)"
        case .duplicateShare(let conv): return "'\(conv)' is shared twice in this stage"
        case .badGroupName(let name): return "tie group name '\(name)' must be a non-empty name without '.'"
        case .badName(let name, let what):
            return "\(what) name '\(name)' must be non-empty and without '.', which joins the parts of names"
        case .nameTooLong(let what, let length, let limit):
            return "\(what) name of \(length) characters is too long; names have at most \(limit)"
        case .nameEdgeSpace(let name, let what):
            return "\(what) name '\(name)' begins or ends with a space, which reports and graphs do not show"
        case .emptyNetworkName:
            return "the network's name is empty; expected a name after 'network:' (ONNX and the reports need one)"
        case .emptyBlockName:
            return "the block's name is empty; expected a name (stages name their block, and the reports show it)"
        case .controlCharacterInName(let name, let what):
            return
                "\(what) name '\(name)' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code"
        case .reservedStageName(let name):
            guard name != "total" else { return "'total' names the reports' row of totals; choose another stage name" }
            return "'\(name)' names the network's \(name) in layer and parameter names; choose another stage name"
        case .reservedLayerName(let name):
            return "'\(name)' names the block's residual merge; choose another layer name"
        case .badVariableName(let name):
            return "variable name '\(name)' must be letters, digits and '_', starting with a letter or '_'"
        case .unusedVariable(let name, let known, let hiddenBy):
            guard hiddenBy.isEmpty else {
                let blocks = hiddenBy.map { "'\($0)'" }.joined(separator: ", ")
                return "variable '\(name)' is never used: $\(name) in block\(hiddenBy.count == 1 ? "" : "s") \(blocks) "
                    + "reads the block's own argument '\(name)', which a stage gives (or its default)"
            }
            return "variable '\(name)' is never used: no expression reads $\(name)"
                + Suggestion.clause(for: name, among: known)
        case .unusedBlockArgument(let block, let argument):
            return
                "block '\(block)' takes the argument '\(argument)', but none of its layers reads $\(argument), so setting it changes nothing"
        case .moreUnused(let count, let what):
            return
                "\(Format.grouped(count)) more \(what) from here on are never used either (their warnings are left out)"
        case .argumentSetByStage(let stage):
            return "stage '\(stage)' sets it here"
        case .stochasticDepthOutsideBody(let place):
            return
                "stochastic_depth in \(place) does nothing: it drops a block's residual branch, so it belongs at the end of a block's body"
        case .stochasticDepthBeforeOffset(let block, let layer):
            return
                "stochastic_depth in the body of block '\(block)' comes before a \(layer), which gives a dropped branch a value other than zero; put it at the end of the body"
        case .stochasticDepthWithoutResidual(let block):
            return
                "stochastic_depth in block '\(block)' does nothing: the block has no residual branch to drop (merge: none)"
        case .offsetLayer(let layer):
            return "this \(layer) does not keep a zero input zero"
        case .inputChannelsLast(let channels, let height, let width):
            return
                "input [\(channels), \(height), \(width)] is \(channels) channels of \(height) x \(width) pixels: 'input' is [channels, height, width]; for \(width)-channel \(channels) x \(height) images, write [\(width), \(channels), \(height)]"
        case .shareSelectsOneBlock(let conv, let stage):
            return "sharing '\(conv)' in stage '\(stage)' reaches fewer than two convolutions, so nothing is shared"
        case .tooManyBlocks(let count, let limit):
            return "the network has \(count) blocks, more than \(limit); the blocks of this stage cross the limit"
        case .tooManyLayers(let layer, let limit):
            return "the network has more than \(limit) layers; '\(layer)' crosses the limit"
        case .shapeNotImage(let layer, let shape):
            return "\(layer) needs an image input (channels x height x width), found \(shape)"
        case .shapeVanishes(let layer, let input):
            return
                "\(layer) turns the \(input) input into an empty output; the input is too small for its kernel, stride and padding"
        case .channelsNotDivisible(let channels, let groups, let what):
            return "\(what) \(channels) is not divisible by groups \(groups)"
        case .subsampleShrinks(let from, let to):
            return "subsample_pad can only add channels, but goes from \(from) to \(to)"
        case .identityShapeMismatch(let body, let input):
            return "the block's body gives \(body) but its identity shortcut gives \(input); use a projection shortcut"
        case .mergeShapeMismatch(let body, let shortcut):
            return "cannot add the body's \(body) output to the shortcut's \(shortcut) output"
        case .tensorTooLarge(let what):
            return "\(what) is too large to count: tensors are limited to 2^40 values and counts to 64 bits"
        case .tieShapeMismatch(let group, let use, let shape, let firstUse, let firstShape):
            return
                "tied convolutions must have identical weight shapes: tie '\(group)' has weight \(firstShape) from \(firstUse), but \(use) needs \(shape)"
        case .tieFirstUse(let group, let use): return "tie '\(group)' takes its weight from \(use), shared here"
        case .tieUse(let use): return "\(use) is this convolution"
        case .nameClash(let name, let tie):
            let maker =
                tie.map { "the weight name of tie group '\($0)'" }
                ?? "a name this layer makes for itself or its parameters"
            return "'\(name)', \(maker), is also another's (paths meet where a layer is named as a section, a stage"
                + " or a tie group is, as 'shortcut'); rename one"
        case .nameClashFirst(let name, let tie):
            return "the other '\(name)' is "
                + (tie.map { "the weight of tie group '\($0)', declared here" } ?? "this layer's")
        case .tieBiasMismatch(let group, let use, let hasBias, let firstUse):
            return
                "tied convolutions must agree on 'bias': tie '\(group)' \(hasBias ? "has no bias" : "has a bias") from \(firstUse), but \(use) \(hasBias ? "has one" : "has none")"
        case .expandedFrom(let stage, let block, let template):
            return "in block \(block) of stage '\(stage)' (block '\(template)')"
        case .declaredHere(let what): return "\(what) declared here"
        case .previousDefinition: return "previous definition is here"
        case .weightsCorrupt(let detail): return "not a valid safetensors file: \(detail)"
        case .weightsDtype(let name, let dtype):
            return "tensor '\(name)' is \(dtype); expected F32 (float32), or F16, BF16 or F64 (converted to float32)"
        case .weightMissing(let name, let shape): return "missing tensor '\(name)' of shape \(Message.shape(shape))"
        case .weightUnexpected(let name): return "tensor '\(name)' is not a parameter of this network"
        case .weightShape(let name, let expected, let found):
            return "tensor '\(name)' has shape \(Message.shape(found)); the network expects \(Message.shape(expected))"
        case .weightsOfAnotherNetwork(let network, let variant, let expected, let expectedVariant):
            guard network == expected else {
                return "the file holds the weights of '\(network)' (\(variant)), not of '\(expected)'"
            }
            let hint =
                variant == Graph.Variant.sequential.rawValue
                ? "; add --sequential"
                : expectedVariant == Graph.Variant.sequential.rawValue ? "; leave out --sequential" : ""
            return
                "the file holds the weights of the \(variant) variant of '\(network)', and this is its \(expectedVariant) variant"
                + hint
        case .cannotWrite(let path, let reason):
            return
                "cannot write \(path == OutputFile.standardOutputPath ? "to standard output" : "'\(path)'"): \(reason)"
        case .weightsBatchCountersIgnored(let count):
            return
                "ignored \(count) num_batches_tracked tensor\(count == 1 ? "" : "s") (PyTorch's batchnorm step counters, not weights)"
        case .weightsAveragedCountIgnored:
            return "ignored 'n_averaged' (an AveragedModel's count of averaged models, not a weight)"
        case .weightsConverted(let count, let dtypes):
            return
                "converted \(count) tensor\(count == 1 ? "" : "s") from "
                + "\(dtypes.dropLast().joined(separator: ", "))\(dtypes.count > 1 ? " and " : "")\(dtypes.last ?? "") to float32"
        case .weightsPrefixStripped(let prefix, let wrapper):
            return "stripped the prefix '\(prefix)' from every tensor name (\(wrapper))"
        case .onnxTooLarge(let bytes):
            return
                "the ONNX model would hold \(bytes) bytes, past protobuf's 2 GiB limit on one file; "
                + "export the weights as safetensors (sharesc init) or the PyTorch module instead"
        case .torchName(let name, let what):
            return
                "cannot export \(what) '\(name)' to PyTorch: the module tree mirrors sharesc's names, and no module can be registered under this one (a '.' separates module paths, nn.Module has an attribute of that name or keeps its own under a leading '_', or the generated module uses it for its own parts); rename it"
        case .torchUnsupported(let layer, let reason): return "cannot export '\(layer)' to PyTorch: \(reason)"
        case .planNotAPlan:
            return
                "not a sharesc plan: its metadata needs sharesc.format 'plan' and a 'sharesc.plan' document (is it a weights file? plans are written by 'sharesc compile -o')"
        case .planVersion(let found, let supported):
            return
                "plan written in format version \(found); this sharesc reads \(Self.versions(supported)); compile the spec again with 'sharesc compile -o'"
        case .planDamaged(let detail): return "damaged plan: \(detail)"
        case .outOfMemory(let bytes, let purpose):
            return "cannot allocate \(bytes) bytes for \(purpose); this machine has too little free memory"
        case .tensorTooLargeToRun(let value, let elements, let limit):
            return
                "'\(value)' holds \(elements) values per image; the CPU kernels run tensors of at most \(limit) (32-bit indices)"
        case .nonFiniteWeight(let parameter, let steps):
            let named = steps.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let more = steps.count > 3 ? " and \(steps.count - 3) more" : ""
            return "'\(parameter)' holds NaN or infinity, so \(steps.count == 1 ? "step" : "steps") \(named)\(more) "
                + "\(steps.count == 1 ? "runs" : "run") by the indirect GEMM instead of Winograd"
        case .inputShape(let found, let expected):
            return
                "input has shape \(Message.shape(found)); the network expects \(Message.shape([1] + expected).replacing("[1,", with: "[N,")) with N >= 1, or \(Message.shape(expected))"
        case .automaticName(let name, let kind, let previous):
            return (previous ? "previous definition is here: " : "")
                + "'\(name)' is the automatic name of this '\(kind)' layer"
        case .automaticStageName(let name, let previous):
            return (previous ? "previous definition is here: " : "")
                + "'\(name)' is the automatic name of the stage in this place ('name:' gives it another)"
        case .internalError(let detail): return "internal error in sharesc (please report it): \(detail)"
        case .blockOnlyInEmptyStages(let name, let stages):
            return
                "block '\(name)' builds no block to draw: the stages that use it, \(Self.names(stages.map { "'\($0)'" })), repeat it 0 times"
        case .blockNotInNetwork(let name, let used, let blocks):
            // The example is a block of this network, so it can be pasted as it stands.
            return
                "no stage of the network is built from a block named '\(name)'; its stages use: \(used.isEmpty ? "(none)" : used.joined(separator: ", "))"
                + (blocks.first.map { " (or name one block, such as \($0))" } ?? "")
                + Suggestion.clause(for: name, among: used + blocks)
        case .pictureFormat(let path, let known):
            return
                "cannot tell the picture's format from '\(path)'; name the file .\(known.joined(separator: ", .")) (.dot writes the DOT text)"
        case .graphvizMissing(let path):
            return
                "cannot render '\(path)': Graphviz's 'dot' is not installed (apt-get install graphviz, or brew install graphviz); -o with a .dot file writes the DOT text without it"
        case .graphvizFailed(let path, let detail): return "Graphviz's 'dot' failed to render '\(path)': \(detail)"
        case .npyCorrupt(let detail): return "not a valid .npy file: \(detail)"
        case .npyDtype(let found): return "the array is stored as \(found); expected float32 ('<f4'), C order"
        }
    }
}

extension Message {
    /// A spec's own names, listed: a spec may define thousands, so past `limit` the message names the
    /// first ones and counts the rest (a misspelt one is still suggested from all of them).
    static func names(_ names: [String], limit: Int = 20) -> String {
        guard names.count > limit else { return names.joined(separator: ", ") }
        return names.prefix(limit).joined(separator: ", ") + " and \(names.count - limit) more"
    }

    /// `[64, 3, 7, 7]`, as in PyTorch and the safetensors header.
    static func shape(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

    /// `version 5`, or `versions 5 to 6`: the plan format versions a sharesc reads.
    static func versions(_ range: ClosedRange<Int>) -> String {
        range.count == 1 ? "version \(range.lowerBound)" : "versions \(range.lowerBound) to \(range.upperBound)"
    }
}
