import Testing

@testable import SharesCompiler

/// How specs combine: defaults, extends and include precedence, share overlays, naming rules.
struct SpecSemanticsTests {
    static let library = DiagnosticsTests.library

    func graph(_ files: [String: String], main: String = "spec.yaml", overrides: [String] = []) throws -> Graph {
        try compileInMemory(files, main: main, overrides: overrides).graph
    }

    func strides(_ graph: Graph, _ suffix: String) -> [Int] {
        graph.nodes.compactMap { node in
            guard node.name.hasSuffix(suffix), case .conv(let conv) = node.op else { return nil }
            return conv.stride
        }
    }

    @Test func blockStrideDefaultAppliesWhenTheStageGivesNone() throws {
        let files = [
            "spec.yaml": """
            input: [3, 16, 16]
            blocks:
              down:
                args: {stride: 2}
                body: [conv: {out: 4, kernel: 1, stride: $stride}]
                merge: none
            stages:
              - {block: down, repeat: 2}
              - {block: down, repeat: 2, stride: 1}
            """
        ]
        // Stage 1 keeps the block's default on every block; stage 2's stride goes to block 1 only.
        #expect(strides(try graph(files), ".conv1") == [2, 2, 1, 1])
    }

    @Test func requiredStrideMustBeGiven() {
        let files = [
            "spec.yaml": """
            input: [3, 16, 16]
            blocks:
              down:
                args: {stride: required}
                body: [conv: {out: 4, kernel: 1, stride: $stride}]
                merge: none
            stages:
              - {block: down, repeat: 2}
            """
        ]
        #expect(
            diagnostics(files) == """
                spec.yaml:8:13: error: block 'down' needs the argument 'stride'
                spec.yaml:4:12: note: argument 'stride' declared here
                """)
    }

    @Test func numbersWithExponentsAndFlooredRemainder() throws {
        let spec = """
            input: [3, 4, 4]
            vars: {m: -7 % 2, f: -7 // 2}
            stem: [batchnorm: {eps: 1e-5}, conv: {out: OUT, kernel: 1}]
            """
        let g = try graph(["spec.yaml": spec.replacing("OUT", with: "$m - $f")])
        guard case .batchNorm(let bn) = g.nodes[1].op else {
            Issue.record("expected batchnorm")
            return
        }
        #expect(bn.epsilon == 1e-5)
        // Floored together: -7 // 2 == -4 and -7 % 2 == 1, so out = 1 - (-4) = 5.
        #expect(g.nodes[2].shape == Shape([5, 4, 4]))
        // A real number (1e0) makes the result real, and sizes must be whole.
        #expect(
            diagnostics(["spec.yaml": spec.replacing("OUT", with: "4 * 1e0")])
                == "spec.yaml:3:44: error: 'out' of conv must be an integer (written without a decimal point or exponent), found the real 4.0"
        )
    }

    @Test func singleUseTieIsDroppedAndNamedAfterItsLayer() throws {
        let files = [
            "spec.yaml":
                "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 4, repeat: 2, share: {shortcut.conv1: all}}\n",
            "lib/blocks.yaml": Self.library
        ]
        let compilation = try compileInMemory(files)
        #expect(compilation.graph.ties.isEmpty)
        #expect(
            compilation.graph.parameters.contains { $0.name == "stage1.block1.shortcut.conv1.weight" && $0.tie == nil })
        #expect(!compilation.graph.parameters.contains { $0.name.contains("shared") })
        #expect(
            compilation.warnings.map(\.rendered) == [
                "spec.yaml:4:65: warning: sharing 'shortcut.conv1' in stage 'stage1' reaches fewer than two convolutions, so nothing is shared"
            ])
    }

    @Test func shareThatSelectsNoBlockWarns() throws {
        let files = [
            "spec.yaml":
                "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages:\n  - {block: basic, width: 3, repeat: 1, share: {conv2: after-first}}\n",
            "lib/blocks.yaml": Self.library
        ]
        #expect(try compileInMemory(files).warnings.count == 1)
        #expect(try compileInMemory(files, sequential: true).warnings.isEmpty)
    }

    static let parent = """
        network: parent
        include: lib/blocks.yaml
        input: [3, 8, 8]
        vars: {w: 4}
        stages:
          - {block: basic, width: $w, repeat: 3}
        share:
          stage1: {conv2: all}
        """

    @Test func childWithoutNetworkIsNamedAfterItsFile() throws {
        let files = [
            "parent.yaml": Self.parent, "child-net.yaml": "extends: parent.yaml\nvars: {w: 8}\n",
            "lib/blocks.yaml": Self.library
        ]
        let g = try graph(files, main: "child-net.yaml")
        #expect(g.network == "child-net")
        #expect(g.ties.count == 1)  // the parent's share applies to the parent's stages
        #expect(g.nodes.last?.shape == Shape([8, 8, 8]))
    }

    @Test func replacingStagesDropsTheParentsShares() throws {
        let child = "extends: parent.yaml\nstages:\n  - {name: trunk, block: basic, width: 4, repeat: 3}\n"
        let files = ["parent.yaml": Self.parent, "child.yaml": child, "lib/blocks.yaml": Self.library]
        #expect(try graph(files, main: "child.yaml").ties.isEmpty)
    }

    @Test func childLibrariesOverrideParentLibraries() throws {
        let files = [
            "parent.yaml": Self.parent.replacing("vars: {w: 4}\n", with: ""),
            "child.yaml": "extends: parent.yaml\ninclude: lib/wide.yaml\n",
            "lib/blocks.yaml": Self.library + "vars: {w: 4}\n",
            "lib/wide.yaml": "vars: {w: 16}\n"
        ]
        #expect(try graph(files, main: "child.yaml").nodes.last?.shape == Shape([16, 8, 8]))
    }

    @Test func namingRules() {
        let base = "include: lib/blocks.yaml\ninput: [3, 8, 8]\n"
        let files = { (spec: String) in ["spec.yaml": base + spec, "lib/blocks.yaml": Self.library] }
        #expect(
            diagnostics(
                files(
                    "stages:\n  - {block: basic, width: 4, repeat: 2, share: {conv2: {blocks: all, group: stage1.conv2}}}\n"
                ))
                == "spec.yaml:4:77: error: tie group name 'stage1.conv2' must be a non-empty name without '.'")
        #expect(
            diagnostics(files("vars: {my-width: 4}\nstages: []\nstem: [relu]\n"))
                == "spec.yaml:3:8: error: variable name 'my-width' must be letters, digits and '_', starting with a letter or '_'"
        )
        // A block argument too: one that no `$name` can read (`℘` is a symbol, not a letter) was accepted.
        #expect(
            diagnostics(files("blocks:\n  b: {args: {℘: 1}, body: [relu]}\nstages: [{block: b, repeat: 1}]\n"))
                == "spec.yaml:4:14: error: variable name '℘' must be letters, digits and '_', starting with a letter or '_'"
        )
        // An accent as a combining mark after its letter (as some systems write `é`) is part of the name,
        // which reads as the same name written precomposed; a mark cannot start a name.
        #expect(
            diagnostics(files("vars: {\"cafe\\u0301\": 4}\nstem: [{conv: {out: $café, kernel: 3}}]\n"))
                == "(compiled without errors)")
        #expect(
            diagnostics(files("vars: {\"\\u0301a\": 4}\nstem: [relu]\n"))
                == "spec.yaml:3:8: error: variable name '\u{301}a' must be letters, digits and '_', starting with a letter or '_'"
        )
        #expect(
            diagnostics(files("vars: {a: 4}\nstem: [{conv: {out: \"$\\u0301a\", kernel: 3}}]\n"))
                == "spec.yaml:4:23: error: expected a variable name after '$' (a name starts with a letter or '_') in '$\u{301}a'"
        )
        #expect(
            diagnostics(files("stem: [relu: {name: add}]\n"))
                == "spec.yaml:3:21: error: 'add' names the block's residual merge; choose another layer name")
    }
}
