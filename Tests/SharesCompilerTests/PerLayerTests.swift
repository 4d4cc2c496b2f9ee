import Testing

@testable import SharesCompiler

/// The per-layer table (`compile --per-layer`): at every depth its rows add up exactly to the published
/// counts, and a small network's rows are what a hand count gives.
struct PerLayerTests {
    static func tables(_ compilation: Compilation) throws -> [LayerTable] {
        try LayerTable.Depth.allCases.map { depth in
            try LayerTableBuilder.build(compilation.graph, costs: compilation.costs, depth: depth)
        }
    }

    @Test(arguments: ArchitectureTests.table)
    func rowsSumToThePublishedCounts(_ expected: ArchitectureTests.Expected) throws {
        for sequential in [false, true] {
            let compilation = try compileShipped(expected.file, sequential: sequential, overrides: expected.overrides)
            let report = compilation.report
            let tables = try Self.tables(compilation)
            for table in tables {
                let label = "\(expected.file) \(sequential ? "sequential" : "shared") depth \(table.depth.rawValue)"
                // Distinct: each tied weight once, wherever the depth puts its first use.
                let total = sequential ? expected.sequential : expected.asWritten
                #expect(table.rows.reduce(0) { $0 + $1.parameters } == total, "\(label)")
                #expect(table.rows.reduce(0) { $0 + $1.perUse } == expected.sequential, "\(label)")
                #expect(table.rows.reduce(0) { $0 + $1.macs } == report.macs, "\(label)")
                #expect(table.rows.reduce(0) { $0 + $1.parameters } == report.parameters.total, "\(label)")
                #expect(table.rows.reduce(0) { $0 + $1.perUse } == report.parameters.perUse, "\(label)")
            }
            // Folding moves activation bytes between rows and loses none.
            #expect(Set(tables.map { $0.rows.reduce(0) { $0 + $1.activationBytes } }).count == 1)

            let (stages, blocks, layers) = (tables[0], tables[1], tables[2])
            // One row per layer use (every node but the input), in graph order.
            #expect(layers.rows.map(\.name) == compilation.graph.nodes.dropFirst().map(\.name))
            // One row per block, and the stem's and head's layers as they are.
            let blockCount = report.stages.reduce(0) { $0 + $1.blocks }
            #expect(blocks.rows.filter { $0.kind == "block" }.count == blockCount)
            #expect(
                blocks.rows.count == layers.rows.count - layers.rows.filter { $0.name.contains(".block") }.count
                    + blockCount)
            // Folded to sections, the rows are the report's stage table.
            #expect(stages.rows.map(\.name) == report.stages.map(\.name))
            #expect(stages.rows.map(\.output) == report.stages.map(\.output))
            #expect(stages.rows.map(\.parameters) == report.stages.map(\.parameters))
            #expect(stages.rows.map(\.perUse) == report.stages.map(\.perUse))
            #expect(stages.rows.map(\.macs) == report.stages.map(\.macs))
            // Each tie is named by every row that reads it.
            for tie in report.ties {
                #expect(layers.rows.filter { $0.ties.contains(tie.name) }.map(\.name) == tie.usedBy)
            }
        }
    }

    /// Examples/2-tie-group.yaml, counted by hand: 64 channels throughout, one 3x3 weight ("trunk") read by
    /// the second convolution of all six blocks, on 32x32, 16x16 and 8x8 maps.
    @Test func tieGroupByHand() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource, perLayer: .layers))
        let table = try #require(compilation.report.perLayer)
        #expect(table.depth == .layers)
        let rows = Dictionary(uniqueKeysWithValues: table.rows.map { ($0.name, $0) })
        let conv = 64 * 64 * 9, bn = 2 * 64, projection = 64 * 64, map32 = 64 * 32 * 32, map8 = 64 * 8 * 8

        // The trunk counts at its first use only; every use reads it and computes with it.
        let first = try #require(rows["stage1.block1.conv2"])
        #expect(first.parameters == conv && first.perUse == conv && first.ties == ["trunk"])
        #expect(
            first.macs == conv * 32 * 32 && first.activationBytes == 4 * map32 && first.output == Shape([64, 32, 32]))
        for later in ["stage1.block2.conv2", "stage2.block1.conv2", "stage3.block2.conv2"] {
            let row = try #require(rows[later])
            #expect(row.parameters == 0 && row.perUse == conv && row.ties == ["trunk"], "\(later)")
        }
        #expect(rows["stage3.block2.conv2"]?.macs == conv * 8 * 8)
        #expect(rows["stage3.block2.conv2"]?.activationBytes == 4 * map8)
        let shortcut = try #require(rows["stage2.block1.shortcut.conv1"])
        #expect(shortcut.parameters == projection && shortcut.macs == projection * 16 * 16 && shortcut.ties == [])
        #expect(rows["stem.conv1"]?.parameters == 64 * 3 * 9 && rows["stem.conv1"]?.kind == "conv")
        #expect(rows["stem.bn1"]?.parameters == bn && rows["stem.bn1"]?.macs == 0)
        #expect(rows["stage1.block1.add"]?.parameters == 0 && rows["stage1.block1.add"]?.kind == "add")
        #expect(rows["head.gap1"]?.activationBytes == 4 * 64 && rows["head.gap1"]?.kind == "global_avgpool")
        #expect(rows["head.fc1"]?.parameters == 64 * 10 + 10 && rows["head.fc1"]?.macs == 640)
        // 3 stem layers, 7 per identity block (4 of them), 9 per projection block (2), 2 head layers.
        #expect(table.rows.count == 3 + 4 * 7 + 2 * 9 + 2)

        // Blocks: a block with the trunk's first use holds it; the others hold their own weights only.
        let byBlock = Dictionary(
            uniqueKeysWithValues: try LayerTableBuilder.build(
                compilation.graph, costs: compilation.costs, depth: .blocks
            )
            .rows.map { ($0.name, $0) })
        let identityBlock = conv + bn + conv + bn
        #expect(byBlock["stage1.block1"]?.parameters == identityBlock)
        #expect(byBlock["stage1.block2"]?.parameters == identityBlock - conv)
        #expect(byBlock["stage1.block2"]?.perUse == identityBlock)
        #expect(byBlock["stage2.block1"]?.parameters == identityBlock - conv + projection + bn)
        #expect(byBlock["stage2.block1"]?.output == Shape([64, 16, 16]))
        #expect(byBlock["stage2.block1"]?.activationBytes == 9 * 4 * 64 * 16 * 16)
        #expect(byBlock["stage2.block1"]?.ties == ["trunk"] && byBlock["stage2.block1"]?.kind == "block")
        #expect(byBlock["stem.conv1"] != nil && byBlock["head.fc1"] != nil)

        // Sections: the trunk counts in stage1, the first stage that reads it.
        let bySection = try LayerTableBuilder.build(compilation.graph, costs: compilation.costs, depth: .stages).rows
        #expect(bySection.map(\.name) == ["stem", "stage1", "stage2", "stage3", "head"])
        #expect(
            bySection.map(\.parameters) == [
                64 * 3 * 9 + bn, 2 * identityBlock - conv, 2 * (identityBlock - conv) + projection + bn,
                2 * (identityBlock - conv) + projection + bn, 650
            ])
        #expect(bySection.map(\.parameters).reduce(0, +) == 270_538)
        #expect(bySection.map(\.perUse).reduce(0, +) == 270_538 + 5 * conv)
    }

    /// A stage of zero blocks keeps its row when folded to sections, showing the output it passes on.
    @Test func emptyStagesKeepTheirRows() throws {
        let compilation = try compileShipped("cifar/resnet-56.yaml", overrides: ["depth=2"])
        let rows = try LayerTableBuilder.build(compilation.graph, costs: compilation.costs, depth: .stages).rows
        #expect(rows.map(\.name) == ["stem", "stage1", "stage2", "stage3", "head"])
        #expect(rows[1...3].allSatisfy { $0.output == Shape([16, 32, 32]) && $0.parameters == 0 && $0.macs == 0 })
        #expect(rows.map(\.output) == compilation.report.stages.map(\.output))
    }

    /// Asked for through the compiler, the table joins the report; otherwise the report has none.
    @Test func theReportCarriesTheTableWhenAsked() throws {
        let plain = try compileShipped("cifar/resnet-56.yaml")
        #expect(plain.report.perLayer == nil && !plain.report.json.contains("per_layer"))
        let asked = try Compiler.compile(
            "Architectures/cifar/resnet-56.yaml", options: CompileOptions(source: repositorySource, perLayer: .blocks))
        #expect(
            asked.report.perLayer == (try LayerTableBuilder.build(plain.graph, costs: plain.costs, depth: .blocks)))
        #expect(asked.report.rendered(as: .text).contains("\nPer block\n  name "))
        #expect(asked.report.json.contains("\"per_layer\" : {\n    \"depth\" : 2,"))
    }
}
