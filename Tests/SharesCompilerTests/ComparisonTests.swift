import Testing

@testable import SharesCompiler

/// `compare` of two specs: stages matched by name in network order.
struct ComparisonTests {
    static let block = "blocks: {b: {args: {}, body: [conv: {out: 3, kernel: 1}]}}\n"

    static func report(_ spec: String) throws -> Report {
        try compileInMemory(["spec.yaml": "input: [3, 8, 8]\n" + spec]).report
    }

    /// B's own stages follow the stage before them in B, so the head stays last.
    @Test func stagesAreInNetworkOrder() throws {
        let head = "head: [linear: {out: 2}]\n"
        let a = try Self.report(
            Self.block + head + "stages: [{name: x, block: b}, {name: y, block: b}]\n")
        let b = try Self.report(
            Self.block + head + "stages: [{name: w, block: b}, {name: y, block: b, repeat: 2}, {name: z, block: b}]\n")
        #expect(Comparison(a, b).stages.map(\.name) == ["stem", "w", "x", "y", "z", "head"])
        #expect(Comparison(b, a).stages.map(\.name) == ["stem", "x", "w", "y", "z", "head"])
        // A spec without a head still has an (empty) head row, last.
        let headless = try Self.report(Self.block + "stages: [{name: v, block: b}, {name: x, block: b}]\n")
        #expect(Comparison(a, headless).stages.map(\.name) == ["stem", "v", "x", "y", "head"])
    }
}
