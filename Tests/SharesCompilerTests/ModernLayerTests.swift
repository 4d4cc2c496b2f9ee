import Testing

@testable import SharesCompiler

/// The layer kinds and block features of the modern families, as the front end sees them: what each
/// lowers to, the parameters it creates, and the errors for values it refuses.
struct ModernLayerTests {
    func graph(_ spec: String) throws -> Graph { try compileInMemory(["spec.yaml": spec]).graph }

    func node(_ graph: Graph, _ name: String) -> GraphNode? { graph.nodes.first { $0.name == name } }

    @Test func depthwiseIsAConvolutionWithOneGroupPerChannel() throws {
        let g = try graph(
            "input: [6, 9, 9]\nstem: [depthwise: {kernel: 5, stride: 2}, depthwise: {kernel: 3, bias: true}]\n")
        guard case .conv(let strided)? = node(g, "stem.dwconv1")?.op,
            case .conv(let plain)? = node(g, "stem.dwconv2")?.op
        else {
            Issue.record("depthwise did not lower to conv")
            return
        }
        // Padding (kernel - 1) / 2 keeps the size at stride 1 and halves it (rounding up) at stride 2.
        #expect((strided.outChannels, strided.groups, strided.padding, strided.stride) == (6, 6, 2, 2))
        #expect(node(g, "stem.dwconv1")?.shape == Shape([6, 5, 5]))
        #expect(node(g, "stem.dwconv2")?.shape == Shape([6, 5, 5]))
        #expect(g[strided.weight].shape == [6, 1, 5, 5] && strided.bias == nil)
        #expect(g[plain.bias!].shape == [6])
    }

    @Test func depthwiseConvolutionsCanBeTied() throws {
        let g = try graph(
            """
            input: [4, 8, 8]
            blocks:
              dw:
                body: [depthwise: {kernel: 3}, batchnorm]
            stages:
              - {block: dw, repeat: 3, share: {dwconv1: all}}
            """)
        #expect(g.ties.map(\.name) == ["stage1.dwconv1"])
        #expect(g[g.ties[0].weight].name == "stage1.shared.dwconv1.weight")
        #expect(g[g.ties[0].weight].shape == [4, 1, 3, 3])
    }

    @Test func builtInBlockVariables() throws {
        let g = try graph(
            """
            input: [3, 8, 8]
            blocks:
              grow:
                args: {twice: $in_channels * 2}
                body: [conv: {out: $twice + $block_number, kernel: 1}]
                merge: none
            stages:
              - {block: grow, repeat: 3}
            """)
        // 3 -> 3*2+1 = 7 -> 7*2+2 = 16 -> 16*2+3 = 35.
        #expect(g.nodes.filter { $0.name.hasSuffix(".conv1") }.map(\.shape.channels) == [7, 16, 35])
        #expect(
            diagnostics([
                "spec.yaml":
                    "input: [3, 8, 8]\nblocks:\n  b:\n    args: {in_channels: 1}\n    body: [relu]\nstages: [{block: b}]\n"
            ])
                == "spec.yaml:4:12: error: 'in_channels' is set by the compiler in every block (see 'Block templates' in the language reference) and cannot be a block argument"
        )
    }

    @Test func addIfSameShapeKeepsTheResidualOnlyWhereTheShapeIsKept() throws {
        let g = try graph(
            """
            input: [4, 8, 8]
            blocks:
              inverted:
                args: {width: required, stride: 1}
                body: [conv: {out: $width, kernel: 3, stride: $stride, pad: 1}, batchnorm]
                shortcut: [conv: {out: $width, kernel: 1}]
                merge: add-if-same-shape
            stages:
              - {block: inverted, width: 4, repeat: 2}
              - {block: inverted, width: 8, repeat: 2, stride: 2}
            """)
        let adds = g.nodes.filter { if case .add = $0.op { return true } else { return false } }.map(\.name)
        // stage2.block1 changes width and size: no residual, and its shortcut is never built.
        #expect(adds == ["stage1.block1.add", "stage1.block2.add", "stage2.block2.add"])
        #expect(!g.nodes.contains { $0.name.hasPrefix("stage2.block1.shortcut") })
        #expect(
            diagnostics([
                "spec.yaml":
                    "input: [3, 8, 8]\nblocks:\n  b:\n    body: [relu]\n    merge: add-if-same\nstages: [{block: b}]\n"
            ])
                == "spec.yaml:5:12: error: expected 'merge' to be 'add', 'add-if-same-shape' or 'none', found 'add-if-same'; did you mean 'add' or 'add-if-same-shape'?"
        )
    }

    @Test func squeezeExcitationParametersAndMACs() throws {
        let compilation = try compileInMemory([
            "spec.yaml": "input: [16, 5, 5]\nstem: [squeeze_excite: {width: 16 // 4, activation: silu}]\n"
        ])
        let g = compilation.graph
        guard case .squeezeExcite(let se)? = node(g, "stem.se1")?.op else {
            Issue.record("no squeeze_excite node")
            return
        }
        #expect(se.squeezeChannels == 4 && se.activation == .silu)
        #expect(
            g.parameters.map { "\($0.name) \($0.shape)" } == [
                "stem.se1.fc1.weight [4, 16, 1, 1]", "stem.se1.fc1.bias [4]", "stem.se1.fc2.weight [16, 4, 1, 1]",
                "stem.se1.fc2.bias [16]"
            ])
        #expect(compilation.report.parameters.total == 4 * 16 + 4 + 16 * 4 + 16)
        // Two 1x1 convolutions on one pixel each.
        #expect(compilation.report.macs == 2 * 16 * 4)
        #expect(
            diagnostics(["spec.yaml": "input: [16, 5, 5]\nstem: [squeeze_excite: {width: 4, activation: siLU}]\n"])
                == "spec.yaml:2:47: error: expected 'activation' to be 'relu' or 'silu', found 'siLU'; did you mean 'silu'?"
        )
        #expect(
            diagnostics(["spec.yaml": "input: [16, 5, 5]\nstem: [squeeze_excite: {width: 4, activation: [relu]}]\n"])
                == "spec.yaml:2:47: error: expected 'activation' to be 'relu' or 'silu', found a list")
        #expect(
            diagnostics(["spec.yaml": "input: [4, 5, 5]\nstem: [linear: {out: 4}, squeeze_excite: {width: 2}]\n"])
                == "spec.yaml:2:26: error: stem.se1 needs an image input (channels x height x width), found 4")
    }

    @Test func normalisationScaleAndStochasticDepth() throws {
        let compilation = try compileInMemory([
            "spec.yaml":
                "input: [8, 4, 4]\nstem: [layernorm: {eps: 1e-6}, layer_scale: {init: 0.5}, stochastic_depth: {p: 0.25}, gelu]\n"
        ])
        let g = compilation.graph
        #expect(g.parameters.map(\.name) == ["stem.ln1.weight", "stem.ln1.bias", "stem.layer_scale1.weight"])
        #expect(g.parameters.allSatisfy { $0.shape == [8] && $0.role.isTrainable })
        #expect(compilation.report.parameters.total == 24 && compilation.report.macs == 0)
        guard case .layerNorm(let norm)? = node(g, "stem.ln1")?.op,
            case .layerScale(let scale)? = node(g, "stem.layer_scale1")?.op,
            case .stochasticDepth(let rate)? = node(g, "stem.drop_path1")?.op
        else {
            Issue.record("unexpected ops")
            return
        }
        #expect(norm.epsilon == 1e-6 && scale.initial == 0.5 && rate == 0.25)
        // The layer scale starts at its `init` in the generated weights.
        let weights = WeightInitializer.initialize(g, options: InitOptions(seed: 1))
        #expect(weights[scale.weight].allSatisfy { $0 == 0.5 })
        #expect(
            diagnostics(["spec.yaml": "input: [8, 4, 4]\nstem: [stochastic_depth: {p: 1}]\n"])
                == "spec.yaml:2:30: error: stochastic_depth 'p' must be in [0, 1), found 1")
        #expect(
            diagnostics(["spec.yaml": "input: [8, 4, 4]\nstem: [layernorm: {eps: 0}]\n"])
                == "spec.yaml:2:25: error: expected 'eps' greater than 0, found 0")
        #expect(
            diagnostics(["spec.yaml": "input: [8, 4, 4]\nstem: [stochastic_depth]\n"])
                == "spec.yaml:2:8: error: 'stochastic_depth' needs the key 'p'")
    }

    @Test func activationsAreNamedAfterTheirKind() throws {
        let g = try graph("input: [2, 3, 3]\nstem: [relu6, relu6, silu, hardswish, gelu, sigmoid]\n")
        #expect(
            g.nodes.dropFirst().map { "\($0.name) \($0.op.mnemonic)" } == [
                "stem.relu6_1 relu6", "stem.relu6_2 relu6", "stem.silu1 silu", "stem.hardswish1 hardswish",
                "stem.gelu1 gelu", "stem.sigmoid1 sigmoid"
            ])
    }
}
