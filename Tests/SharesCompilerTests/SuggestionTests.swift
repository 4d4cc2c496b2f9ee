import Testing

@testable import SharesCompiler

/// "Did you mean": every kind of misspelt name gets the close known names, from one shared function,
/// and a name close to nothing gets none.
@Suite("Suggestions", .timeLimit(.minutes(1)))
struct SuggestionTests {
    static func check(
        _ spec: String, with more: [String: String] = [:], _ expected: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        DiagnosticsTests.check(spec, with: more, expected, sourceLocation: sourceLocation)
    }

    @Test func closeMeansATypoAway() {
        #expect(Suggestion.closest(to: "repaet", among: SpecParser.stageKeys) == ["repeat"])  // a swap is one edit
        #expect(Suggestion.closest(to: "Stages", among: ["stem", "stages"]) == ["stages"])  // case is no edit
        #expect(Suggestion.closest(to: "conv3", among: ["conv1", "conv2", "shortcut.conv1"]) == ["conv1", "conv2"])
        #expect(Suggestion.closest(to: "padding", among: ["out", "kernel", "pad"]) == ["pad"])  // a prefix
        #expect(Suggestion.closest(to: "kernal_size", among: ["out", "kernel", "pad"]) == [])
        #expect(Suggestion.closest(to: "x", among: ["w", "y"]) == [])  // two letters or fewer: no guessing
        #expect(Suggestion.closest(to: "width", among: ["width"]) == [])
        #expect(Suggestion.editDistance("kitten", "sitting", limit: 5) == 3)
        #expect(Suggestion.editDistance("kitten", "sitting", limit: 1) == 2)  // stopped past the limit
        #expect(Suggestion.editDistance("", "abc", limit: 5) == 3)
        #expect(Suggestion.clause(for: "head", among: ["stage1", "stem"]) == "")
        #expect(Suggestion.clause(for: "stag", among: ["stage1", "stem"]) == "; did you mean 'stage1'?")  // begins it
        #expect(Suggestion.clause(for: "stagee1", among: ["stage1"]) == "; did you mean 'stage1'?")
    }

    @Test func topLevelKeyWithNothingClose() {
        Self.check(
            "input: [3, 8, 8]\nstem: [relu]\nnetwrok_size: 3\n",
            """
            spec.yaml:3:1: error: unknown key 'netwrok_size' in the spec; allowed keys are: network, description, \
            include, extends, input, vars, stem, stages, head, blocks, layers, share
            """)
    }

    /// A stage holds its own keys and its block's arguments: the message names both, and suggests from both.
    @Test func misspeltStageKeyWithANumber() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repaet: 2}\n",
            """
            spec.yaml:4:30: error: unknown key 'repaet' in a stage: neither a stage key (name, block, repeat, stride, \
            share) nor an argument of block 'basic' (width); did you mean 'repeat'?
            lib/blocks.yaml:2:3: note: block 'basic' declared here
            """)
    }

    /// A value no block argument can take: the parser knows it is a misspelt stage key.
    @Test func misspeltStageKeyWithAMappingOrAName() {
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, shrae: {conv2: all}}\n",
            """
            spec.yaml:4:30: error: unknown key 'shrae' in a stage: not a stage key (name, block, repeat, stride, share), \
            nor a block argument, whose value would be a number or expression, not a mapping; did you mean 'share'?
            """)
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {blokc: basic, width: 4}\n",
            """
            spec.yaml:4:5: error: stage 1 needs the key 'block'
            spec.yaml:4:6: error: unknown key 'blokc' in a stage: not a stage key (name, block, repeat, stride, share), \
            nor a block argument, whose value would be a number or expression, not 'basic'; did you mean 'block'?
            """)
    }

    @Test func misspeltLayerKind() {
        Self.check(
            "input: [3, 8, 8]\nstem:\n  - cnov: {out: 4, kernel: 3}\n",
            """
            spec.yaml:3:5: error: unknown layer kind 'cnov'; the kinds are: conv, batchnorm, relu, maxpool, avgpool, \
            global_avgpool, flatten, linear, dropout, subsample_pad, depthwise, relu6, silu, hardswish, gelu, sigmoid, \
            squeeze_excite, layernorm, layer_scale, stochastic_depth; did you mean 'conv'?
            """)
    }

    @Test func misspeltLayerList() {
        Self.check(
            "include: lib/lists.yaml\ninput: [3, 8, 8]\nstem: small_stme\nhead: [relu]\n",
            with: ["lib/lists.yaml": "layers:\n  small_stem: [relu]\n  small_head: [flatten]\n"],
            """
            spec.yaml:3:7: error: unknown layer list 'small_stme'; expected a list of layers or one of: small_head, \
            small_stem; did you mean 'small_stem'?
            """)
    }

    @Test func misspeltShareTargets() {
        // The convolution of a stage's share.
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2, share: {cnov2: all}}\n",
            """
            spec.yaml:4:49: error: block 'basic' has no convolution named 'cnov2'; its convolutions are: conv1, conv2, \
            shortcut.conv1; did you mean 'conv2'?
            lib/blocks.yaml:2:3: note: block 'basic' declared here
            """)
        // The stage of a top-level share.
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2}\nshare:\n  stag1: {conv2: all}\n",
            "spec.yaml:6:3: error: unknown stage 'stag1'; stages are: stage1; did you mean 'stage1'?")
        // Which blocks.
        Self.check(
            "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2, share: {conv2: after-frist}}\n",
            """
            spec.yaml:4:56: error: expected 'all', 'after-first', 'none' or a list of block numbers, found 'after-frist'; \
            did you mean 'after-first'?
            """)
    }

    @Test func misspeltWordsOfABlock() {
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  plain: {body: [relu], merge: nnoe}\nstages:\n  - {block: plain}\n",
            "spec.yaml:3:32: error: expected 'merge' to be 'add', 'add-if-same-shape' or 'none', found 'nnoe'; did you mean 'none'?"
        )
        // An empty value lists the words too.
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  plain: {body: [relu], merge: ~}\nstages:\n  - {block: plain}\n",
            "spec.yaml:3:32: error: expected 'merge' to be 'add', 'add-if-same-shape' or 'none', found an empty value")
        Self.check(
            "input: [3, 8, 8]\nblocks:\n  plain: {body: [relu], shortcut: {layers: [relu], when: alwasy}}\nstages:\n  - {block: plain}\n",
            "spec.yaml:3:58: error: expected 'when' to be 'changed' or 'always', found 'alwasy'; did you mean 'always'?"
        )
    }
}
