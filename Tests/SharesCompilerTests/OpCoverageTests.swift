import Foundation
import Testing

@testable import SharesCompiler

/// Adding a layer kind is a known list of places (docs/adding-an-op.md). This suite fails when one of
/// the places a compiler cannot see is missed: the language reference, a network exercising the kind
/// through both reference interpreters (the Swift one over the graph, run against the executor; the
/// Python one over the ONNX export, which must know every op the exporter writes).
struct OpCoverageTests {
    /// One small network per layer kind, the kind after a 1x1 convolution and before a linear head.
    static let layers: [LayerKind: String] = [
        .conv: "conv: {out: 6, kernel: 3, stride: 2, pad: 1, groups: 2, bias: true}",
        .batchnorm: "batchnorm",
        .relu: "relu",
        .maxpool: "maxpool: {kernel: 3, stride: 2, pad: 1}",
        .avgpool: "avgpool: {kernel: 3, stride: 2, pad: 1}",
        .globalAvgpool: "global_avgpool",
        .flatten: "flatten",
        .linear: "linear: {out: 5, bias: false}",
        .dropout: "dropout: {p: 0.25}",
        .subsamplePad: "subsample_pad: {out: 8, stride: 2}",
        .depthwise: "depthwise: {kernel: 3, stride: 2, bias: true}",
        .relu6: "relu6",
        .silu: "silu",
        .hardswish: "hardswish",
        .gelu: "gelu",
        .sigmoid: "sigmoid",
        .squeezeExcite: "squeeze_excite: {width: 2, activation: silu}",
        .layernorm: "layernorm: {eps: 1e-3}",
        .layerScale: "layer_scale: {init: 0.5}",
        .stochasticDepth: "stochastic_depth: {p: 0.1}"
    ]

    static func network(_ kind: LayerKind) throws -> Compilation {
        let spec = """
            input: [4, 7, 7]
            stem: [conv: {out: 4, kernel: 1}, \(layers[kind] ?? "relu")]
            head: [linear: {out: 3}]
            """
        return try compileInMemory(["spec.yaml": spec])
    }

    @Test func everyKindHasANetwork() {
        #expect(LayerKind.allCases.filter { Self.layers[$0] == nil } == [])
    }

    @Test func everyKindIsInTheLanguageReference() throws {
        let reference = try String(contentsOfFile: repositoryRoot + "/docs/spec-language.md", encoding: .utf8)
        let headings = reference.split(separator: "\n").filter { $0.hasPrefix("#### ") }
        for kind in LayerKind.allCases {
            #expect(
                headings.contains { $0.contains("`\(kind.rawValue)`") },
                "docs/spec-language.md has no section on '\(kind.rawValue)'")
        }
    }

    /// The report's schema lists every kind a per-layer row can have (docs/schemas/report.schema.json).
    @Test(arguments: LayerKind.allCases)
    func reportSchemaKnowsEveryKind(_ kind: LayerKind) throws {
        let compilation = try Self.network(kind)
        var report = compilation.report
        report.perLayer = try LayerTableBuilder.build(compilation.graph, costs: compilation.costs, depth: .layers)
        // A depthwise convolution is a convolution in the graph and in reports.
        let rowKind = kind == .depthwise ? LayerKind.conv.rawValue : kind.rawValue
        #expect(report.perLayer?.rows.contains { $0.kind == rowKind } == true)
        #expect(try SchemaTests.errors(report.json, "report.schema.json") == [], "\(kind.rawValue)")
    }

    @Test(arguments: LayerKind.allCases)
    func executorMatchesTheReferenceInterpreter(_ kind: LayerKind) throws {
        let compilation = try Self.network(kind)
        // (A depthwise layer is a convolution with one input channel per group.)
        #expect(
            compilation.graph.nodes.contains {
                if kind == .depthwise, case .conv(let conv) = $0.op { return conv.groups == conv.outChannels }
                return $0.op.mnemonic == kind.rawValue
            })
        let weights = WeightInitializer.initialize(
            compilation.graph, options: InitOptions(seed: 3, randomizeBatchNorm: true))
        let input = RandomInput.images(2 * compilation.graph.inputShape.elementCount, seed: 4)
        let expected = ReferenceInterpreter.run(compilation.graph, weights: weights, input: input, batch: 2)
        let actual = try makeExecutor(Compiler.program(compilation), weights: weights, threads: 2).run(input, batch: 2)
        let scale = max(largestMagnitude(expected), 1e-30)
        let error = largestDifference(actual, expected)
        #expect(
            actual.count == expected.count && error / scale < 1e-5, "\(kind.rawValue): relative error \(error / scale)")
    }

    /// Every ONNX op the exporter can write has a case in Tests/onnxruntime/reference.py.
    @Test func pythonReferenceKnowsEveryExportedOp() throws {
        func matches(_ pattern: String, in path: String) throws -> Set<String> {
            let text = try String(contentsOfFile: repositoryRoot + "/" + path, encoding: .utf8)
            let regex = try NSRegularExpression(pattern: pattern)
            return Set(
                regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                    Range(match.range(at: 1), in: text).map { String(text[$0]) }
                })
        }
        let exported = try matches(#"emit\(\s*&out,\s*"(\w+)""#, in: "Sources/SharesCompiler/Export/ONNXExporter.swift")
        let interpreted = try matches(#"op == "(\w+)""#, in: "Tests/onnxruntime/reference.py")
        #expect(exported.count >= 13)  // fails if the pattern stops matching the exporter
        #expect(exported.subtracting(interpreted).sorted() == [])
    }
}
