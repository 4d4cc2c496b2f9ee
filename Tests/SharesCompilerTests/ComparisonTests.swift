import Testing

@testable import SharesCompiler

/// `compare` of two specs: stages matched by name in network order, and a summary that reads well when a
/// side has nothing to compare against.
struct ComparisonTests {
    static let block = "blocks: {b: {args: {}, body: [conv: {out: 3, kernel: 1}]}}\n"

    static func report(_ spec: String) throws -> Report {
        try compileInMemory(["spec.yaml": "input: [3, 8, 8]\n" + spec]).report
    }

    static func summary(_ a: String, _ b: String) throws -> String {
        ComparisonText.summary(Comparison(try report(a), try report(b)))
    }

    /// B's own stages follow the stage before them in B, after A's own there, so the head stays last.
    @Test func stagesAreInNetworkOrder() throws {
        let head = "head: [linear: {out: 2}]\n"
        let a = try Self.report(
            Self.block + head + "stages: [{name: x, block: b}, {name: y, block: b}]\n")
        let b = try Self.report(
            Self.block + head + "stages: [{name: w, block: b}, {name: y, block: b, repeat: 2}, {name: z, block: b}]\n")
        #expect(Comparison(a, b).stages.map(\.name) == ["stem", "x", "w", "y", "z", "head"])
        #expect(Comparison(b, a).stages.map(\.name) == ["stem", "w", "x", "y", "z", "head"])
        // A spec without a head still has an (empty) head row, last.
        let headless = try Self.report(Self.block + "stages: [{name: v, block: b}, {name: x, block: b}]\n")
        #expect(Comparison(a, headless).stages.map(\.name) == ["stem", "v", "x", "y", "head"])
    }

    /// A at zero gives no percentage: the counts say it.
    @Test func summaryWithZeroCounts() throws {
        let none = "stem: [relu]\n", conv = "stem: [conv: {out: 2, kernel: 1}]\n"
        #expect(
            try Self.summary(none, conv)
                == "B has 6 more parameters than A, with 384 MACs in B and none in A.")
        #expect(
            try Self.summary(conv, none)
                == "B has 6 fewer parameters than A (-100.0%), with -100.0% MACs in B (384 MACs -> 0 MACs).")
        #expect(try Self.summary(none, none) == "Both have 0 parameters, at the same compute (0 MACs per image).")
    }

    /// A change too small for one decimal still says which way it goes, both ways alike, and its size.
    @Test func smallChangesKeepTheirSign() throws {
        let wide = "stem: [conv: {out: 10000, kernel: 1}]\n", wider = "stem: [conv: {out: 10001, kernel: 1}]\n"
        #expect(
            try Self.summary(wide, wider)
                == "B has 3 more parameters than A (+0.01%), with +0.01% MACs in B (1.920 MMACs -> 1.920 MMACs).")
        #expect(
            try Self.summary(wider, wide)
                == "B has 3 fewer parameters than A (-0.01%), with -0.01% MACs in B (1.920 MMACs -> 1.920 MMACs).")
    }
}

/// The report's tables say what their counts hold.
struct ReportTableTests {
    /// A tied bias is named in the tie's row, whose `saved` counts it (2 x (144 + 4) here, where the
    /// weight's shape alone gives 288).
    @Test func aTiedBiasIsNamedInItsRow() throws {
        let spec = """
            input: [3, 8, 8]
            blocks: {b: {body: [conv: {out: 4, kernel: 3, pad: 1, bias: true}]}}
            stem: [conv: {out: 4, kernel: 1}]
            stages: [{block: b, repeat: 3, share: {conv1: all}}]

            """
        let report = try compileInMemory(["spec.yaml": spec]).report
        #expect(report.ties.map(\.bias) == ["stage1.shared.conv1.bias"] && report.ties[0].saved == 296)
        #expect(
            report.rendered(as: .text).contains(
                "stage1.conv1  stage1.shared.conv1.weight + bias  4x4x3x3 + 4     3    296  stage1.block1-3.conv1\n"))
        // Counts under 1,000 are not said twice (`688  688`); larger ones take their SI form.
        #expect(report.rendered(as: .text).contains("  parameters (distinct, trainable)            160\n"))
    }
}
