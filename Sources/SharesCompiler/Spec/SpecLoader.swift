import Foundation

/// Reads a network spec with everything it extends and includes, and merges them into one `Spec`.
///
/// - `extends: parent.yaml` builds on a whole network: this file's `network`, `input`, `stem`, `stages`
///   and `head` replace the parent's when given, its `vars` override the parent's one by one, and its
///   top-level `share` adds ties to the parent's stages.
/// - `include: blocks.yaml` brings in a library of block templates (and default `vars`). A file reached
///   twice is read once; a file that includes itself, directly or not, is an error. A file is the same
///   by whatever path it is reached (`SpecSource.identity`): two symbolic links to `.` once made each
///   spelling of `d/e/d/.../lib.yaml` a new file, 2^40 of them.
struct SpecLoader {
    private let source: SpecSource
    private var sink = DiagnosticSink()
    /// Files being read, outermost first, with their identities: a file that reappears here is a cycle.
    private var stack: [(path: String, identity: String)] = []
    /// The identities of the libraries loaded.
    private var libraries: Set<String> = []
    private var libraryFiles: [SpecFile] = []

    static let libraryKeys: Set<String> = ["include", "blocks", "layers", "vars", "description"]

    init(source: SpecSource) { self.source = source }

    static func load(path: String, source: SpecSource, overrides: [VariableOverride]) throws(CompileFailure) -> Spec {
        var loader = SpecLoader(source: source)
        // (An empty path stays empty, for its reading to say so: normalised, it would name the folder '.'.)
        let chain = loader.loadChain(path: path.isEmpty ? path : Paths.normalize(path), requestedAt: nil)
        try loader.sink.check()
        let spec = loader.merge(chain, overrides: overrides)
        try loader.sink.check()
        guard let spec else { throw CompileFailure(loader.sink.diagnostics) }
        return spec
    }

    // MARK: Reading

    private mutating func parse(path: String, requestedAt: Location?, library: Bool = false) -> (
        SpecFile, [Located<String>]
    )? {
        let text: String
        do { text = try source.read(path) } catch {
            // Text that is not UTF-8 is located in the file, with a note where the file was named.
            if let position = (error as? UnreadableFile)?.position {
                sink.error(
                    at: Location(file: path, line: position.line, column: position.column),
                    .cannotRead(path: path, reason: Paths.reason(error)),
                    notes: requestedAt.map { [Diagnostic.note(at: $0, .fileNamedHere(path))] } ?? [])
            } else {
                sink.error(
                    at: requestedAt ?? Location(file: path, line: 1, column: 1),
                    .cannotRead(path: path, reason: Paths.reason(error)))
            }
            return nil
        }
        let root: YAMLNode?
        do { root = try YAMLReader.read(text, file: path) } catch {
            for diagnostic in error.diagnostics { sink.emit(diagnostic) }
            return nil
        }
        // (A document with nothing in it, `---` alone, or a mapping of nothing, `{}`, is an empty file too.)
        guard let root, !(root.isNull && root.scalar == ""), root.value != .mapping([]) else {
            let at = root?.value == .mapping([]) ? root!.location : Location(file: path, line: 1, column: 1)
            sink.error(at: at, library ? .emptyLibrary : .emptySpec)
            return nil
        }
        var parser = SpecParser()
        let file = parser.parse(root, path: path, library: library)
        for diagnostic in parser.diagnostics { sink.emit(diagnostic) }
        return (file, parser.keysPresent)
    }

    /// Files that include or extend one another in one chain, at most: loading recurses, and a chain of
    /// 8,000 includes overflowed the stack.
    static let maximumFileChain = 256

    /// The file at `path` and the files it extends, root-most first; libraries collected on the way.
    private mutating func loadChain(path: String, requestedAt: Location?) -> [SpecFile] {
        let fileIdentity = identity(path)
        if let cycle = cycle(reaching: path, fileIdentity, at: requestedAt, extending: true) {
            sink.emit(cycle)
            return []
        }
        guard stack.count < Self.maximumFileChain else {
            sink.error(
                at: requestedAt ?? Location(file: path, line: 1, column: 1),
                .fileChainTooLong(limit: Self.maximumFileChain))
            return []
        }
        guard let (file, _) = parse(path: path, requestedAt: requestedAt) else { return [] }
        stack.append((path, fileIdentity))
        defer { stack.removeLast() }
        // The parent's libraries load first, so that this file's libraries override their variables.
        let ancestors =
            file.extends.map { parent in
                loadChain(path: Paths.resolve(parent.value, relativeTo: path), requestedAt: parent.location)
            } ?? []
        loadLibraries(of: file)
        return ancestors + [file]
    }

    private mutating func loadLibraries(of file: SpecFile) {
        for include in file.includes {
            let path = Paths.resolve(include.value, relativeTo: file.path)
            let fileIdentity = identity(path)
            if let cycle = cycle(reaching: path, fileIdentity, at: include.location, extending: false) {
                sink.emit(cycle)
                continue
            }
            guard !libraries.contains(fileIdentity) else { continue }
            guard stack.count < Self.maximumFileChain else {
                sink.error(at: include.location, .fileChainTooLong(limit: Self.maximumFileChain))
                return
            }
            libraries.insert(fileIdentity)
            guard let (library, keys) = parse(path: path, requestedAt: include.location, library: true) else {
                continue
            }
            // One error for all such keys, at the first, with a note at the include: a whole network
            // included (where `extends` was meant) gave an error per key, all in a file that checks.
            let networkKeys = keys.filter { !Self.libraryKeys.contains($0.value) }
            if let first = networkKeys.first {
                sink.error(
                    at: first.location, .notAllowedInInclude(networkKeys.map(\.value)),
                    notes: [Diagnostic.note(at: include.location, .includedHere)])
            }
            stack.append((path, fileIdentity))
            loadLibraries(of: library)
            stack.removeLast()
            libraryFiles.append(library)
        }
    }

    /// The cycle that reaching `path` (whose identity is `reached`) closes, if it is being read.
    /// `extending`: the edge that closes the cycle is an `extends` (else an `include`).
    private func cycle(reaching path: String, _ reached: String, at location: Location?, extending: Bool)
        -> Diagnostic?
    {
        guard let start = stack.firstIndex(where: { $0.identity == reached }) else { return nil }
        let chain = stack[start...].map(\.path) + [path]
        return Diagnostic(
            at: location ?? Location(file: path, line: 1, column: 1),
            extending ? .extendsCycle(chain: chain) : .includeCycle(chain: chain))
    }

    /// The file's identity, or its path where there is no such file (its reading then says so).
    private func identity(_ path: String) -> String { source.identity?(path) ?? path }

    // MARK: Merging

    private mutating func merge(_ chain: [SpecFile], overrides: [VariableOverride]) -> Spec? {
        guard let main = chain.last else { return nil }
        var variables: [String: VariableDeclaration] = [:]
        for declaration in (libraryFiles + chain).flatMap(\.variables) { variables[declaration.name] = declaration }
        for override in overrides {
            guard var declaration = variables[override.name] else {
                var name = Location.commandLine("\(override.option) \(override.name)=\(override.text)")
                name.column += override.option.count + 1
                sink.error(
                    at: name,
                    .unknownOverride(
                        override.name, option: override.option, spec: main.path, known: variables.keys.sorted()))
                continue
            }
            declaration.written = declaration.written ?? declaration.value
            declaration.value = override.value
            declaration.location = override.value.location
            declaration.setBy = override.option
            variables[override.name] = declaration
        }

        var blocks: [String: BlockTemplate] = [:]
        for block in (libraryFiles + chain).flatMap(\.blocks) {
            if let previous = blocks[block.name], previous.location != block.location {
                sink.error(
                    at: block.location, .duplicateBlock(block.name, what: "block"),
                    notes: [Diagnostic.note(at: previous.location, .previousDefinition)])
                continue
            }
            blocks[block.name] = block
        }

        let input = chain.last { $0.input != nil }?.input
        guard let input else {
            sink.error(at: Location(file: main.path, line: 1, column: 1), .missingKey("input", context: "the network"))
            return nil
        }
        // Top-level `share:` entries apply to the stages as declared at that point of the chain: a
        // file that replaces `stages` starts afresh, without the shares its parents declared.
        let stagesFrom = chain.lastIndex { $0.stages != nil } ?? 0
        var stages = chain[stagesFrom].stages ?? []
        for file in chain[stagesFrom...] { applyShareOverlay(file.shareByStage, to: &stages) }
        var lists: [String: (Location, [LayerSpec])] = [:]
        for (name, layers) in (libraryFiles + chain).flatMap(\.layerLists) {
            if let (previous, _) = lists[name.value], previous != name.location {
                sink.error(
                    at: name.location, .duplicateBlock(name.value, what: "layer list"),
                    notes: [Diagnostic.note(at: previous, .previousDefinition)])
            }
            lists[name.value] = (name.location, layers)
        }
        var unresolved = false  // (then "no layers" would only repeat that error)
        func resolve(_ list: LayerList?) -> [LayerSpec] {
            switch list {
            case nil: return []
            case .inline(let layers): return layers
            case .named(let name):
                guard let (_, layers) = lists[name.value] else {
                    sink.error(at: name.location, .unknownLayerList(name.value, known: lists.keys.sorted()))
                    unresolved = true
                    return []
                }
                return layers
            }
        }
        let stem = resolve(chain.last { $0.stem != nil }?.stem)
        let head = resolve(chain.last { $0.head != nil }?.head)
        if stem.isEmpty && stages.isEmpty && head.isEmpty && !unresolved {
            sink.error(at: Location(file: main.path, line: 1, column: 1), .noLayers)
        }
        // Unnamed, a network is called after its file: a child of resnet-50 is not "resnet-50".
        var fileName = String(main.path.split(separator: "/").last ?? Substring(main.path))
        for suffix in [".yaml", ".yml"] where fileName.hasSuffix(suffix) { fileName.removeLast(suffix.count) }
        let network = main.network ?? Located(fileName, at: Location(file: main.path, line: 1, column: 1))
        return Spec(
            path: main.path, network: network, variables: variables, input: input,
            stem: stem, stages: stages, head: head, blocks: blocks)
    }

    /// Adds top-level `share: {stage: {conv: blocks}}` entries to the named stages; a later file's
    /// entry for the same convolution replaces an earlier one.
    private mutating func applyShareOverlay(
        _ overlay: [(stage: Located<String>, entries: [ShareEntry])], to stages: inout [StageSpec]
    ) {
        for (stageName, entries) in overlay {
            guard let index = stages.firstIndex(where: { $0.name.value == stageName.value }) else {
                sink.error(at: stageName.location, .unknownStage(stageName.value, known: stages.map(\.name.value)))
                continue
            }
            for entry in entries {
                stages[index].share.removeAll { $0.conv.value == entry.conv.value }
                stages[index].share.append(entry)
            }
        }
    }
}

/// `--set name=value` from the command line (or `compare`'s `--set-a` or `--set-b`: `option`).
public struct VariableOverride: Hashable, Sendable {
    public var name: String
    public var text: String
    public var value: LocatedExpression
    public var option: String

    /// Parses `name=value`; the value is a number or expression.
    public init(parsing argument: String, option: String = "--set") throws(CompileFailure) {
        self.option = option
        let location = Location.commandLine("\(option) \(argument)")
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw CompileFailure(Diagnostic(at: location, .badOverride(argument, option: option)))
        }
        // Spaces and tabs around the name only: Foundation's whitespace took a zero-width space too, and
        // `w\u{200B}=16` set `w`.
        name = String(argument[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        guard SpecParser.isVariableName(name) else {
            throw CompileFailure(Diagnostic(at: location, .badVariableName(name)))
        }
        text = String(argument[argument.index(after: equals)...])
        // Reports, graphs and generated code print the value as written: a carriage return in it
        // overwrote the report's title on the terminal.
        guard !SpecValidator.hasUnprintableCharacter(text.replacing("\t", with: " ")) else {
            throw CompileFailure(Diagnostic(at: location, .badOverride(argument, option: option)))
        }
        // The parser's own message (what it found, what it expected), at the value's column in
        // `--set name=value` as the location shows it.
        var valueStart = location
        valueStart.column += option.unicodeScalars.count + 1 + argument[...equals].unicodeScalars.count
        value = Located(try ExpressionParser.parse(text, at: valueStart), at: location)
    }

    /// `name=value` as reports and generated code show it, without the spaces the argument had around them.
    public var setting: String { name + "=" + text.trimmingCharacters(in: .whitespaces) }
}
