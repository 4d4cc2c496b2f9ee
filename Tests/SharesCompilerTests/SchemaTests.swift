import Foundation
import Testing

@testable import SharesCompiler

/// Every JSON output that has a schema in docs/schemas/ fits it, and the validator catches what does not.
struct SchemaTests {
    static let directory = repositoryRoot + "/docs/schemas"

    static func validator() throws -> JSONSchemaValidator { try JSONSchemaValidator(directory: directory) }

    static func errors(_ json: String, _ schema: String) throws -> [String] {
        try validator().errors(in: JSONValue.parse(json), against: schema)
    }

    @Test func schemasUseOnlyTheCheckedSubset() throws {
        let validator = try Self.validator()
        #expect(Set(validator.documents.keys) == ["report.schema.json", "compare.schema.json", "bench.schema.json"])
        for file in validator.documents.keys.sorted() {
            #expect(validator.unsupportedKeywords(in: file) == [], "\(file)")
            guard case .object(let schema) = validator.documents[file] else {
                Issue.record("\(file) is not an object")
                continue
            }
            #expect(schema["$schema"] == .string("https://json-schema.org/draft/2020-12/schema"), "\(file)")
        }
    }

    /// Every shipped network's report, both variants, without and with the per-layer table at each depth.
    @Test(arguments: ArchitectureTests.table)
    func reportsFitTheirSchema(_ expected: ArchitectureTests.Expected) throws {
        for sequential in [false, true] {
            let compilation = try compileShipped(expected.file, sequential: sequential, overrides: expected.overrides)
            var report = compilation.report
            #expect(try Self.errors(report.json, "report.schema.json") == [])
            for depth in LayerTable.Depth.allCases {
                report.perLayer = try LayerTableBuilder.build(compilation.graph, costs: compilation.costs, depth: depth)
                #expect(try Self.errors(report.json, "report.schema.json") == [], "depth \(depth.rawValue)")
            }
            let arena = MemoryPlanner.plan(Compiler.program(compilation), batch: 1).arenaBytes
            report.memory = try MemoryReportBuilder.build(
                compilation.graph, report: compilation.report, arena: arena, batch: 8)
            #expect(try Self.errors(report.json, "report.schema.json") == [], "--batch 8")
        }
    }

    /// A spec against its sequential variant, an unshared spec against a shared one (tied weights go from 0,
    /// so that change in percent has no base and is left out), and two specs whose stages differ (a stage on
    /// one side only).
    /// A report's warnings with their notes (the shipped networks have none).
    @Test func warningsWithNotesFitTheSchema() throws {
        let compilation = try compileInMemory([
            "spec.yaml": "input: [3, 8, 8]\nblocks: {b: {args: {s: 1}, body: [relu]}}\nstages: [{block: b, s: 2}]\n"
        ])
        #expect(compilation.report.warnings.first?.notes.count == 1)
        #expect(try Self.errors(compilation.report.json, "report.schema.json") == [])
    }

    @Test func comparisonsFitTheirSchema() throws {
        let pairs: [(String, Bool, String, Bool)] = [
            ("cifar/sharesnet-164.yaml", false, "cifar/sharesnet-164.yaml", true),
            ("imagenet/resnet-50.yaml", false, "imagenet/sharesnet-50.yaml", false),
            ("cifar/resnet-56.yaml", false, "imagenet/resnet-18.yaml", false)
        ]
        for (a, aSequential, b, bSequential) in pairs {
            let comparison = Comparison(
                try compileShipped(a, sequential: aSequential).report,
                try compileShipped(b, sequential: bSequential).report)
            let json = comparison.rendered(as: .json)
            #expect(try Self.errors(json, "compare.schema.json") == [], "\(a) vs \(b)")
        }
        let differentStages = Comparison(
            try compileShipped("cifar/resnet-56.yaml").report, try compileShipped("imagenet/resnet-18.yaml").report)
        #expect(differentStages.stages.contains { $0.a == nil && $0.parameters.deltaPercent == nil })
        let fromNoTies = Comparison(
            try compileShipped("imagenet/resnet-50.yaml").report,
            try compileShipped("imagenet/sharesnet-50.yaml").report)
        #expect(fromNoTies.totals.contains { $0.metric == "tied weights" && $0.deltaPercent == nil })
    }

    /// `bench --format json`, plain and with `--profile` (every step), through the binary.
    @Test func benchFitsItsSchema() throws {
        let base = ["bench", "Architectures/cifar/resnet-56.yaml", "--set", "depth=8", "--runs", "1", "--warmup", "0"]
        for extra in [[], ["--profile"]] {
            let result = try CLITests.run(base + extra + ["--format", "json"])
            #expect(result.status == 0)
            #expect(try Self.errors(result.stdout, "bench.schema.json") == [], "\(extra)")
            let steps = try JSONValue.parse(result.stdout)
            guard case .object(let members) = steps else { continue }
            #expect((members["steps"] != nil) == !extra.isEmpty)
        }
    }

    /// The outputs' old or wrong field names fail: the schemas close every object.
    @Test func renamedFieldsFail() throws {
        let report = try compileShipped("cifar/resnet-56.yaml").report.json
        let renamed = report.replacingOccurrences(of: "\"weight_bytes\"", with: "\"packed_weight_bytes\"")
        #expect(
            try Self.errors(renamed, "report.schema.json") == [
                "/: missing 'weight_bytes'", "/: unexpected 'packed_weight_bytes'"
            ])

        let bench = try CLITests.run([
            "bench", "Architectures/cifar/resnet-56.yaml", "--set", "depth=8", "--runs", "1", "--warmup", "0",
            "--format", "json"
        ])
        let old = bench.stdout.replacingOccurrences(of: "\"packed_weight_bytes\"", with: "\"weight_bytes\"")
        #expect(
            try Self.errors(old, "bench.schema.json") == [
                "/: missing 'packed_weight_bytes'", "/: unexpected 'weight_bytes'"
            ])
    }

    /// The validator, keyword by keyword, on documents that fit and on documents that do not.
    @Test(
        arguments: [
            (#"{"type": "integer"}"#, "3", []),
            (#"{"type": "integer"}"#, "3.5", ["/: expected integer, got 3.5"]),
            (#"{"type": "integer"}"#, "true", ["/: expected integer, got true"]),
            (#"{"type": "number"}"#, "3", []),
            (#"{"type": ["string", "null"]}"#, "null", []),
            (#"{"type": "string"}"#, "[1]", ["/: expected string, got an array"]),
            (#"{"enum": ["a", 2]}"#, "2", []),
            (#"{"enum": ["a", 2]}"#, #""b""#, [#"/: "b" is not one of the allowed values"#]),
            (#"{"minimum": 1}"#, "0", ["/: 0 is below the minimum 1"]),
            (#"{"minimum": 1}"#, #""text""#, []),
            (#"{"required": ["x"]}"#, "{}", ["/: missing 'x'"]),
            (#"{"properties": {"x": {"type": "string"}}}"#, #"{"x": 1, "y": 2}"#, ["/x: expected string, got 1"]),
            (
                #"{"properties": {"x": true}, "additionalProperties": false}"#, #"{"x": 1, "y": 2}"#,
                ["/: unexpected 'y'"]
            ),
            (#"{"additionalProperties": {"type": "integer"}}"#, #"{"y": "z"}"#, [#"/y: expected integer, got "z""#]),
            (#"{"items": {"minimum": 0}}"#, "[0, -1]", ["/1: -1 is below the minimum 0"]),
            (#"{"anyOf": [{"type": "number"}, {"enum": ["nan"]}]}"#, #""nan""#, []),
            (#"{"anyOf": [{"type": "number"}, {"enum": ["nan"]}]}"#, #""NaN""#, [#"/: "NaN" matches none of anyOf"#]),
            (
                ##"{"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}"##, "[1, \"2\"]",
                [#"/1: expected integer, got "2""#]
            ),
            (##"{"$ref": "#/$defs/missing"}"##, "1", ["/: cannot resolve $ref '#/$defs/missing'"]),
            (#"{"pattern": "^a"}"#, #""b""#, ["/: unsupported schema keyword 'pattern'"]),
            ("false", "1", ["/: not allowed here"])
        ] as [(String, String, [String])])
    func validatorKeywords(_ schema: String, _ document: String, _ expected: [String]) throws {
        let validator = JSONSchemaValidator(documents: ["test.schema.json": try JSONValue.parse(schema)])
        #expect(validator.errors(in: try JSONValue.parse(document), against: "test.schema.json") == expected)
    }

    @Test func validatorFollowsReferencesAcrossFiles() throws {
        let validator = JSONSchemaValidator(documents: [
            "a.schema.json": try JSONValue.parse(##"{"items": {"$ref": "b.schema.json#/$defs/row"}}"##),
            "b.schema.json": try JSONValue.parse(#"{"$defs": {"row": {"required": ["name"]}}}"#)
        ])
        #expect(
            validator.errors(in: try JSONValue.parse(#"[{"name": 1}, {}]"#), against: "a.schema.json") == [
                "/1: missing 'name'"
            ])
        #expect(validator.unsupportedKeywords(in: "a.schema.json") == [])
        let unsupported = JSONSchemaValidator(documents: [
            "c.schema.json": try JSONValue.parse(#"{"properties": {"x": {"items": {"maxItems": 2}}}}"#)
        ])
        #expect(unsupported.unsupportedKeywords(in: "c.schema.json") == ["c.schema.json#/properties/x/items/maxItems"])
    }

    /// The validator's JSON parser against RFC 8259: values of every kind, escapes (a surrogate pair
    /// too), integers apart from other numbers, and the malformed documents it must refuse.
    @Test func jsonParserReadsTheStandardGrammar() throws {
        let document =
            #" {"a": [null, true, false, -0, 12, 3.0, 2.5e-1, 1E2], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"} "#
        #expect(
            try JSONValue.parse(document)
                == .object([
                    "a": .array([
                        .null, .bool(true), .bool(false), .integer(0), .integer(12), .integer(3), .number(0.25),
                        .integer(100)
                    ]),
                    "s": .string("q\"\\/\u{08}\u{0C}\n\r\té😀")
                ]))
        #expect(try JSONValue.parse("[]") == .array([]) && JSONValue.parse("{ }") == .object([:]))
        for malformed in [
            "", "01", "+1", "1.", ".5", "1e", "-", "[1,]", "[1 2]", #"{"a" 1}"#, "{1: 2}", #""\x""#, #""\ud800""#,
            "\"a", "\"\u{01}\"", "nul", "1e999", "[] []"
        ] {
            #expect(throws: JSONParseError.self, "\(malformed.debugDescription)") { try JSONValue.parse(malformed) }
        }
    }
}
