import Testing

@testable import SharesCompiler

/// Every kind of bad input sharesc must reject with a located, readable error — never a crash, a hang
/// or a trap. Each test asserts the exact rendered output: `path:line:column: error: message` and notes.
@Suite("Diagnostics", .timeLimit(.minutes(1)))
struct DiagnosticsTests {
    /// A small block library, included as `lib/blocks.yaml`. Lines: 2 `basic`, 3 its args,
    /// 5 `conv1` (column 9), 7 `conv2`, 9 `shortcut.conv1`.
    static let library = """
        blocks:
          basic:
            args: {width: required, stride: 1}
            body:
              - conv: {out: $width, kernel: 3, stride: $stride, pad: 1}
              - relu
              - conv: {out: $width, kernel: 3, pad: 1}
            shortcut:
              - conv: {out: $width, kernel: 1, stride: $stride}

        """

    /// `spec.yaml` with the block library next to it; `spec` starts with `include: lib/blocks.yaml` when it needs it.
    static func files(_ spec: String, _ more: [String: String] = [:]) -> [String: String] {
        ["spec.yaml": spec, "lib/blocks.yaml": library].merging(more) { $1 }
    }

    static func check(
        _ spec: String, with more: [String: String] = [:], overrides: [String] = [],
        _ expected: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(diagnostics(files(spec, more), overrides: overrides) == expected, sourceLocation: sourceLocation)
    }

    // MARK: Files and YAML

    @Test func emptyFile() {
        Self.check(
            "",
            "spec.yaml:1:1: error: the spec is empty; expected a mapping with at least 'input' and 'stages' (or 'stem'/'head')"
        )
        Self.check(
            "# only a comment\n",
            "spec.yaml:1:1: error: the spec is empty; expected a mapping with at least 'input' and 'stages' (or 'stem'/'head')"
        )
        Self.check(
            "---\n",
            "spec.yaml:1:1: error: the spec is empty; expected a mapping with at least 'input' and 'stages' (or 'stem'/'head')"
        )
    }

    @Test func fileThatIsNotAMapping() {
        Self.check("- input\n- stages\n", "spec.yaml:1:1: error: expected the spec (a mapping), found a list")
        Self.check("resnet\n", "spec.yaml:1:1: error: expected the spec (a mapping), found 'resnet'")
    }

    @Test func yamlSyntaxErrorPointsAtTheProblemAndWhereTheConstructStarts() {
        Self.check(
            "input: [3, 8, 8\nstem: [relu]\n",
            """
            spec.yaml:2:5: error: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence
            spec.yaml:1:8: note: the flow sequence starts here
            """)
    }

    /// libyaml's two terse problems that specs hit most get what they usually mean: a key without its
    /// colon, and a line indented unlike its siblings.
    @Test func yamlSyntaxErrorsThatSpecsHitMostHaveAHint() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv {out: 4, kernel: 1}\n",
            "spec.yaml:3:25: error: YAML syntax error: mapping values are not allowed in this context; a key needs its ':' "
                + "right after it ('conv: {out: 16}', not 'conv {out: 16}'), and a plain value cannot hold ': ' (quote it)"
        )
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\n head: [relu]\n",
            """
            spec.yaml:3:2: error: YAML syntax error: did not find expected key while parsing a block mapping; a line is probably indented unlike the keys beside it (a mapping's keys start in one column)
            spec.yaml:1:1: note: the block mapping starts here
            """)
    }

    @Test func moreThanOneDocument() {
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\n---\ninput: [3, 16, 16]\n",
            "spec.yaml:3:1: error: YAML syntax error: expected a single document in the stream, but found another document"
        )
    }

    @Test func windowsLineEndingsAndByteOrderMark() {
        // "\r\n" is one Swift Character: lines must still be counted, for positions and for the nesting bound.
        Self.check(
            "input: [3, 8, 8]\r\nstem: [relu]\r\nstem: [relu]\r\n",
            """
            spec.yaml:3:1: error: duplicate key 'stem' in a mapping; each key may appear once
            spec.yaml:2:1: note: previous definition is here
            """)
        let indented =
            (0..<300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\r\n") + " 1\r\n"
        Self.check(indented, "spec.yaml:202:202: error: YAML nested more than 200 levels deep")
        Self.check("\u{FEFF}input: [3, 8, 8]\nstem: [relu]\n", "(compiled without errors)")
    }

    @Test func tabIndentation() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n\t- relu\n",
            "spec.yaml:3:1: error: YAML syntax error: found a tab; YAML indentation must use spaces")
    }

    /// The reader's errors carry an offset, not a mark: the location is the character's own (its
    /// column in Unicode scalars), not 1:1. The offset counts Swift characters (Yams converts libyaml's
    /// bytes), in which `\r\n` is one, as is an accented letter however written: counted as bytes, the
    /// lines of a `\r\n` file and the columns after `é` were placed short.
    @Test func controlCharacterIsLocated() {
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]  # \u{E9}\u{1}\n",
            "spec.yaml:2:18: error: YAML syntax error: control characters are not allowed")
        for lineBreak in ["\n", "\r\n", "\r"] {
            Self.check(
                ["input: [3, 8, 8]", "stem: [relu]", "head: [\u{E9}\u{E9}e\u{301}, \u{1}]", ""].joined(
                    separator: lineBreak),
                "spec.yaml:3:14: error: YAML syntax error: control characters are not allowed")
        }
    }

    /// A file whose lines end in a lone `\r` (as old Macs wrote them) has its tabs and repeated keys
    /// found on the right lines (they were looked for in lines split at `\n` only).
    @Test func linesEndingInCarriageReturns() {
        Self.check(
            "input: [3, 8, 8]\rstem:\r\t- relu\r",
            "spec.yaml:3:1: error: YAML syntax error: found a tab; YAML indentation must use spaces")
        Self.check(
            "input: [3, 8, 8]\rstem: [relu]\rstem: [relu]\r",
            """
            spec.yaml:3:1: error: duplicate key 'stem' in a mapping; each key may appear once
            spec.yaml:2:1: note: previous definition is here
            """)
    }

    @Test func duplicateKeyPointsAtTheRepetition() {
        Self.check(
            "input: [3, 8, 8]\ninput: [3, 16, 16]\nstem: [relu]\n",
            """
            spec.yaml:2:1: error: duplicate key 'input' in a mapping; each key may appear once
            spec.yaml:1:1: note: previous definition is here
            """)
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 4, kernel: 3, out: 8}\n",
            """
            spec.yaml:3:31: error: duplicate key 'out' in a mapping; each key may appear once
            spec.yaml:3:12: note: previous definition is here
            """)
        // A key that starts with a symbol YAML does not read as structure, as well (`_a` was reported at
        // its first occurrence, without the note).
        Self.check(
            "input: [3, 8, 8]\nvars:\n  _a: 1\n  b: 2\n  _a: 3\nstem: [relu]\n",
            """
            spec.yaml:5:3: error: duplicate key '_a' in a mapping; each key may appear once
            spec.yaml:3:3: note: previous definition is here
            """)
        // Every duplicate, each at its repetition, where only the innermost was reported, at its first
        // occurrence; a key given three times twice (the third renamed key was reported as 'Z').
        Self.check(
            "network: a\ninput: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 1, out: 5}}]\nnetwork: b\nnetwork: c\n",
            """
            spec.yaml:3:35: error: duplicate key 'out' in a mapping; each key may appear once
            spec.yaml:3:16: note: previous definition is here
            spec.yaml:4:1: error: duplicate key 'network' in a mapping; each key may appear once
            spec.yaml:1:1: note: previous definition is here
            spec.yaml:5:1: error: duplicate key 'network' in a mapping; each key may appear once
            spec.yaml:4:1: note: previous definition is here
            """)
    }

    @Test func mergeKeysAreRefused() {
        Self.check(
            """
            input: [3, 8, 8]
            stem:
              - conv: &c {out: 4, kernel: 3}
              - conv: {<<: *c, pad: 1}

            """,
            "spec.yaml:4:12: error: YAML merge keys ('<<') are not supported; use a block template or 'extends' instead"
        )
    }

    /// A tag would change a value's meaning in YAML or ask for one sharesc does not give: refused, not
    /// ignored, whether on a scalar, a list or a mapping; a standard tag as written (`!!str`, where the
    /// parser had resolved it to `tag:yaml.org,2002:str`).
    @Test func tagsAreRefused() {
        Self.check(
            "input: !!str [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:8: error: YAML tags ('!!str') are not supported; write the value without one")
        Self.check(
            "input: [3, 8, 8]\nstem: [!custom relu]\n",
            "spec.yaml:2:8: error: YAML tags ('!custom') are not supported; write the value without one")
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: !m {out: 4, kernel: 3}}]\n",
            "spec.yaml:2:15: error: YAML tags ('!m') are not supported; write the value without one")
        Self.check("input: [3, 8, 8]\nstem: [\"relu\", 'relu']\n", "(compiled without errors)")
    }

    /// Variables resolve depth first on a stack of their own (recursion overflowed the call stack at a
    /// chain of 20,000): a long chain compiles whichever way its names sort, and a long cycle, or a
    /// chain ending at an unknown name, is reported once, where it closes.
    @Test func longVariableChainsResolve() {
        func chain(_ count: Int, end: String = "3", reversed: Bool = false) -> String {
            // x_i uses x_{i+1} (names sorting the way the chain runs), or x_{i-1} (against it).
            let name = { (i: Int) in "x" + String(repeating: "0", count: 5 - String(i).count) + String(i) }
            let lines = (0..<count).map { i in
                let next = reversed ? i - 1 : i + 1
                let last = reversed ? i == 0 : i == count - 1
                return "  \(name(i)): \(last ? end : "$" + name(next))"
            }
            let first = reversed ? name(count - 1) : name(0)
            return "vars:\n" + lines.joined(separator: "\n") + "\ninput: [$\(first), 8, 8]\nstem: [relu]\n"
        }
        #expect(diagnostics(Self.files(chain(20_000))) == "(compiled without errors)")
        #expect(diagnostics(Self.files(chain(20_000, reversed: true))) == "(compiled without errors)")
        Self.check(
            chain(3, end: "$x00000"),
            "spec.yaml:2:3: error: variables depend on each other in a cycle: $x00000 -> $x00001 -> $x00002 -> $x00000")
        // Of 5,000 known names, the message lists 20 and suggests one, never the variable being defined
        // (`$x04999: $x4999`; it offered `$x04999`, a cycle of its own).
        Self.check(
            chain(5_000, end: "$x4999"),
            "spec.yaml:5001:11: error: unknown variable '$x4999'; known here: "
                + (0..<20).map { "$x000" + ($0 < 10 ? "0" : "") + String($0) }.joined(separator: ", ")
                + " and 4979 more")
        Self.check(
            "vars: {x: 1 + $nope}\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:15: error: unknown variable '$nope'; none are defined here")
    }

    @Test func deepNestingIsRefusedBeforeParsing() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        Self.check("input: \(deep)\n", "spec.yaml:1:208: error: YAML nested more than 200 levels deep")
        // A quote inside a plain scalar does not start a quoted string, so it must not hide the brackets after it.
        Self.check("input: [a\"b, \(deep)]\n", "spec.yaml:1:213: error: YAML nested more than 200 levels deep")
        let indented = (0..<300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
        Self.check(indented, "spec.yaml:202:202: error: YAML nested more than 200 levels deep")
        // At the indicator that goes one level too deep (the 201st `- `, column 401), not at the end of the run.
        let dashes = String(repeating: "- ", count: 10_000) + "x\n"
        Self.check("stem:\n" + dashes, "spec.yaml:2:401: error: YAML nested more than 200 levels deep")
    }

    @Test func aliasBombIsStoppedWhereItExpands() {
        let bomb = """
            a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
            b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
            c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
            d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
            e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
            f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
            g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
            h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
            i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]

            """
        Self.check(
            bomb,
            "spec.yaml:6:4: error: YAML expands to more than 200000 values (aliases are expanded); simplify the spec")
    }

    // MARK: Unknown keys

    @Test func unknownTopLevelKeyListsTheAllowedKeys() {
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\nstagse: []\n",
            """
            spec.yaml:3:1: error: unknown key 'stagse' in the spec; allowed keys are: network, description, include, extends, \
            input, vars, stem, stages, head, blocks, layers, share; did you mean 'stages'?
            """)
    }

    @Test func unknownKeyInALayer() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 4, kernel: 3, padding: 1}\n",
            "spec.yaml:3:31: error: unknown key 'padding' in the arguments of 'conv'; allowed keys are: name, out, kernel, stride, pad, groups, bias; did you mean 'pad'?"
        )
    }

    @Test func unknownKeyInABlock() {
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              plain:
                body: [relu]
                shortcutt: identity
            stages:
              - {block: plain}

            """,
            "spec.yaml:5:5: error: unknown key 'shortcutt' in block 'plain'; allowed keys are: args, pre, body, shortcut, merge, post; did you mean 'shortcut'?"
        )
    }

    @Test func unknownKeyInAShareEntry() {
        Self.check(
            """
            include: lib/blocks.yaml
            input: [3, 8, 8]
            stages:
              - {block: basic, width: 4, repeat: 2, share: {conv2: {blocks: all, gruop: deep}}}

            """,
            "spec.yaml:4:70: error: unknown key 'gruop' in the sharing of 'conv2'; allowed keys are: blocks, group; did you mean 'group'?"
        )
    }

    @Test func layerArgumentsIndentedAsSiblingsOfTheKind() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv:\n    out: 4\n    kernel: 3\n",
            """
            spec.yaml:3:5: error: expected a layer: a kind such as 'relu', or a one-key mapping such as \
            '{conv: {out: 64, kernel: 3}}', found a mapping with 3 keys ('conv', 'out', 'kernel')
            """)
    }

    @Test func unknownLayerKindListsTheKinds() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - convolution: {out: 4, kernel: 3}\n",
            """
            spec.yaml:3:5: error: unknown layer kind 'convolution'; the kinds are: conv, batchnorm, relu, maxpool, avgpool, \
            global_avgpool, flatten, linear, dropout, subsample_pad, depthwise, relu6, silu, hardswish, gelu, sigmoid, \
            squeeze_excite, layernorm, layer_scale, stochastic_depth; did you mean 'conv'?
            """)
    }

    // MARK: Wrong types and sizes

    /// A whole network included where `extends` was meant: one error for its keys, at the first, with a
    /// note at the include (an error per key, all in a file that checks on its own, with no pointer back).
    @Test func aNetworkIncludedIsOneErrorNotedAtTheInclude() {
        Self.check(
            "include: net.yaml\n", with: ["net.yaml": "input: [3, 8, 8]\nstem: [relu]\n"],
            """
            net.yaml:1:1: error: an included file may only hold 'blocks', 'layers', 'vars', 'include' and 'description', not 'input', 'stem'; use 'extends' to build on a whole network
            spec.yaml:1:10: note: included here
            """)
    }

    /// A real that reaches a size, from a stage's argument or a variable, is noted where it became real
    /// (the error inside the block said nothing of the stage's `$w * 1.5`).
    @Test func aRealSizeIsNotedWhereItBecameReal() {
        let block =
            "blocks:\n  b:\n    args: {w: required}\n    body: [{conv: {out: $w, kernel: 1}}]\n    merge: none\n"
        Self.check(
            "input: [3, 8, 8]\nvars: {w: 16}\n" + block + "stages: [{block: b, w: $w * 1.5}]\n",
            """
            spec.yaml:6:25: error: 'out' of conv must be an integer (written without a decimal point or exponent), found the real 24.0
            spec.yaml:8:24: note: 'w' is 24.0 here, a real number (written with a decimal point or exponent, or computed from one)
            spec.yaml:8:10: note: in block 1 of stage 'stage1' (block 'b')
            """)
        Self.check(
            "input: [3, 8, 8]\nvars: {w: 16.0}\n" + block + "stages: [{block: b, w: $w}]\n",
            """
            spec.yaml:6:25: error: 'out' of conv must be an integer (written without a decimal point or exponent), found the real 16.0
            spec.yaml:2:11: note: 'w' is 16.0 here, a real number (written with a decimal point or exponent, or computed from one)
            spec.yaml:8:10: note: in block 1 of stage 'stage1' (block 'b')
            """)
    }

    /// The mistakes a newcomer makes most, each with what was meant: a word a typo from the one allowed,
    /// a tie of a layer that is no convolution, a block's variable outside blocks, a batch size in
    /// `input`.
    @Test func newcomersMistakesSayWhatWasMeant() {
        let block = "blocks:\n  b:\n    args: {w: 4}\n    body: [{conv: {out: $w, kernel: 1}}, batchnorm]\n"
        Self.check(
            "input: [3, 8, 8]\n" + block + "    shortcut: identiy\nstages: [{block: b}]\n",
            "spec.yaml:6:15: error: expected 'shortcut' to be 'identity', a list of projection layers, or "
                + "{layers: [...], when: changed|always}, found 'identiy'; did you mean 'identity'?")
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  b:\n    args: {w: requried}\n    body: [{conv: {out: $w, kernel: 1}}]\n"
                + "stages: [{block: b, w: 3}]\n",
            "spec.yaml:4:15: error: expected the default of argument 'w' (a number or expression, or 'required'), "
                + "found 'requried'; did you mean 'required'?")
        Self.check(
            "input: [3, 8, 8]\n" + block + "    merge: none\nstages: [{block: b, repeat: 2, share: {bn1: all}}]\n",
            """
            spec.yaml:7:40: error: 'bn1' in block 'b' is a batchnorm, not a convolution: only convolutions (conv, depthwise) share weights
            spec.yaml:5:42: note: 'bn1' declared here
            """)
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: $in_channels, kernel: 1}}]\n",
            "spec.yaml:2:21: error: unknown variable '$in_channels'; none are defined here ('$in_channels' is bound inside blocks only)"
        )
        Self.check(
            "input: [1, 3, 8, 8]\n",
            "spec.yaml:1:8: error: expected 'input' as [channels, height, width], found 4 values (no batch size: a plan runs any batch)"
        )
    }

    @Test func stringWhereANumberIsExpected() {
        // One error: the key was given, so it is not also reported missing.
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: four, kernel: 3}\n",
            "spec.yaml:3:17: error: expected 'out' (a number or expression), found 'four' (to read a variable, write '$four')"
        )
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 4x, kernel: 3}\n",
            "spec.yaml:3:18: error: unexpected 'x' in '4x'; expected an operator (+ - * / // %) or the end")
    }

    @Test func mappingWhereAListIsExpected() {
        Self.check(
            "input: {channels: 3}\nstem: [relu]\n",
            "spec.yaml:1:8: error: expected 'input' as [channels, height, width] (a list), found a mapping")
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages: {block: basic, width: 4}\n",
            "spec.yaml:3:9: error: expected 'stages' (a list), found a mapping")
    }

    @Test func flagThatIsNotTrueOrFalse() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 4, kernel: 3, bias: maybe}\n",
            "spec.yaml:3:37: error: expected 'bias' (true or false), found 'maybe'")
    }

    @Test func zeroAndNegativeSizes() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 0, kernel: 3}\n",
            "spec.yaml:3:17: error: 'out' of conv is 0; expected 1...1048576")
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 4, kernel: -1}\n",
            "spec.yaml:3:28: error: 'kernel' of conv is -1; expected 1...1024")
        Self.check("input: [3, 0, 224]\nstem: [relu]\n", "spec.yaml:1:12: error: input height is 0; expected 1...65536")
    }

    @Test func inputTooLargeToCount() {
        Self.check(
            "input: [1048576, 65536, 65536]\nstem: [relu]\n",
            "spec.yaml:1:8: error: the input 1048576x65536x65536 is too large to count: tensors are limited to 2^40"
                + " values and counts to 64 bits")
    }

    /// Totals past 64 bits (eight uses of a 2^60-MAC convolution) are refused where the graph is made,
    /// for every command: a plan was written, and `--emit` printed, for a spec that the report refused.
    @Test func countsPast64BitsAreRefusedByEveryStage() {
        let spec = """
            input: [1048576, 1024, 1024]
            blocks:
              b: {body: [conv: {out: 1048576, kernel: 1}], merge: none}
            stages:
              - {block: b, repeat: 8, share: {conv1: all}}
            """
        // At the layer, named, whose turn overflows (it was the input's line); FLOPs where only they do.
        let expected =
            "spec.yaml:3:14: error: the MAC count, summed up to stage1.block8.conv1, is too large to count: tensors"
            + " are limited to 2^40 values and counts to 64 bits"
        Self.check(spec, expected)
        Self.check(
            spec.replacingOccurrences(of: "repeat: 8", with: "repeat: 4"),
            "spec.yaml:3:14: error: the FLOP count (2 x MACs), summed up to stage1.block4.conv1, is too large to count:"
                + " tensors are limited to 2^40 values and counts to 64 bits")
        let options = CompileOptions(source: .memory(["spec.yaml": spec]))
        for stage in Compiler.Stage.allCases {
            #expect(throws: CompileFailure.self, "--emit \(stage)") {
                _ = try Compiler.emit(stage, spec: "spec.yaml", options: options, format: .text, threads: 1)
            }
        }
        do {
            _ = try Compiler.lower("spec.yaml", options: options)
            Issue.record("lowered")
        } catch { #expect(error.description == expected) }
    }

    @Test func absurdRepeatCount() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 1000000000}\n",
            "spec.yaml:4:38: error: 'repeat' is 1000000000; expected 0...10000")
    }

    /// Past 20,000 blocks in all, the error is at the stage whose blocks cross the limit, with the total
    /// (it was at the first stage, without it).
    @Test func tooManyBlocksAtTheStageThatCrossesTheLimit() {
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              p: {body: [relu]}
            stages:
              - {block: p, repeat: 5}
              - {block: p, repeat: 10000}
              - {block: p, repeat: 9996}
              - {block: p, repeat: 1}
            """,
            "spec.yaml:7:5: error: the network has 20002 blocks, more than 20000; the blocks of this stage cross the limit"
        )
    }

    /// Past 200,000 layers in all (a 13 KB spec of long bodies times 20,000 blocks made billions, and ran
    /// out of memory), the error is at the layer that crosses the limit, with its block and stage.
    @Test func tooManyLayersAtTheLayerThatCrossesTheLimit() {
        let body = Array(repeating: "relu", count: 100).joined(separator: ", ")
        Self.check(
            "input: [1, 1, 1]\nblocks:\n  b:\n    body: [\(body)]\nstages:\n  - {block: b, repeat: 2000}\n",
            """
            spec.yaml:4:126: error: the network has more than 200000 layers; 'stage1.block1981.relu20' crosses the limit
            spec.yaml:6:5: note: in block 1981 of stage 'stage1' (block 'b')
            """)
    }

    /// An error whose consequence is an empty network stands alone ("no layers" followed from an unknown
    /// layer list); a block without convolutions says so (its list of convolutions was empty).
    @Test func followOnAndEmptyListsAreNotPrinted() {
        Self.check(
            "layers: {h: [relu]}\ninput: [1, 2, 2]\nhead: nope\n",
            "spec.yaml:3:7: error: unknown layer list 'nope'; expected a list of layers or one of: h")
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  p: {body: [relu]}\nstages: [{block: p, repeat: 2, share: {conv1: all}}]\n",
            """
            spec.yaml:4:40: error: block 'p' has no convolution named 'conv1'; it has no convolutions
            spec.yaml:3:3: note: block 'p' declared here
            """)
    }

    @Test func shapeThatShrinksToNothing() {
        // Padded 3x3 blocks never reach zero, but the head's 4x4 pool does not fit the 2x2 left after two stride-2 stages.
        Self.check(
            """
            include: lib/blocks.yaml
            input: [3, 8, 8]
            stages:
              - {block: basic, width: 4, stride: 2}
              - {block: basic, width: 8, stride: 2}
            head:
              - avgpool: {kernel: 4}

            """,
            "spec.yaml:7:5: error: head.avgpool1 turns the 8x2x2 input into an empty output; the input is too small for its kernel, stride and padding"
        )
        // Unpadded convolutions inside a block: the note says which expansion of the template failed.
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              unpadded:
                args: {stride: 1}
                body:
                  - conv: {out: 4, kernel: 3, stride: $stride}
                merge: none
            stages:
              - {block: unpadded, stride: 2}
              - {block: unpadded, stride: 2}
              - {block: unpadded, stride: 2}

            """,
            """
            spec.yaml:6:9: error: stage3.block1.conv1 turns the 4x1x1 input into an empty output; the input is too small for its kernel, stride and padding
            spec.yaml:11:5: note: in block 1 of stage 'stage3' (block 'unpadded')
            """)
    }

    // MARK: Files: include and extends

    @Test func includeCycle() {
        Self.check(
            "include: a.yaml\ninput: [3, 8, 8]\nstem: [relu]\n",
            with: ["a.yaml": "include: b.yaml\n", "b.yaml": "include: a.yaml\n"],
            "b.yaml:1:10: error: include cycle: a.yaml -> b.yaml -> a.yaml")
    }

    @Test func fileIncludingItself() {
        Self.check(
            "include: spec.yaml\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:10: error: include cycle: spec.yaml -> spec.yaml")
        Self.check(
            "include: a.yaml\ninput: [3, 8, 8]\nstem: [relu]\n", with: ["a.yaml": "include: [a.yaml]\n"],
            "a.yaml:1:11: error: include cycle: a.yaml -> a.yaml")
    }

    @Test func extendsCycle() {
        Self.check(
            "extends: base.yaml\n", with: ["base.yaml": "extends: spec.yaml\ninput: [3, 8, 8]\nstem: [relu]\n"],
            "base.yaml:1:10: error: extends cycle: spec.yaml -> base.yaml -> spec.yaml; a spec cannot extend itself, directly or through other specs"
        )
    }

    @Test func missingIncludeFile() {
        Self.check(
            "include: lib/blokcs.yaml\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:10: error: cannot read 'lib/blokcs.yaml': no such file")
    }

    /// An empty path would resolve to the spec's own folder ("cannot read '.': is a directory").
    @Test func emptyIncludeOrExtendsPath() {
        Self.check(
            "include: \"\"\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:10: error: expected the path of a file to include, found an empty string")
        Self.check(
            "include: [lib/blocks.yaml, '']\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:28: error: expected the path of a file to include, found an empty string")
        Self.check(
            "extends: ''\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:10: error: expected the path of the spec this one extends, found an empty string")
    }

    @Test func emptyIncludeFile() {
        Self.check(
            "include: a.yaml\ninput: [3, 8, 8]\nstem: [relu]\n", with: ["a.yaml": ""],
            "a.yaml:1:1: error: the included file is empty; expected a mapping with 'blocks', 'layers' or 'vars'")
        // An empty mapping holds no more (it was taken for a library of nothing).
        Self.check(
            "include: a.yaml\ninput: [3, 8, 8]\nstem: [relu]\n", with: ["a.yaml": "# nothing yet\n{}\n"],
            "a.yaml:2:1: error: the included file is empty; expected a mapping with 'blocks', 'layers' or 'vars'")
    }

    @Test func extendsOfAMissingFile() {
        Self.check(
            "extends: resnet-18.yaml\nshare: {stage1: {conv2: all}}\n",
            "spec.yaml:1:10: error: cannot read 'resnet-18.yaml': no such file")
    }

    // MARK: Variables and arithmetic

    @Test func unknownVariableInAStageArgument() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nvars: {w: 4}\nstages:\n  - {block: basic, width: $wdth}\n",
            "spec.yaml:5:27: error: unknown variable '$wdth'; known here: $w")
    }

    @Test func unknownVariableInABlockTemplateNamesTheStage() {
        Self.check(
            """
            input: [3, 8, 8]
            vars: {classes: 10}
            blocks:
              plain:
                args: {width: required}
                body:
                  - conv: {out: $widht, kernel: 1}
                merge: none
            stages:
              - {block: plain, width: 4}

            """,
            """
            spec.yaml:7:21: error: unknown variable '$widht'; known here: $block_number, $classes, $in_channels, $width; did you mean '$width'?
            spec.yaml:10:5: note: in block 1 of stage 'stage1' (block 'plain')
            """)
    }

    @Test func variableCycle() {
        Self.check(
            "input: [3, 8, 8]\nvars:\n  a: $b + 1\n  b: $a * 2\nstem: [relu]\n",
            "spec.yaml:3:3: error: variables depend on each other in a cycle: $a -> $b -> $a")
        Self.check(
            "input: [3, 8, 8]\nvars:\n  a: $a\nstem: [relu]\n",
            "spec.yaml:3:3: error: variables depend on each other in a cycle: $a -> $a")
    }

    @Test func inexactDivision() {
        Self.check(
            "input: [3, 8, 8]\nvars:\n  n: (165 - 2) / 9\nstem: [relu]\n",
            "spec.yaml:3:16: error: 163 / 9 is not a whole number; use '//' to round down, or choose values that divide exactly"
        )
    }

    @Test func divisionByZero() {
        Self.check(
            "input: [3, 8, 8]\nvars:\n  zero: 0\n  n: 4 / $zero\nstem: [relu]\n",
            "spec.yaml:4:8: error: division by zero")
        Self.check("input: [3, 8, 8]\nvars:\n  n: 4 % 0\nstem: [relu]\n", "spec.yaml:3:8: error: division by zero")
    }

    @Test func arithmeticOverflow() {
        Self.check(
            "input: [3, 8, 8]\nvars:\n  n: 4294967296 * 4294967296\nstem: [relu]\n",
            "spec.yaml:3:17: error: arithmetic overflow: the value does not fit in 64 bits")
        Self.check(
            "input: [3, 8, 8]\nvars:\n  n: -9223372036854775807 - 2\nstem: [relu]\n",
            "spec.yaml:3:27: error: arithmetic overflow: the value does not fit in 64 bits")
        // A literal past Int.max is not silently read as an inexact real.
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv: {out: 99999999999999999999, kernel: 3}\n",
            "spec.yaml:3:17: error: arithmetic overflow: the value does not fit in 64 bits")
        // Reals overflow past the largest double, not 64 bits.
        Self.check(
            "input: [3, 8, 8]\nvars:\n  x: 1e308 * 10\nstem: [relu]\n",
            "spec.yaml:3:12: error: arithmetic overflow: the real value is beyond the largest double (about 1.8e308)")
        // So does a literal: `1e400` is a number, too large ("expected a number but found '1e400'").
        Self.check(
            "input: [3, 8, 8]\nvars:\n  x: 2 * 1e400\nstem: [relu]\n",
            "spec.yaml:3:10: error: arithmetic overflow: the real value is beyond the largest double (about 1.8e308)")
    }

    /// Loading recurses through includes and extends: a chain of thousands overflowed the stack.
    @Test func longFileChainsAreRefused() {
        var includes: [String: String] = ["lib/i0.yaml": "blocks: {}\n"]
        var parents: [String: String] = ["e0.yaml": "input: [3, 8, 8]\nstem: [relu]\n"]
        for k in 1...300 {
            includes["lib/i\(k).yaml"] = "include: i\(k - 1).yaml\n"
            parents["e\(k).yaml"] = "extends: e\(k - 1).yaml\n"
        }
        let limit = "more than 256 files include or extend one another in one chain; shorten it"
        Self.check(
            "include: lib/i300.yaml\ninput: [3, 8, 8]\nstem: [relu]\n", with: includes,
            "lib/i46.yaml:1:10: error: \(limit)")
        #expect(diagnostics(parents, main: "e300.yaml") == "e45.yaml:1:10: error: \(limit)")
        // Within the limit, they load.
        #expect(diagnostics(parents, main: "e200.yaml") == "(compiled without errors)")
    }

    /// Layer and stage names are joined with '.' into the names of layers, parameters and ONNX values:
    /// a name with a '.' in it could be another's (ONNX export wrote two nodes of one name; two
    /// parameters of one name stopped the compiler with an internal error), and so could a stage
    /// named after the stem or the head.
    @Test func namesThatCouldCollideAreRefused() {
        Self.check(
            """
            input: [4, 8, 8]
            stem:
              - squeeze_excite: {width: 2, name: a}
              - conv: {out: 4, kernel: 1, name: a.fc1}
              - relu: {name: ""}

            """,
            """
            spec.yaml:4:37: error: layer name 'a.fc1' must be non-empty and without '.', which joins the parts of names
            spec.yaml:5:18: error: layer name '' must be non-empty and without '.', which joins the parts of names
            """)
        Self.check(
            """
            input: [4, 8, 8]
            blocks: {b: {body: [relu]}}
            stages:
              - {name: stem, block: b}
              - {name: "", block: b}
              - {name: s.t, block: b}

            """,
            """
            spec.yaml:4:12: error: 'stem' names the network's stem in layer and parameter names; choose another stage name
            spec.yaml:5:12: error: stage name '' must be non-empty and without '.', which joins the parts of names
            spec.yaml:6:12: error: stage name 's.t' must be non-empty and without '.', which joins the parts of names
            """)
    }

    /// A control character in a name (a NUL, a newline) is refused where the name is given: the
    /// exported PyTorch module held a NUL, and a newline split a report's heading.
    @Test func namesWithControlCharactersAreRefused() {
        Self.check(
            """
            network: "n\\0"
            input: [4, 8, 8]
            blocks: {"b\\n": {body: [{relu: {name: "r\\t"}}, {conv: {out: 4, kernel: 1, name: c}}]}}
            stages: [{name: "s\\e", block: "b\\n", repeat: 2, share: {c: {group: "g\\a"}}}]

            """,
            """
            spec.yaml:1:10: error: network name 'n\\u{0}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:3:10: error: block name 'b\\n' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:3:39: error: layer name 'r\\t' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:4:17: error: stage name 's\\u{1b}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:4:68: error: tie group name 'g\\u{7}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            """)
        // Nor what a table shows as another name: a bidirectional override, a zero-width space, a Hangul
        // filler (a letter shown as nothing), a space at either end; or a stage named as the tables'
        // row of totals.
        Self.check(
            """
            input: [4, 8, 8]
            blocks: {b: {body: [{conv: {out: 4, kernel: 1}}]}}
            stages: [{name: "\\u202e1egats", block: b}, {name: "s\\u200b", block: b}, {name: " s", block: b}, {name: total, block: b}, {name: "tr\\u2062unk\\u00ad\\u2028", block: b}, {name: "\\u200d\\u200c", block: b}, {name: "s\\u3164", block: b}]

            """,
            """
            spec.yaml:3:17: error: stage name '\\u{202e}1egats' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:3:51: error: stage name 's\\u{200b}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:3:80: error: stage name ' s' begins or ends with a space, which reports and graphs do not show
            spec.yaml:3:104: error: 'total' names the reports' row of totals; choose another stage name
            spec.yaml:3:129: error: stage name 'tr\\u{2062}unk\\u{ad}\\u{2028}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            spec.yaml:3:208: error: stage name 's\\u{3164}' contains a control character, or an invisible or direction-changing one; names are printed in reports, graphs and generated code
            """)
    }

    /// Reals the network holds as 32-bit floats must fit one (1e39 became an infinite layer scale).
    @Test func realsBeyondFloat32AreRefused() {
        Self.check(
            "input: [4, 4, 4]\nstem: [{layer_scale: {init: 1e39}}]\n",
            "spec.yaml:2:29: error: expected 'init' within 32-bit float range (at most 3.4e38 in size), found 1e+39")
        Self.check(
            "input: [4, 4, 4]\nstem: [{layernorm: {eps: 1e-50}}]\n",
            "spec.yaml:2:26: error: expected 'eps' greater than 0, found 1e-50, which is 0 as a 32-bit float")
    }

    /// A value in a message as the spec gives it: a whole number as whole (it said "found 16.0"), a real
    /// as a real; an exponent without digits says so (it said "unexpected 'e'"), where its digits
    /// belong; a character that cannot be seen, or looks like a space, escaped as control characters
    /// are (a no-break space was shown as ' ').
    @Test func valuesAndUnseenCharactersInMessages() {
        Self.check(
            "input: [3, 8, 8]\nvars: {width: 16}\nstem: [{dropout: {p: $width}}]\n",
            "spec.yaml:3:22: error: dropout 'p' must be in [0, 1), found 16")
        Self.check(
            "input: [3, 8, 8]\nstem: [{dropout: {p: 1.0}}]\n",
            "spec.yaml:2:22: error: dropout 'p' must be in [0, 1), found 1.0")
        Self.check(
            "input: [3, 8, 8]\nstem: [{dropout: {p: 0.99999999999}}]\n",
            "spec.yaml:2:22: error: dropout 'p' must be in [0, 1), found 0.99999999999, which is 1 as a 32-bit float")
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 2e, kernel: 3}}]\n",
            "spec.yaml:2:23: error: expected the exponent's digits after 'e' in '2e'")
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 1.5E-}}]\n",
            "spec.yaml:2:37: error: expected the exponent's digits after 'E-' in '1.5E-'")
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 4\u{A0}* 2, kernel: 3}}]\n",
            "spec.yaml:2:22: error: unexpected '\\u{a0}' in '4\\u{a0}* 2'; expected an operator (+ - * / // %) or the end"
        )
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: \u{200B}4, kernel: 3}}]\n",
            "spec.yaml:2:21: error: expected a number, a $variable or '(' but found '\\u{200b}' in '\\u{200b}4'")
    }

    /// Block scalars are strings like quoted ones (they were refused as tagged), and may spread an
    /// expression over lines; a sequence or mapping as a key is refused as what it is; control
    /// characters from the file are escaped in messages, which stay one line each.
    @Test func blockScalarsComplexKeysAndControlCharacters() throws {
        let compiled = try compileInMemory([
            "spec.yaml": "input: [3, 8, 8]\nvars:\n  a: |\n    1 +\n    2\nstem: [{conv: {out: $a, kernel: 1}}]\n"
        ])
        #expect(compiled.graph.nodes.last?.shape == Shape([3, 8, 8]))
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\n? [a, b]\n: 1\n",
            "spec.yaml:3:3: error: expected a name as a mapping key, found a sequence")
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\n{a: 1}: 2\n",
            "spec.yaml:3:1: error: expected a name as a mapping key, found a mapping")
        Self.check(
            "input: [3, 8, 8]\nvars:\n  a: |\n    1 + @\nstem: [relu]\n",
            "spec.yaml:4:9: error: expected a number, a $variable or '(' but found '@' in '1 + @\\n'")
        Self.check(
            "extends: \"base\\e[31m.yaml\"\n",
            "spec.yaml:1:10: error: cannot read 'base\\u{1b}[31m.yaml': no such file")
    }

    /// An expression written over several lines is located where each character is in the file, not
    /// past the end of its first line: plain, block (`|`, `>`) and quoted scalars, line breaks `\r\n`.
    @Test func expressionsOverSeveralLinesAreLocatedInTheirLines() {
        let unknown = "error: unknown variable '$wdth'; known here: $w"
        func check(_ value: String, _ location: String, sourceLocation: SourceLocation = #_sourceLocation) {
            Self.check(
                "input: [3, 8, 8]\nvars: {w: 4}\nstem:\n  - conv:\n      out: \(value)\n      kernel: 1\n",
                "spec.yaml:\(location): \(unknown)", sourceLocation: sourceLocation)
        }
        check("$w *\n        2 + $wdth", "6:13")
        check("|\n        $w * 2\n          + $wdth", "7:13")
        check(">-\n        $w * 2 + $wdth", "6:18")
        check("\"$w * 2 +\n        $wdth\"", "6:9")
        check("\"$w * 2 + \\\n        $wdth\"", "6:9")
        check("'$w *\n\n        $wdth'", "7:9")
        check("\"$w + $wdth\"", "5:18")
        // Escapes are as long as they are written.
        check("\"\\x24w + \\u0024wdth\"", "5:21")
        Self.check(
            "input: [3, 8, 8]\r\nvars: {w: 4}\r\nstem:\r\n  - conv:\r\n      out: $w *\r\n        $wdth\r\n      kernel: 1\r\n",
            "spec.yaml:6:9: \(unknown)")
        // The arithmetic's errors at their operator, on its line.
        Self.check(
            "input: [3, 8, 8]\nvars: {w: 16}\nstem:\n  - conv:\n      out: 1 +\n        $w / 0\n      kernel: 1\n",
            "spec.yaml:6:12: error: division by zero")
        // Escapes that stand for blanks, and an anchor before the value.
        check("\"\\t$w *\\x20$wdth\"", "5:23")
        check("&o 2 * $wdth", "5:19")
        check("&o\n        2 * $wdth", "6:13")
        // A name cannot start with a digit: at the digit.
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 2 * $12x, kernel: 1}}]\n",
            "spec.yaml:2:26: error: expected a variable name after '$' (a name starts with a letter or '_') in '2 * $12x'"
        )
        // The end of an expression cut short is just past its last character, also where a block
        // scalar's text ends with line breaks.
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv:\n      out: |+\n        2 *\n\n      kernel: 1\n",
            "spec.yaml:5:12: error: expected a number, a $variable or '(' but found the end in '2 *\\n\\n'")
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - conv:\n      out: 16 *\n        (2 +\n      kernel: 1\n",
            "spec.yaml:5:13: error: expected a number, a $variable or '(' but found the end in '16 * (2 +'")
    }

    /// ONNX refuses a graph without a name, so the spec does too.
    @Test func emptyNetworkName() {
        Self.check(
            "network: \"\"\ninput: [3, 8, 8]\nstem: [relu]\n",
            "spec.yaml:1:10: error: the network's name is empty; expected a name after 'network:' (ONNX and the reports need one)"
        )
    }

    /// A block named "" left the reports' block column blank.
    @Test func emptyBlockName() {
        Self.check(
            "input: [4, 8, 8]\nblocks: {\"\": {body: [conv: {out: 4, kernel: 1}]}}\nstages: [{block: \"\", repeat: 2}]\n",
            "spec.yaml:2:10: error: the block's name is empty; expected a name (stages name their block, and the reports show it)"
        )
    }

    @Test func overrideOfAnUnknownVariable() {
        Self.check(
            "input: [3, 8, 8]\nvars: {width: 4}\nstem: [relu]\n", overrides: ["widht=8"],
            "<command line: --set widht=8>:1:7: error: --set names unknown variable 'widht'; the variables of 'spec.yaml' are: width; did you mean 'width'?"
        )
    }

    /// An error in the file caused by a value given with --set points at that --set, through the
    /// variables computed from it; not where the expression uses no overridden variable.
    @Test func errorsFromOverriddenValuesPointAtTheOverride() {
        let spec = """
            input: [3, 8, 8]
            vars: {depth: 14, n: ($depth - 2) / 4, width: 4}
            stem: [{conv: {out: $width, kernel: 3}}]
            stages: [{block: plain, repeat: $n}]
            blocks: {plain: {body: [relu]}}

            """
        Self.check(
            spec, overrides: ["depth=15"],
            """
            spec.yaml:2:35: error: 13 / 4 is not a whole number; use '//' to round down, or choose values that divide exactly
            <command line: --set depth=15>:1:1: note: 'depth' is 15 here, set by --set
            """)
        Self.check(
            spec, overrides: ["depth=-2", "width=2"],
            """
            spec.yaml:4:33: error: 'repeat' is -1; expected 0...10000
            <command line: --set depth=-2>:1:1: note: 'depth' is -2 here, set by --set
            """)
        Self.check(
            spec, overrides: ["width=0"],
            """
            spec.yaml:3:21: error: 'out' of conv is 0; expected 1...1048576
            <command line: --set width=0>:1:1: note: 'width' is 0 here, set by --set
            """)
    }

    @Test func malformedOverride() {
        let spec = "input: [3, 8, 8]\nvars: {width: 4}\nstem: [relu]\n"
        Self.check(
            spec, overrides: ["width"],
            "<command line: --set width>:1:1: error: --set expects NAME=VALUE with a number or expression as VALUE, found 'width'"
        )
        Self.check(
            spec, overrides: ["=8"],
            "<command line: --set =8>:1:1: error: --set expects NAME=VALUE with a number or expression as VALUE, found '=8'"
        )
        // Spaces around the name go; a zero-width space is part of it (it was trimmed, and set 'width').
        Self.check(
            spec, overrides: ["width\u{200B}=8"],
            "<command line: --set width\\u{200b}=8>:1:1: error: variable name 'width\\u{200b}' must be letters, digits and '_', starting with a letter or '_'"
        )
        #expect(diagnostics(Self.files(spec), overrides: [" width =8"]) == "(compiled without errors)")
        // A value the reports would print with a carriage return or a newline in it (tabs are spaces).
        Self.check(
            spec, overrides: ["width=4\r\r+1"],
            "<command line: --set width=4\\r\\r+1>:1:1: error: --set expects NAME=VALUE with a number or expression as VALUE, found 'width=4\\r\\r+1'"
        )
        #expect(diagnostics(Self.files(spec), overrides: ["width=4\t+ 1"]) == "(compiled without errors)")
        // A malformed value gets the expression parser's message, at its column in `--set name=value`.
        Self.check(
            spec, overrides: ["width=99999999999999999999"],
            "<command line: --set width=99999999999999999999>:1:13: error: arithmetic overflow: the value does not fit in 64 bits"
        )
        Self.check(
            spec, overrides: ["width=wide"],
            "<command line: --set width=wide>:1:13: error: expected a number, a $variable or '(' but found 'w' in 'wide'"
        )
        Self.check(
            spec, overrides: ["width=0x10"],
            "<command line: --set width=0x10>:1:14: error: unexpected 'x' in '0x10'; expected an operator (+ - * / // %) or the end"
        )
        Self.check(
            spec, overrides: ["width=(4"], "<command line: --set width=(4>:1:15: error: expected ')' in '(4'")
        // An error of the arithmetic at its operator.
        Self.check(
            spec, overrides: ["width=7/2"],
            "<command line: --set width=7/2>:1:14: error: 7 / 2 is not a whole number; use '//' to round down, or choose values that divide exactly"
        )
        // The override's own value is what loops, so the command line is blamed, not the spec.
        Self.check(
            spec, overrides: ["width=$width * 2"],
            "<command line: --set width=$width * 2>:1:1: error: variables depend on each other in a cycle: $width -> $width"
        )
    }

    // MARK: Blocks and stages

    @Test func unknownBlock() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basci, width: 4}\n",
            "spec.yaml:4:13: error: unknown block 'basci'; known blocks: basic; did you mean 'basic'?")
        Self.check(
            "input: [3, 8, 8]\nstages:\n  - {block: basic, width: 4}\n",
            "spec.yaml:3:13: error: unknown block 'basic'; known blocks: (none; did you forget 'include'?)")
    }

    @Test func unknownBlockArgument() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, widht: 8}\n",
            """
            spec.yaml:4:30: error: unknown key 'widht' in a stage: neither a stage key (name, block, repeat, stride, share) \
            nor an argument of block 'basic' (width); did you mean 'width'?
            lib/blocks.yaml:2:3: note: block 'basic' declared here
            """)
    }

    /// An argument the block does not take beside one it needs, a typo apart: one error about the pair,
    /// where two said "needs 'widht'" and "did you mean 'widht'?" (advice to misspell the stage too).
    @Test func aMisspeltBlockArgumentIsOneErrorAboutThePair() {
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  b:\n    args: {widht: required}\n    body: [{conv: {out: $widht, kernel: 1}}]\n"
                + "    merge: none\nstages: [{block: b, width: 4}]\n",
            """
            spec.yaml:7:21: error: the stage gives 'width', which block 'b' does not take, and not 'widht', which it needs: one of the two names is misspelt
            spec.yaml:4:12: note: argument 'widht' declared here
            """)
    }

    /// A misspelt required key is the unknown key it is, with "did you mean"; it was also called missing,
    /// two errors for one typo.
    @Test func aMisspeltRequiredKeyIsOneError() {
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernal: 3}}]\n",
            """
            spec.yaml:2:24: error: unknown key 'kernal' in the arguments of 'conv'; allowed keys are: name, out, kernel, stride, pad, groups, bias; did you mean 'kernel'?
            """)
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  b:\n    bdy: [relu]\nstages: [{block: b}]\n",
            """
            spec.yaml:4:5: error: unknown key 'bdy' in block 'b'; allowed keys are: args, pre, body, shortcut, merge, post; did you mean 'body'?
            """)
        // Another unknown key does not excuse a missing one.
        Self.check(
            "input: [3, 8, 8]\nstem: [{conv: {out: 4, size: 3}}]\n",
            """
            spec.yaml:2:9: error: 'conv' needs the key 'kernel'
            spec.yaml:2:24: error: unknown key 'size' in the arguments of 'conv'; allowed keys are: name, out, kernel, stride, pad, groups, bias
            """)
    }

    @Test func missingRequiredBlockArgument() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, repeat: 2}\n",
            """
            spec.yaml:4:13: error: block 'basic' needs the argument 'width'
            lib/blocks.yaml:3:12: note: argument 'width' declared here
            """)
        // Quoted, the keyword reads as written plain (it was taken for an expression, and refused).
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  b:\n    args: {w: 'required'}\n    body: [{conv: {out: $w, kernel: 1}}]\n"
                + "    merge: none\nstages: [{block: b}]\n",
            """
            spec.yaml:7:18: error: block 'b' needs the argument 'w'
            spec.yaml:4:12: note: argument 'w' declared here
            """)
    }

    @Test func identityShortcutWithAShapeChange() {
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              widen:
                args: {width: required}
                body:
                  - conv: {out: $width, kernel: 1}
                shortcut: identity
            stages:
              - {block: widen, width: 4}

            """,
            """
            spec.yaml:3:3: error: the block's body gives 4x8x8 but its identity shortcut gives 3x8x8; use a projection shortcut
            spec.yaml:9:5: note: in block 1 of stage 'stage1' (block 'widen')
            """)
    }

    @Test func duplicateStageNames() {
        Self.check(
            """
            include: lib/blocks.yaml
            input: [3, 8, 8]
            stages:
              - {name: early, block: basic, width: 4}
              - {name: early, block: basic, width: 8, stride: 2}

            """,
            """
            spec.yaml:5:12: error: stage name 'early' is used twice
            spec.yaml:4:12: note: previous definition is here
            """)
        // A name that clashes with a stage's automatic one says where that comes from.
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {name: stage2, block: basic, width: 4}\n"
                + "  - {block: basic, width: 4}\n",
            """
            spec.yaml:5:5: error: stage name 'stage2' is used twice
            spec.yaml:4:12: note: previous definition is here
            spec.yaml:5:5: note: 'stage2' is the automatic name of the stage in this place ('name:' gives it another)
            """)
    }

    /// A block a child defines again (an `extends` does not replace blocks) says it is a block, and why.
    @Test func aBlockDefinedAgainInAChildIsNamedAsABlock() {
        Self.check(
            "extends: base.yaml\nblocks:\n  b: {body: [relu]}\n",
            with: ["base.yaml": "input: [3, 8, 8]\nblocks:\n  b: {body: [relu]}\nstages: [{block: b}]\n"],
            """
            spec.yaml:3:3: error: block 'b' is defined more than once; a network's blocks, across the files it includes and extends, each have one definition (name this one otherwise)
            base.yaml:3:3: note: previous definition is here
            """)
    }

    @Test func duplicateLayerNamesInABlock() {
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              twice:
                body:
                  - conv: {name: reduce, out: 3, kernel: 1}
                  - conv: {name: reduce, out: 3, kernel: 1}
            stages:
              - {block: twice}

            """,
            """
            spec.yaml:6:22: error: the name 'reduce' is used twice in block 'twice'
            spec.yaml:5:22: note: previous definition is here
            """)
        // An automatic name (`conv1`) taken by an explicit one: the note says where the automatic name comes from.
        Self.check(
            """
            input: [3, 8, 8]
            blocks:
              twice:
                body:
                  - conv: {out: 3, kernel: 1}
                  - conv: {name: conv1, out: 3, kernel: 1}
            stages:
              - {block: twice}

            """,
            """
            spec.yaml:6:22: error: the name 'conv1' is used twice in block 'twice'
            spec.yaml:5:9: note: previous definition is here: 'conv1' is the automatic name of this 'conv' layer
            """)
    }

    // MARK: Sharing

    @Test func shareOfAnUnknownConvolution() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2, share: {conv3: all}}\n",
            """
            spec.yaml:4:49: error: block 'basic' has no convolution named 'conv3'; its convolutions are: conv1, conv2, \
            shortcut.conv1; did you mean 'conv1' or 'conv2'?
            lib/blocks.yaml:2:3: note: block 'basic' declared here
            """)
    }

    @Test func shareBlockIndexOutOfRange() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2, share: {conv2: [1, 3]}}\n",
            "spec.yaml:4:60: error: block 3 is out of range; the stage has blocks 1...2")
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 0, share: {conv2: [1]}}\n",
            "spec.yaml:4:57: error: block 1 is out of range; the stage has no blocks ('repeat' is 0)")
    }

    @Test func tieOfConvolutionsWithDifferentWeightShapesInOneStage() {
        // conv1 of the first block of a stride-2 stage reads the previous stage's 4 channels; the second block's reads 8.
        Self.check(
            """
            include: lib/blocks.yaml
            input: [3, 8, 8]
            stages:
              - {block: basic, width: 4}
              - {block: basic, width: 8, stride: 2, repeat: 2, share: {conv1: all}}

            """,
            """
            spec.yaml:5:67: error: tied convolutions must have identical weight shapes: tie 'stage2.conv1' has weight 8x4x3x3 \
            from stage2.block1.conv1, but stage2.block2.conv1 needs 8x8x3x3
            lib/blocks.yaml:5:9: note: stage2.block2.conv1 is this convolution
            spec.yaml:5:5: note: in block 2 of stage 'stage2' (block 'basic')
            """)
    }

    /// A tied convolution whose groups do not divide its input says so, as an untied one does; the tie
    /// reported a weight shape with a zero in it (4x0x3x3) instead.
    @Test func tiedConvolutionWithIndivisibleGroupsSaysSo() {
        let spec = """
            input: [4, 8, 8]
            blocks:
              d:
                body:
                  - conv: {out: 4, kernel: 3, pad: 1, groups: 4}
                  - conv: {out: 1, kernel: 1}
                merge: none
            stages:
              - {block: d, repeat: 2, share: {conv1: all}}
            """
        let expected = """
            spec.yaml:5:9: error: input channels 1 is not divisible by groups 4
            spec.yaml:9:5: note: in block 2 of stage 'stage1' (block 'd')
            """
        Self.check(spec, expected)
        Self.check(spec.replacingOccurrences(of: ", share: {conv1: all}", with: ""), expected)
    }

    /// Two layers whose paths meet in one name are an error at the second with a note at the first,
    /// whatever made the name: a parameter of both (a squeeze-excite named `shortcut`, whose `fc1` is
    /// then the shortcut's own `fc1`: an internal error at 1:1), or a layer and another's parameter (a
    /// shortcut's conv named `weight`: an ONNX model with two definitions of one name, or a stage named
    /// `shared` meeting a tie group's weight).
    @Test func namesThatMeetAreNamed() {
        func block(_ body: String, shortcut: String) -> String {
            """
            input: [8, 8, 8]
            blocks:
              blk:
                body: [conv: {out: 8, kernel: 3, pad: 1}, \(body)]
                shortcut: {layers: [\(shortcut)], when: always}
            stages: [{block: blk, repeat: 1}]
            """
        }
        let paths =
            "is also another's (paths meet where a layer is named as a section, a stage or a tie group is, as"
            + " 'shortcut'); rename one"
        let message = "a name this layer makes for itself or its parameters, \(paths)"
        Self.check(
            block(
                "{squeeze_excite: {name: shortcut, width: 4}}",
                shortcut: "conv: {name: fc1, out: 8, kernel: 1, bias: true}"),
            """
            spec.yaml:5:25: error: 'stage1.block1.shortcut.fc1.weight', \(message)
            spec.yaml:4:48: note: the other 'stage1.block1.shortcut.fc1.weight' is this layer's
            spec.yaml:6:10: note: in block 1 of stage 'stage1' (block 'blk')
            """)
        Self.check(
            block("{conv: {name: shortcut, out: 8, kernel: 1}}", shortcut: "conv: {name: weight, out: 8, kernel: 1}"),
            """
            spec.yaml:5:25: error: 'stage1.block1.shortcut.weight', \(message)
            spec.yaml:4:48: note: the other 'stage1.block1.shortcut.weight' is this layer's
            spec.yaml:6:10: note: in block 1 of stage 'stage1' (block 'blk')
            """)
        // A tie group's weight takes its name where the group is declared, in either order of meeting.
        let stages = [
            "- {block: b, repeat: 2, share: {weight: {group: block1}}}", "- {block: b, name: shared}"
        ]
        let tied = { (stages: [String]) in
            "input: [4, 8, 8]\nblocks:\n  b:\n    body: [{conv: {out: 4, kernel: 1, name: weight}}]\nstages:\n  "
                + stages.joined(separator: "\n  ") + "\n"
        }
        Self.check(
            tied(stages),
            """
            spec.yaml:4:13: error: 'shared.block1.weight', \(message)
            spec.yaml:6:51: note: the other 'shared.block1.weight' is the weight of tie group 'block1', declared here
            spec.yaml:7:5: note: in block 1 of stage 'shared' (block 'b')
            """)
        Self.check(
            tied(stages.reversed()),
            """
            spec.yaml:7:51: error: 'shared.block1.weight', the weight name of tie group 'block1', \(paths)
            spec.yaml:4:13: note: the other 'shared.block1.weight' is this layer's
            spec.yaml:7:5: note: in block 1 of stage 'stage2' (block 'b')
            """)
    }

    @Test func namedTieGroupAcrossStagesOfDifferentWidths() {
        Self.check(
            """
            include: lib/blocks.yaml
            input: [3, 8, 8]
            stages:
              - {block: basic, width: 4, repeat: 2, share: {conv2: {blocks: all, group: deep}}}
              - {block: basic, width: 8, repeat: 2, stride: 2, share: {conv2: {blocks: all, group: deep}}}

            """,
            """
            spec.yaml:5:88: error: tied convolutions must have identical weight shapes: tie 'deep' has weight 4x4x3x3 \
            from stage1.block1.conv2, but stage2.block1.conv2 needs 8x8x3x3
            spec.yaml:4:77: note: tie 'deep' takes its weight from stage1.block1.conv2, shared here
            lib/blocks.yaml:7:9: note: stage2.block1.conv2 is this convolution
            spec.yaml:5:5: note: in block 1 of stage 'stage2' (block 'basic')
            """)
    }

    /// Located as a shape disagreement is: at the share that brings the second use in (it was at the
    /// convolution, and left that share out).
    @Test func tiedConvolutionsDisagreeingOnBiasNameBothUses() {
        Self.check(
            """
            input: [3, 16, 16]
            blocks:
              plain:
                body: [{conv: {out: $in_channels, kernel: 3, pad: 1}}]
              biased:
                body: [{conv: {out: $in_channels, kernel: 3, pad: 1, bias: true}}]
            stem: [{conv: {out: 8, kernel: 1}}]
            stages:
              - {block: plain, share: {conv1: {group: g}}}
              - {block: biased, share: {conv1: {group: g}}}

            """,
            """
            spec.yaml:10:44: error: tied convolutions must agree on 'bias': tie 'g' has no bias from \
            stage1.block1.conv1, but stage2.block1.conv1 has one
            spec.yaml:9:43: note: tie 'g' takes its weight from stage1.block1.conv1, shared here
            spec.yaml:6:13: note: stage2.block1.conv1 is this convolution
            spec.yaml:10:5: note: in block 1 of stage 'stage2' (block 'biased')
            """)
    }

    @Test func shareSelectingOneBlockIsAWarning() throws {
        let compilation = try compileInMemory(
            Self.files(
                """
                include: lib/blocks.yaml
                input: [3, 8, 8]
                stages:
                  - {block: basic, width: 4, repeat: 2, share: {conv2: [2]}}

                """))
        #expect(
            compilation.warnings.map(\.rendered) == [
                "spec.yaml:4:56: warning: sharing 'conv2' in stage 'stage1' reaches fewer than two convolutions, so nothing is shared"
            ])
        #expect(compilation.graph.ties.isEmpty)
    }

    /// A misspelt variable in a spec that extends another, and a block argument none of the block's
    /// layers reads (a stage's stride then strode nothing), changed nothing and said nothing: warnings,
    /// with the name meant and the stage that sets the argument. The names that are read warn of nothing.
    /// Images written channels last compile (as many channels as rows, a map 3 pixels wide): a warning
    /// with the order meant. Three channels first, or a map as tall as it is channels, say nothing.
    @Test func anInputChannelsLastIsAWarning() throws {
        #expect(
            try compileInMemory(["spec.yaml": "input: [32, 32, 3]\nstem: [{conv: {out: 4, kernel: 1}}]\n"]).warnings
                .map(\.rendered) == [
                    "spec.yaml:1:8: warning: input [32, 32, 3] is 32 channels of 32 x 3 pixels: 'input' is [channels, height, width]; for 3-channel 32 x 32 images, write [3, 32, 32]"
                ])
        for input in ["[3, 32, 32]", "[32, 32, 32]", "[4, 4, 3]"] {
            #expect(try compileInMemory(["spec.yaml": "input: \(input)\nstem: [relu]\n"]).warnings.isEmpty)
        }
    }

    @Test func unusedVariablesAndBlockArgumentsAreWarnings() throws {
        let base = """
            input: [3, 8, 8]
            vars: {classes: 10, width: 4}
            blocks:
              plain:
                args: {width: required, stride: 1}
                body: [{conv: {out: $width, kernel: 3, pad: 1}}]
                merge: none
            stages: [{block: plain, width: $width}, {block: plain, width: 8, stride: 2}]
            head: [global_avgpool, {linear: {out: $classes}}]

            """
        let compilation = try compileInMemory(
            Self.files("extends: base.yaml\nvars: {clases: 100, depth: 3}\n", ["base.yaml": base]))
        #expect(
            compilation.warnings.map(\.rendered) == [
                """
                base.yaml:5:29: warning: block 'plain' takes the argument 'stride', but none of its layers reads $stride, so setting it changes nothing
                base.yaml:8:74: note: stage 'stage2' sets it here
                """,
                "spec.yaml:2:8: warning: variable 'clases' is never used: no expression reads $clases; did you mean 'classes'?",
                "spec.yaml:2:21: warning: variable 'depth' is never used: no expression reads $depth"
            ])
        #expect(
            try compileInMemory(Self.files(base.replacingOccurrences(of: "pad: 1", with: "pad: 1, stride: $stride")))
                .warnings.isEmpty)
    }

    /// Twenty warnings of a kind, then one that counts the rest: 20,000 unused variables, each compared
    /// with every used one for "did you mean", took 40 s, and flooded the terminal.
    @Test func unusedNamesPastTwentyAreCounted() throws {
        let names = (1...25).map { "v\($0)" }
        let spec = "input: [3, 8, 8]\nvars: {" + names.map { "\($0): 1" }.joined(separator: ", ") + "}\nstem: [relu]\n"
        let warnings = try compileInMemory(["spec.yaml": spec]).warnings.map(\.message)
        #expect(warnings.count == 21)
        #expect(warnings.first == "variable 'v1' is never used: no expression reads $v1")
        #expect(warnings.last == "5 more variables from here on are never used either (their warnings are left out)")
    }

    /// No warning where the variable is read, or is not this file's to drop: one whose reader `--set`
    /// replaced (`--set n=9` over `n: ($depth - 2) / 6`), a parent's that a child's own stages no longer
    /// read. A variable a block argument hides says so, where "no expression reads" was untrue.
    @Test func unusedVariableWarningsOnlyWhereTheFileCanDropIt() throws {
        let derived = "input: [3, 8, 8]\nvars: {depth: 8, n: $depth // 2}\nstem: [{conv: {out: $n, kernel: 1}}]\n"
        #expect(try compileInMemory(["spec.yaml": derived], overrides: ["n=4"]).warnings.isEmpty)
        let parent = "input: [3, 8, 8]\nvars: {width: 4}\nstem: [{conv: {out: $width, kernel: 1}}]\n"
        #expect(
            try compileInMemory(["spec.yaml": "extends: parent.yaml\nstem: [relu]\n", "parent.yaml": parent]).warnings
                .isEmpty)
        let hidden =
            "input: [3, 8, 8]\nvars: {w: 4}\nblocks: {b: {args: {w: 2}, body: [{conv: {out: $w, kernel: 1}}], merge: none}}\n"
            + "stages: [{block: b}]\n"
        #expect(
            try compileInMemory(["spec.yaml": hidden]).warnings.map(\.message) == [
                "variable 'w' is never used: $w in block 'b' reads the block's own argument 'w', which a stage gives (or its default)"
            ])
    }

    /// Stochastic depth outside a block's body has no residual branch to drop (the PyTorch export makes
    /// it an identity): a warning where it is written, not silence.
    @Test func stochasticDepthOutsideABodyIsAWarning() throws {
        let compilation = try compileInMemory(
            Self.files(
                """
                input: [2, 4, 4]
                blocks:
                  b:
                    pre: [{stochastic_depth: {p: 0.5}}]
                    body: [{conv: {out: 2, kernel: 1}}, {stochastic_depth: {p: 0.5}}]
                    shortcut: {layers: [{stochastic_depth: {p: 0.5}}], when: always}
                    post: [{stochastic_depth: {p: 0.5}}]
                stem: [{stochastic_depth: {p: 0.5}}]
                stages: [{block: b}]

                """))
        let problem = "does nothing: it drops a block's residual branch, so it belongs at the end of a block's body"
        #expect(
            compilation.warnings.map(\.rendered) == [
                "spec.yaml:4:12: warning: stochastic_depth in the pre layers of block 'b' \(problem)",
                "spec.yaml:6:26: warning: stochastic_depth in the shortcut of block 'b' \(problem)",
                "spec.yaml:7:13: warning: stochastic_depth in the post layers of block 'b' \(problem)",
                "spec.yaml:8:9: warning: stochastic_depth in the stem \(problem)"
            ])
    }

    /// A block without a residual merge has no branch to drop: stochastic depth in its body does nothing
    /// (the PyTorch export makes it an identity), where it had no warning, or advice to move it.
    @Test func stochasticDepthInABlockWithoutAResidualIsAWarning() throws {
        let compilation = try compileInMemory(
            Self.files(
                "input: [2, 4, 4]\nblocks: {b: {body: [{stochastic_depth: {p: 0.5}}, {conv: {out: 2, kernel: 1, bias: true}}], "
                    + "merge: none}}\nstages: [{block: b}]\n"))
        #expect(
            compilation.warnings.map(\.rendered) == [
                "spec.yaml:2:22: warning: stochastic_depth in block 'b' does nothing: the block has no residual branch to drop (merge: none)"
            ])
    }

    /// In a body, before a layer that makes something of nothing (a batchnorm's shift, a bias, a
    /// sigmoid's one half), a dropped sample's branch still adds that: the PyTorch export's training
    /// dropped nothing. Layers that keep zero zero (a ReLU, a bias-free convolution) may follow.
    @Test func stochasticDepthBeforeAnOffsetIsAWarning() throws {
        func warnings(_ body: String) throws -> [String] {
            try compileInMemory(
                Self.files("input: [2, 4, 4]\nblocks: {b: {body: \(body)}}\nstages: [{block: b, repeat: 2}]\n")
            ).warnings.map(\.rendered)
        }
        let drop = "{stochastic_depth: {p: 0.5}}"
        #expect(
            try warnings("[{conv: {out: 2, kernel: 1}}, \(drop), relu, batchnorm]") == [
                """
                spec.yaml:2:51: warning: stochastic_depth in the body of block 'b' comes before a batchnorm, which gives a dropped branch a value other than zero; put it at the end of the body
                spec.yaml:2:86: note: this batchnorm does not keep a zero input zero
                """
            ])
        #expect(try warnings("[\(drop), {conv: {out: 2, kernel: 1, bias: true}}]").count == 1)
        #expect(try warnings("[\(drop), sigmoid]").count == 1)
        #expect(try warnings("[batchnorm, \(drop), relu, {conv: {out: 2, kernel: 3, pad: 1}}, layer_scale]").isEmpty)
    }
}

/// How diagnostics are printed: in source order, and bounded, so that a small hostile file cannot make
/// names, lines of output or the number of diagnostics large.
struct DiagnosticOutputTests {
    /// U+0085, U+2028 and U+2029 are not line breaks (YAML 1.2, and every editor): libyaml counted
    /// them, so every later line number was one too far, and one in a comment ended the comment.
    @Test func onlyNewlinesBreakLines() throws {
        for separator in ["\u{85}", "\u{2028}", "\u{2029}"] {
            DiagnosticsTests.check(
                "network: d  # a\(separator)b\ndescription: \"a\(separator)b\"\ninput: [3, 8, 8]\nstem:\n  - relux\n",
                "spec.yaml:5:5: error: unknown layer kind 'relux'; the kinds are: conv, batchnorm, relu, maxpool, avgpool, "
                    + "global_avgpool, flatten, linear, dropout, subsample_pad, depthwise, relu6, silu, hardswish, gelu, "
                    + "sigmoid, squeeze_excite, layernorm, layer_scale, stochastic_depth; did you mean 'relu' or 'relu6'?"
            )
            // Values keep the character.
            let root = try YAMLReader.read("a: \"x\(separator)y\"\nb: 1\n", file: "t.yaml")
            guard case .mapping(let pairs) = root?.value else {
                Issue.record("not a mapping")
                continue
            }
            #expect(pairs.map(\.value.scalar) == ["x\(separator)y", "1"])
            #expect(pairs[1].key.location == Location(file: "t.yaml", line: 2, column: 1))
        }
    }

    /// The passes find errors in their own order (the head's layers before the blocks'); they are
    /// printed by line and column.
    @Test func inSourceOrder() {
        DiagnosticsTests.check(
            "input: [3, 8, 8]\nstem: [conv: {out: 4, kernel: 1, name: add}]\nblocks: {b: {body: [relu: {name: add}]}}\n"
                + "stages: [{block: b}]\nhead: [relu: {name: add}]\n",
            """
            spec.yaml:2:40: error: 'add' names the block's residual merge; choose another layer name
            spec.yaml:3:34: error: 'add' names the block's residual merge; choose another layer name
            spec.yaml:5:21: error: 'add' names the block's residual merge; choose another layer name
            """)
    }

    /// A name is at most 256 characters: every layer's and parameter's name repeats it.
    @Test func longNamesAreRefused() {
        let name = String(repeating: "n", count: 300)
        DiagnosticsTests.check(
            "input: [3, 8, 8]\nblocks: {b: {body: [relu: {name: \(name)}]}}\nstages: [{block: b}]\n",
            "spec.yaml:2:34: error: layer name of 300 characters is too long; names have at most 256")
        // Characters as a reader counts them: 256 accented letters written with combining marks pass.
        let accented = String(repeating: "e\u{301}", count: 256)
        DiagnosticsTests.check(
            "input: [3, 8, 8]\nblocks: {b: {body: [relu: {name: \(accented)}]}}\nstages: [{block: b}]\n",
            "(compiled without errors)")
        // A key past the 1024 characters YAML reads as one, at the key, not libyaml's "mapping values
        // are not allowed" at its colon.
        let key = String(repeating: "k", count: 1100)
        DiagnosticsTests.check(
            "input: [3, 8, 8]\nvars:\n  \(key): 1\nstem: [relu]\n",
            "spec.yaml:3:3: error: key name of 1100 characters is too long; names have at most 256")
        DiagnosticsTests.check(
            "input: [3, 8, 8]\nvars: {\(key): 1}\nstem: [relu]\n",
            "spec.yaml:2:8: error: key name of 1100 characters is too long; names have at most 256")
    }

    /// The first hundred diagnostics, then how many more; a long line loses its middle, and a word
    /// far longer than any known name gets no suggestion (comparing it took minutes).
    @Test func outputIsBounded() {
        let word = String(repeating: "x", count: 5000) + "conv"
        let failure = CompileFailure(
            (1...150).map {
                Diagnostic(
                    at: Location(file: "spec.yaml", line: $0, column: 1), .unknownLayerKind(word, known: ["conv"]))
            })
        let lines = failure.description.split(separator: "\n")
        #expect(lines.count == 101)
        #expect(lines.last == "(50 more diagnostics not shown: fix the ones above first)")
        #expect(lines.dropLast().allSatisfy { $0.count < Diagnostic.longestLine + 60 })
        #expect(lines[0].contains(" characters left out) ... "))
        #expect(!lines[0].contains("did you mean"))
    }

    /// A long path loses its middle at each place it is quoted, and the words between stay whole: the
    /// reason after it was cut away with the line's middle.
    @Test func longPathsKeepTheReason() {
        let directory = "nosuch/" + String(repeating: "d", count: 600), path = directory + "/w.safetensors"
        let line = Diagnostic(
            at: Location(file: path, line: 1, column: 1),
            .cannotWrite(path: path, reason: "no such directory '\(directory)'")
        ).rendered
        #expect(line.count < Diagnostic.longestLine)
        #expect(line.contains("/w.safetensors:1:1: error: cannot write 'nosuch/ddd"))
        #expect(line.contains("/w.safetensors': no such directory 'nosuch/ddd"))
        #expect(line.components(separatedBy: " characters left out) ... ").count == 4)
    }

    /// An included file's unknown key lists what a library may hold.
    @Test func unknownKeyInALibrary() {
        DiagnosticsTests.check(
            "include: lib.yaml\ninput: [3, 8, 8]\nstem: [relu]\n", with: ["lib.yaml": "blockz: {}\n"],
            "lib.yaml:1:1: error: unknown key 'blockz' in the library; allowed keys are: description, include, vars, blocks, layers; did you mean 'blocks'?"
        )
    }
}
