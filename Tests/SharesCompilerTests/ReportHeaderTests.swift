import Foundation
import Testing

@testable import SharesCompiler

/// What a report says about how it was made: its variant (shared, untied or sequential), the `--set`
/// overrides, and the warnings of the compilation in the JSON.
struct ReportHeaderTests {
    static func json(_ report: Report) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
    }

    static func firstLine(_ text: String) -> Substring { text.split(separator: "\n")[0] }

    /// A spec without ties is "untied"; "sequential" is kept for `--sequential`, which turned ties off.
    @Test func specWithoutTiesIsUntiedNotSequential() throws {
        let plain = try compileShipped("imagenet/resnet-50.yaml").report
        #expect(plain.variant == .untied)
        #expect(Self.firstLine(plain.rendered(as: .text)) == "resnet-50 (untied)")
        #expect(try Self.json(plain)["variant"] as? String == "untied")
        let sequential = try compileShipped("imagenet/sharesnet-50.yaml", sequential: true).report
        #expect(Self.firstLine(sequential.rendered(as: .text)) == "sharesnet-50 (sequential)")
        // --sequential of a spec without ties is still what was asked for.
        #expect(try compileShipped("imagenet/resnet-50.yaml", sequential: true).report.variant == .sequential)
    }

    @Test func overridesAreInTheNameLineAndTheJSON() throws {
        let report = try compileShipped("cifar/sharesnet-164.yaml", overrides: ["depth=29", "classes=100"]).report
        #expect(Self.firstLine(report.rendered(as: .text)) == "sharesnet-164 (shared) --set depth=29 --set classes=100")
        #expect(
            Self.firstLine(report.rendered(as: .markdown))
                == "# sharesnet-164 (shared) --set depth=29 --set classes=100")
        #expect(try Self.json(report)["overrides"] as? [String] == ["depth=29", "classes=100"])
        let plain = try compileShipped("cifar/sharesnet-164.yaml").report
        #expect(Self.firstLine(plain.rendered(as: .text)) == "sharesnet-164 (shared)")
        #expect(try Self.json(plain)["overrides"] as? [String] == [])
    }

    /// A comparison and a picture name their networks with the overrides too: a saved comparison at
    /// `--set depth=29` read as one at the defaults.
    @Test func overridesAreInComparisonsAndPictures() throws {
        let overrides = ["depth=29"]
        let shared = try compileShipped("cifar/sharesnet-164.yaml", overrides: overrides)
        let sequential = try compileShipped("cifar/sharesnet-164.yaml", sequential: true, overrides: overrides)
        let comparison = Comparison(shared.report, sequential.report)
        #expect(
            Self.firstLine(comparison.rendered(as: .text))
                == "sharesnet-164 (shared) --set depth=29 vs sharesnet-164 (sequential) --set depth=29")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(comparison.rendered(as: .json).utf8)) as? [String: Any])
        #expect((json["b"] as? [String: Any])?["overrides"] as? [String] == overrides)
        let title = "label=\"sharesnet-164 (shared) --set depth=29\""
        #expect(DOTRendering.render(shared.graph, overrides: overrides).contains(title))
        #expect(
            try DOTRendering.renderBlock(shared.graph, named: "stage1.block1", overrides: overrides).contains(
                "of sharesnet-164 (shared) --set depth=29\""))
    }

    /// A share that reaches one block shares nothing: a warning with its location, and no tie left.
    @Test func warningsAreInTheJSONWithTheirLocations() throws {
        let compilation = try compileInMemory(
            DiagnosticsTests.files(
                """
                include: lib/blocks.yaml
                input: [3, 8, 8]
                stages:
                  - {block: basic, width: 4, repeat: 2, share: {conv2: [2]}}

                """))
        let json = try Self.json(compilation.report)
        let warnings = try #require(json["warnings"] as? [[String: Any]])
        #expect(warnings.count == 1)
        let location = try #require(warnings.first?["location"] as? [String: Any])
        #expect(location["file"] as? String == "spec.yaml")
        #expect(location["line"] as? Int == 4 && location["column"] as? Int == 56)
        #expect(
            warnings.first?["message"] as? String
                == "sharing 'conv2' in stage 'stage1' reaches fewer than two convolutions, so nothing is shared")
        #expect(json["variant"] as? String == "untied")
        #expect(try Self.json(compileShipped("imagenet/sharesnet-50.yaml").report)["warnings"] as? [Any] != nil)
    }

    @Test func commandLineReportCarriesTheOverrides() throws {
        let result = try CLITests.run([
            "compile", "Architectures/cifar/resnet-56.yaml", "--set", "depth=20", "--format", "json"
        ])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["overrides"] as? [String] == ["depth=20"])
        #expect(json["warnings"] as? [Any] != nil)
        let text = try CLITests.run(["compile", "Architectures/cifar/resnet-56.yaml", "--set", "depth=20"])
        #expect(text.stdout.hasPrefix("resnet-56 (untied) --set depth=20\n"))
    }
}

/// Names as Markdown and DOT show them: what either would read as markup is escaped.
struct MarkupEscapingTests {
    static let spec = """
        network: "<i>net</i>"
        input: [3, 8, 8]
        blocks: {b: {body: [{conv: {out: 3, kernel: 1}}]}}
        stages:
          - {name: "*x*", block: b, repeat: 2, share: {conv1: all}}
          - {name: 'a\\|b', block: b}
          - {name: 'R&amp;D', block: b}
          - {name: _u_, block: b}
          - {name: relu6_1, block: b}

        """

    @Test func markdownShowsNamesAsWritten() throws {
        let report = try compileInMemory(["spec.yaml": Self.spec]).report
        let markdown = report.rendered(as: .markdown)
        #expect(markdown.hasPrefix("# \\<i\\>net\\</i\\> (shared)\n\nSpec `spec.yaml`,"))
        for row in ["| \\*x\\* | b |", "| a\\\\\\|b | b |", "| R\\&amp;D | b |", "| \\_u\\_ | b |", "| relu6_1 | b |"] {
            #expect(markdown.contains(row), "\(row)")
        }
        #expect(Markdown.code("a`b") == "``a`b``" && Markdown.code("`a") == "`` `a ``")
    }

    @Test func dotWritesAmpersandsAsEntities() throws {
        let graph = try compileInMemory(["spec.yaml": Self.spec]).graph
        let dot = DOTRendering.render(graph, detail: .collapsed)
        #expect(dot.contains("R&amp;amp;D"))
        #expect(!dot.contains("R&amp;D"))
    }
}
