import Testing

@testable import SharesCompiler

/// Every tutorial spec compiles to the figures Examples/README.md quotes.
struct ExampleTests {
    func compileExample(_ name: String, sequential: Bool = false, overrides: [String] = []) throws -> Report {
        try Compiler.compile(
            "Examples/" + name,
            options: CompileOptions(
                sequential: sequential, overrides: overrides.map { CommandLineSetting($0) },
                source: repositorySource)
        ).report
    }

    @Test func customBlock() throws {
        let report = try compileExample("1-custom-block.yaml")
        #expect(report.ties.map(\.name) == ["stage2.grouped", "stage3.grouped"])
        #expect(report.ties.map(\.shape) == [[32, 4, 3, 3], [32, 4, 3, 3]])
        #expect(report.ties.map(\.uses) == [2, 2])
        let wider = try compileExample("1-custom-block.yaml", overrides: ["cardinality=16", "blocks=6"])
        #expect(wider.ties.map(\.uses) == [5, 5])
    }

    @Test func tieGroupAcrossStages() throws {
        let report = try compileExample("2-tie-group.yaml")
        #expect(report.parameters.total == 270_538)
        #expect(report.parameters.perUse == 454_858)
        #expect(report.ties.count == 1)
        #expect(report.ties[0].weight == "shared.trunk.weight")
        #expect(report.ties[0].uses == 6)
        #expect(try compileExample("2-tie-group.yaml", sequential: true).parameters.total == 454_858)
    }
}
