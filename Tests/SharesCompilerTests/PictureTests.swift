import Foundation
import Testing

@testable import SharesCompiler

/// `sharesc graph`: the collapsed picture (one node per run of identical blocks, each tie one node
/// naming its users), the expanded one, one block's inside, and rendering through Graphviz.
struct PictureTests {
    /// A node's label, its `\n` escapes read back as line breaks.
    static func label(_ line: Substring) -> String? {
        guard let match = line.firstMatch(of: /label="((?:[^"\\]|\\.)*)"/) else { return nil }
        return String(match.1).replacing("\\n", with: "\n").replacing("\\\"", with: "\"")
    }

    /// The labels of the block nodes inside each stage's cluster, stage by stage.
    static func blocksByStage(_ dot: String) -> [[String]] {
        var stages: [[String]] = [], inside = false
        for line in dot.split(separator: "\n") {
            if line.hasPrefix("  subgraph cluster_") {
                stages.append([])
                inside = true
            } else if line == "  }" {
                inside = false
            } else if inside, line.hasPrefix("    s"), let label = label(line) {
                stages[stages.count - 1].append(label)
            }
        }
        return stages
    }

    static func ties(_ dot: String) -> [String] {
        dot.split(separator: "\n").filter { $0.contains("shape=cylinder") }.compactMap(label)
    }

    /// Dashed edges from a tie to a block node, as `tie_0 -> s0_b2: conv2 x17`.
    static func tieEdges(_ dot: String) -> [String] {
        dot.split(separator: "\n").filter { $0.contains("style=dashed") }.map { line in
            let ends = line.trimmingCharacters(in: .whitespaces).split(separator: " [")[0]
            return "\(ends): \(label(line) ?? "")"
        }
    }

    @Test func sharesnet164CollapsesEachStageToItsTwoKindsOfBlock() throws {
        let dot = DOTRendering.render(try compileShipped("cifar/sharesnet-164.yaml").graph)
        #expect(
            Self.blocksByStage(dot) == [
                ["block1\n64x32x32\nprojection shortcut", "block2..block18 x17\n64x32x32"],
                ["block1\n128x16x16\nprojection shortcut", "block2..block18 x17\n128x16x16"],
                ["block1\n256x8x8\nprojection shortcut", "block2..block18 x17\n256x8x8"]
            ])
        #expect(
            Self.ties(dot) == [
                "stage1.conv2\n16x16x3x3\nused by stage1.block2..18 conv2",
                "stage2.conv2\n32x32x3x3\nused by stage2.block2..18 conv2",
                "stage3.conv2\n64x64x3x3\nused by stage3.block2..18 conv2"
            ])
        #expect(
            Self.tieEdges(dot) == [
                "tie_0 -> s0_b2: conv2 x17", "tie_1 -> s1_b2: conv2 x17", "tie_2 -> s2_b2: conv2 x17"
            ])
        try expectGolden(dot, "sharesnet-164.dot")
    }

    @Test func sharesnet152KeepsTheTiedFirstBlockOfStage1Apart() throws {
        let dot = DOTRendering.render(try compileShipped("imagenet/sharesnet-152.yaml").graph)
        #expect(
            Self.blocksByStage(dot) == [
                ["block1\n256x56x56\nprojection shortcut", "block2..block3 x2\n256x56x56"],
                ["block1\n512x28x28\nprojection shortcut", "block2..block8 x7\n512x28x28"],
                ["block1\n1024x14x14\nprojection shortcut", "block2..block36 x35\n1024x14x14"],
                ["block1\n2048x7x7\nprojection shortcut", "block2..block3 x2\n2048x7x7"]
            ])
        #expect(
            Self.ties(dot) == [
                "stage1.conv2\n64x64x3x3\nused by stage1.block1..3 conv2",
                "stage2.conv2\n128x128x3x3\nused by stage2.block2..8 conv2",
                "stage3.conv2\n256x256x3x3\nused by stage3.block2..36 conv2",
                "stage4.conv2\n512x512x3x3\nused by stage4.block2..3 conv2"
            ])
        #expect(
            Self.tieEdges(dot) == [
                "tie_0 -> s0_b1: conv2", "tie_0 -> s0_b2: conv2 x2", "tie_1 -> s1_b2: conv2 x7",
                "tie_2 -> s2_b2: conv2 x35", "tie_3 -> s3_b2: conv2 x2"
            ])
    }

    /// A tie across stages sits outside every cluster and names each stage's users on a line of its own.
    @Test func tieGroupAcrossStagesListsEveryStage() throws {
        let graph = try Compiler.compile("Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource))
            .graph
        let dot = DOTRendering.render(graph)
        #expect(
            Self.ties(dot) == [
                "trunk\n64x64x3x3\nused by\nstage1.block1..2 conv2\nstage2.block1..2 conv2\nstage3.block1..2 conv2"
            ])
        #expect(Self.blocksByStage(dot).map(\.count) == [1, 2, 2])
        #expect(dot.contains("\n  tie_0 [shape=cylinder"))
    }

    @Test func expandedDrawsEveryBlockAndEveryUse() throws {
        let graph = try compileShipped("cifar/sharesnet-164.yaml").graph
        let dot = DOTRendering.render(graph, detail: .expanded)
        #expect(Self.blocksByStage(dot).map(\.count) == [18, 18, 18])
        #expect(Self.blocksByStage(dot)[1][4] == "block5\n128x16x16")
        #expect(Self.ties(dot).count == 3)
        #expect(Self.tieEdges(dot).count == 51)
        #expect(Self.tieEdges(dot).first == "tie_0 -> s0_b2: conv2")
        #expect(!dot.contains("rank=same"))
    }

    /// Without ties the blocks still collapse: block 1 projects, the rest are alike.
    @Test func sequentialVariantCollapsesWithoutTies() throws {
        let dot = DOTRendering.render(try compileShipped("cifar/sharesnet-164.yaml", sequential: true).graph)
        #expect(dot.contains("label=\"sharesnet-164 (sequential)\""))
        #expect(
            Self.blocksByStage(dot).map { $0.map { $0.split(separator: "\n")[0] } } == [
                ["block1", "block2..block18 x17"], ["block1", "block2..block18 x17"], ["block1", "block2..block18 x17"]
            ])
        #expect(Self.ties(dot).isEmpty)
    }

    /// The CIFAR ResNets' shortcut has no convolution: the first block of a stage says what it does instead.
    @Test func parameterFreeShortcutIsNamed() throws {
        let dot = DOTRendering.render(try compileShipped("cifar/resnet-56.yaml").graph)
        #expect(dot.contains("label=\"resnet-56 (untied)\""))
        #expect(
            Self.blocksByStage(dot) == [
                ["block1..block9 x9\n16x32x32"],
                ["block1\n32x16x16\nsubsample_pad shortcut", "block2..block9 x8\n32x16x16"],
                ["block1\n64x8x8\nsubsample_pad shortcut", "block2..block9 x8\n64x8x8"]
            ])
    }

    @Test func blockTemplatePictureShowsItsPathsShapesAndTies() throws {
        let graph = try compileShipped("imagenet/sharesnet-50.yaml").graph
        let dot = try DOTRendering.renderBlock(graph, named: "bottleneck")
        #expect(dot.contains("label=\"bottleneck, as stage1.block1 of sharesnet-50 (shared)\""))
        for cluster in ["body", "shortcut", "post"] { #expect(dot.contains("subgraph cluster_\(cluster) {")) }
        #expect(!dot.contains("cluster_pre"))
        let labels = dot.split(separator: "\n").compactMap(Self.label)
        #expect(labels.contains("block input\n64x56x56"))
        #expect(labels.contains("conv2\nconv 3x3 pad 1\n64x56x56\ntied: stage1.conv2 (3 uses)"))
        #expect(labels.contains("conv1\nconv 1x1\n256x56x56"))  // the projection
        #expect(labels.contains("block output\n256x56x56"))
        try expectGolden(dot, "sharesnet-50.bottleneck.dot")
    }

    /// A named block: an identity shortcut is the block input reaching the add, and says so.
    @Test func oneBlockByItsPath() throws {
        let graph = try compileShipped("cifar/sharesnet-164.yaml").graph
        let dot = try DOTRendering.renderBlock(graph, named: "stage2.block3")
        #expect(dot.contains("label=\"preact_bottleneck, as stage2.block3 of sharesnet-164 (shared)\""))
        #expect(dot.contains("subgraph cluster_pre {"))
        #expect(!dot.contains("cluster_shortcut"))
        #expect(dot.contains(" -> n") && dot.contains("[label=\"identity\"]"))
        #expect(dot.contains("tied: stage2.conv2 (17 uses)"))
    }

    @Test func blockNamesThatDrawNothingAreErrors() throws {
        let graph = try compileShipped("imagenet/sharesnet-50.yaml").graph
        func failure(_ name: String) -> String {
            do {
                _ = try DOTRendering.renderBlock(graph, named: name)
                return "(drawn)"
            } catch { return error.description }
        }
        #expect(
            failure("botleneck")
                == "<command line: --block botleneck>:1:1: error: no stage of the network is built from a block named "
                + "'botleneck'; its stages use: bottleneck (or name one block, such as stage1.block1); "
                + "did you mean 'bottleneck'?")
        #expect(
            failure("stage1.blok2")
                == "<command line: --block stage1.blok2>:1:1: error: no stage of the network is built from a block "
                + "named 'stage1.blok2'; its stages use: bottleneck (or name one block, such as stage1.block1); "
                + "did you mean 'stage1.block2'?")
        #expect(
            failure("stage7.block1")
                == "<command line: --block stage7.block1>:1:1: error: unknown stage 'stage7'; stages are: stage1, "
                + "stage2, stage3, stage4; did you mean 'stage1', 'stage2' or 'stage3'?")
        #expect(
            failure("stage4.block4")
                == "<command line: --block stage4.block4>:1:1: error: block 4 is out of range; the stage has blocks 1...3"
        )
    }

    /// The example block is one of this network's, whatever its stages are called; none when it has no blocks.
    @Test func missingBlockHintsNameThisNetworksBlocks() throws {
        let spec = """
            input: [3, 8, 8]
            blocks: {b: {args: {}, body: [conv: {out: 3, kernel: 1}]}}
            stages: [{name: a, block: b, repeat: 2}]

            """
        let withBlocks = try compileInMemory(["spec.yaml": spec]).graph
        let withoutBlocks = try compileInMemory(["spec.yaml": "input: [3, 8, 8]\nstem: [relu]\n"]).graph
        func failure(_ graph: Graph, _ name: String) -> String {
            do {
                _ = try DOTRendering.renderBlock(graph, named: name)
                return "(drawn)"
            } catch { return error.description }
        }
        #expect(
            failure(withBlocks, "zzz")
                == "<command line: --block zzz>:1:1: error: no stage of the network is built from a block named "
                + "'zzz'; its stages use: b (or name one block, such as a.block1)")
        #expect(
            failure(withoutBlocks, "zzz")
                == "<command line: --block zzz>:1:1: error: no stage of the network is built from a block named "
                + "'zzz'; its stages use: (none)")
        // Used only by stages of no blocks: said so (it said "its stages use: (none)").
        let emptyStages = try compileInMemory([
            "spec.yaml": spec.replacing("repeat: 2}]", with: "repeat: 0}, {name: c, block: b, repeat: 0}]")
        ]).graph
        #expect(
            failure(emptyStages, "b")
                == "<command line: --block b>:1:1: error: block 'b' builds no block to draw: the stages that use it, "
                + "'a', 'c', repeat it 0 times")
    }

    @Test func fileFormatComesFromTheExtension() throws {
        #expect(try DOTRendering.FileFormat(path: "out/net.svg") == .svg)
        #expect(try DOTRendering.FileFormat(path: "net.PNG") == .png)
        #expect(try DOTRendering.FileFormat(path: "v1.2/net.dot") == .dot)
        for path in ["net.jpg", "net", "v1.2/net"] {
            #expect(throws: CompileFailure.self) { try DOTRendering.FileFormat(path: path) }
        }
        do {
            _ = try DOTRendering.FileFormat(path: "net.jpg")
        } catch {
            #expect(
                error.description
                    == "<command line: -o net.jpg>:1:1: error: cannot tell the picture's format from 'net.jpg'; "
                    + "name the file .dot, .svg, .png (.dot writes the DOT text)")
        }
    }
}

/// `sharesc graph -o`: DOT written directly, SVG and PNG through Graphviz when it is installed.
struct PictureCLITests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "sharesc-pictures-\(getpid())-\(UUID().uuidString)")

    static let hasGraphviz = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/dot")
    }

    /// A PNG's height in pixels, from its IHDR chunk.
    static func pngHeight(_ path: String) throws -> Int {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).prefix(24))
        try #require(bytes.count == 24 && bytes[1...3] == [0x50, 0x4E, 0x47])
        return bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
    }

    @Test func dotFileHoldsWhatStandardOutputPrints() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("net.dot").path
        let written = try CLITests.run(["graph", "Architectures/cifar/sharesnet-164.yaml", "-o", path])
        #expect(written.status == 0 && written.stderr == "")
        #expect(written.stdout == "\(path): sharesnet-164 (shared), identical blocks collapsed\n")
        let printed = try CLITests.run(["graph", "Architectures/cifar/sharesnet-164.yaml"])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == printed.stdout)
    }

    @Test func withoutGraphvizSVGAndPNGSayHowToGetIt() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("net.svg").path
        let result = try CLITests.run(
            ["graph", "Architectures/cifar/sharesnet-164.yaml", "-o", path], environment: ["PATH": directory.path])
        #expect(result.status == 1)
        #expect(result.stdout == "")
        #expect(
            result.stderr
                == "<command line: -o \(path)>:1:1: error: cannot render '\(path)': Graphviz's 'dot' is not installed "
                + "(apt-get install graphviz, or brew install graphviz); -o with a .dot file writes the DOT text without it\n"
        )
        #expect(!FileManager.default.fileExists(atPath: path))
        let format = try CLITests.run(["graph", "Architectures/cifar/sharesnet-164.yaml", "-o", "net.gif"])
        // Bad usage, as export's unknown format (it exited 1, export 64).
        #expect(
            format.status == 64 && format.stderr.hasPrefix("Error: cannot tell the picture's format from 'net.gif'"))
        let both = try CLITests.run(["graph", "Architectures/cifar/sharesnet-164.yaml", "--expand", "--block", "x"])
        #expect(both.status == 64)
    }

    /// A picture goes to its path as every output does: never over the spec it was drawn from (dot's own
    /// -o wrote through a link named for the picture into the spec), and a temporary directory that is
    /// not there is named in the error, not Foundation's error domain.
    @Test(.enabled(if: hasGraphviz, "needs Graphviz's dot (apt-get install graphviz)"))
    func picturesAreWrittenAsEveryOutput() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 3}}]\n"
        try spec.write(to: directory.appendingPathComponent("v.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/v.svg", withDestinationPath: "v.yaml")
        let linked = try CLITests.run(["graph", "v.yaml", "-o", "v.svg"], in: directory.path)
        #expect(linked.status == 1)
        #expect(
            linked.stderr.hasPrefix(
                "v.svg:1:1: error: cannot write 'v.svg': it is the file 'v.yaml', which is an input"))
        #expect(try String(contentsOf: directory.appendingPathComponent("v.yaml"), encoding: .utf8) == spec)
        let scratch = try CLITests.run(
            ["graph", "v.yaml", "-o", "a.png"], environment: ["TMPDIR": "/nonexistent"], in: directory.path)
        #expect(scratch.status == 1 && scratch.stderr.contains(": no such directory '/nonexistent'\n"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/a.png"))
    }

    /// The default pictures of the deepest shipped networks fit a screen: at most 2,600 pixels tall as
    /// dot's PNG (96 dpi), where drawing every block takes over 5,000.
    @Test(.enabled(if: hasGraphviz, "needs Graphviz's dot (apt-get install graphviz)"))
    func deepNetworksRenderAtMost2600PixelsTall() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for spec in ["cifar/sharesnet-164", "imagenet/sharesnet-152"] {
            let path = directory.appendingPathComponent("net.png").path
            let collapsed = try CLITests.run(["graph", "Architectures/\(spec).yaml", "-o", path])
            #expect(collapsed.status == 0, "\(collapsed.stderr)")
            let height = try Self.pngHeight(path)
            #expect(height <= 2600, "\(spec): \(height) pixels tall")
            let expanded = try CLITests.run(["graph", "Architectures/\(spec).yaml", "--expand", "-o", path])
            #expect(expanded.status == 0, "\(expanded.stderr)")
            #expect(try Self.pngHeight(path) > 2 * height, "\(spec): --expand draws every block")
        }
        let svg = directory.appendingPathComponent("block.svg").path
        let block = try CLITests.run([
            "graph", "Architectures/imagenet/sharesnet-50.yaml", "--block", "bottleneck", "-o", svg
        ])
        #expect(block.status == 0)
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("tied: stage1.conv2 (3 uses)"))
    }
}
