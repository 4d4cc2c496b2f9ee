import Foundation
import Testing

@testable import SharesCompiler

/// The lines of a printed spec that are not comments.
private func uncommented(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.hasPrefix("#") } }

/// `SpecPrinter`: the resolved spec, printed in the spec language, compiles to the same network.
struct SpecPrinterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var overrides: [String] = []
        var sequential = false
        var testDescription: String {
            ([path] + overrides.map { "--set " + $0 } + (sequential ? ["--sequential"] : [])).joined(separator: " ")
        }
    }

    /// Every `.yaml` under a folder of the repository, sorted; block libraries (`blocks.yaml`,
    /// `modern-blocks.yaml`) are not networks.
    static func specs(under folder: String) -> [String] {
        let root = URL(fileURLWithPath: repositoryRoot + "/" + folder)
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        let files = enumerator?.compactMap { $0 as? URL } ?? []
        return files.filter { $0.pathExtension == "yaml" && !$0.lastPathComponent.hasSuffix("blocks.yaml") }
            .map { folder + "/" + $0.path.dropFirst(root.path.count + 1) }.sorted()
    }

    /// Every shipped architecture (with the overrides `ArchitectureTests` compiles it with) and example that
    /// compiles, then cases with `--set`, an `extends` chain and `--sequential`.
    static let cases: [Case] = {
        let overrides = Dictionary(
            uniqueKeysWithValues: ArchitectureTests.table.map {
                ("Architectures/" + $0.file, $0.overrides)
            })
        var cases = (specs(under: "Architectures") + specs(under: "Examples"))
            .filter { $0 != "Examples/3-deliberate-error.yaml" }
            .map { Case(path: $0, overrides: overrides[$0] ?? []) }
        cases += [
            Case(path: "Architectures/cifar/resnet-164.yaml", overrides: ["depth=20"]),
            Case(path: "Architectures/cifar/sharesnet-164.yaml", overrides: ["depth=47", "classes=100"]),
            Case(path: "Examples/1-custom-block.yaml", overrides: ["cardinality=16", "blocks=6"]),
            Case(path: "Examples/1-custom-block.yaml", overrides: ["group_width=$cardinality / 2"]),
            Case(path: "Architectures/imagenet/sharesnet-152-all.yaml", sequential: true),
            Case(path: "Examples/2-tie-group.yaml", sequential: true)
        ]
        return cases
    }()

    /// Compiles the printed text from a file of its own and checks that it gives the original's graph, report
    /// and warnings; printing what it loads gives the same text again.
    func expectRoundTrip(_ original: Compilation, printed: String, sequential: Bool, name: String) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("spec-printer-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(name).path
        try printed.write(toFile: file, atomically: true, encoding: .utf8)
        let again: Compilation
        do { again = try Compiler.compile(file, options: CompileOptions(sequential: sequential)) } catch {
            Issue.record("the printed spec does not compile:\n\(error)\n--- printed:\n\(printed)")
            return
        }
        #expect(GraphPrinter.print(again.graph) == GraphPrinter.print(original.graph))
        // The printed spec holds the `--set` values, so it compiles without overrides to record.
        var expected = original.report
        expected.overrides = []
        // Warnings are compared by message below: the printed spec has its own lines, and declares only
        // the variables its text reads, so one that nothing read is gone, and so is the warning about it.
        expected.warnings = []
        var printedReport = again.report
        printedReport.warnings = []
        func printable(_ message: String) -> Bool {
            !(message.contains("never used") && (message.hasPrefix("variable '") || message.contains("more variables")))
        }
        for format in ReportFormat.allCases {
            // Only the `spec` line (the file compiled) may differ.
            #expect(
                printedReport.rendered(as: format).replacingOccurrences(of: file, with: original.spec.path)
                    == expected.rendered(as: format))
        }
        #expect(again.warnings.map(\.message) == original.warnings.map(\.message).filter(printable))
        // Reprinting what was printed gives the same text, but for the header comment (the printed spec has no
        // variables left to list) and the file name in JSON's description.
        let reprinted = printed.hasPrefix("{") ? SpecPrinter.json(again.spec) : SpecPrinter.yaml(again.spec)
        #expect(uncommented(reprinted.replacingOccurrences(of: file, with: original.spec.path)) == uncommented(printed))
    }

    @Test(arguments: cases)
    func roundTrip(_ testCase: Case) throws {
        let original = try Compiler.compile(
            testCase.path,
            options: CompileOptions(
                sequential: testCase.sequential, overrides: testCase.overrides.map { CommandLineSetting($0) },
                source: repositorySource))
        let name = String(testCase.path.split(separator: "/").last!)
        try expectRoundTrip(
            original, printed: SpecPrinter.yaml(original.spec), sequential: testCase.sequential,
            name: name)
        try expectRoundTrip(
            original, printed: SpecPrinter.json(original.spec), sequential: testCase.sequential,
            name: name.replacingOccurrences(of: ".yaml", with: ".json"))
    }

    @Test func everyShippedArchitectureIsCovered() {
        let covered = Set(Self.cases.map(\.path))
        #expect(Self.specs(under: "Architectures").count == 30)
        #expect(Self.specs(under: "Architectures").allSatisfy(covered.contains))
    }

    @Test func goldens() throws {
        let options = CompileOptions(source: repositorySource)
        let spec = try Compiler.compile("Examples/2-tie-group.yaml", options: options).spec
        try expectGolden(SpecPrinter.yaml(spec), "2-tie-group.spec.yaml")
        try expectGolden(SpecPrinter.json(spec), "2-tie-group.spec.json")
        let overridden = try compileShipped("cifar/sharesnet-164.yaml", overrides: ["depth=20"]).spec
        try expectGolden(SpecPrinter.yaml(overridden), "sharesnet-164.depth-20.spec.yaml")
    }

    /// With --sequential, the printed spec is the sequential variant: no `share:` left, so that it
    /// compiles without the flag to the same network, parameter for parameter.
    @Test func sequentialVariantPrintsWithoutTies() throws {
        let sequential = try compileShipped("cifar/sharesnet-164.yaml", sequential: true)
        let printed = SpecPrinter.yaml(sequential.spec, sequential: true)
        #expect(!printed.contains("share:"))
        #expect(printed.contains("# its sequential variant (--sequential): every share left out"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sequential-\(UUID()).yaml").path
        try printed.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let again = try Compiler.compile(file)
        // The same graph but for its first line, which says "untied" rather than "sequential".
        let body = { (graph: Graph) in GraphPrinter.print(graph).split(separator: "\n").dropFirst() }
        #expect(body(again.graph) == body(sequential.graph))
        #expect(again.report.parameters.total == sequential.report.parameters.total)
        #expect(SpecPrinter.json(sequential.spec, sequential: true).contains("every share left out"))
    }

    // MARK: In-memory specs

    static let library = """
        blocks:
          basic:
            args: {width: required, stride: 1}
            body:
              - conv: {out: $width, kernel: 3, stride: $stride, pad: 1}
              - batchnorm
              - relu
              - conv: {out: $width, kernel: 3, pad: 1}
              - batchnorm
            shortcut:
              - conv: {out: $width, kernel: 1, stride: $stride}
            post: [relu]
          unused:
            body: [relu]
        layers:
          small_head: [global_avgpool, {linear: {out: $classes}}]
        vars: {classes: 10}

        """

    /// Compiles `files` and round-trips the printed YAML and JSON through files on disk.
    @discardableResult
    func roundTrip(_ files: [String: String], overrides: [String] = [], sequential: Bool = false) throws -> String {
        let original = try compileInMemory(files, sequential: sequential, overrides: overrides)
        let printed = SpecPrinter.yaml(original.spec)
        try expectRoundTrip(original, printed: printed, sequential: sequential, name: "spec.yaml")
        try expectRoundTrip(
            original, printed: SpecPrinter.json(original.spec), sequential: sequential,
            name: "spec.json")
        return printed
    }

    @Test func extendsIncludeAndLayerLists() throws {
        let parent = """
            include: lib/blocks.yaml
            input: [3, 16, 16]
            vars: {w: 8, n: 3}
            stem: [{conv: {out: $w, kernel: 3, pad: 1}}]
            stages:
              - {block: basic, width: $w, repeat: $n, share: {conv2: all}}
              - {name: wide, block: basic, width: $w * 2, repeat: $n, stride: 2}
            head: small_head
            share:
              wide: {conv1: [2, 3]}

            """
        let child = """
            extends: parent.yaml
            vars: {n: 4, classes: 7}
            share:
              stage1: {conv2: none}
              wide: {conv2: {blocks: after-first, group: g}}

            """
        let files = ["spec.yaml": child, "parent.yaml": parent, "lib/blocks.yaml": Self.library]
        let printed = try roundTrip(files)
        try roundTrip(files, overrides: ["w=16"])
        try roundTrip(files, sequential: true)
        // Self-contained: no include, extends, named list or top-level share; only the template the stages use.
        for gone in [
            "include", "extends", "small_head", "unused", "\nshare:", "$w ", "$w}", "$w,", "$n", "$classes",
            "vars:"
        ] {
            #expect(!printed.contains(gone), "\(gone)")
        }
        #expect(printed.hasPrefix("# resolved from spec.yaml\n# variables: classes = 7, n = 4, w = 8\nnetwork: spec\n"))
        #expect(printed.contains("share: {conv2: none}\n"))
        #expect(printed.contains("share: {conv1: [2, 3], conv2: {blocks: after-first, group: g}}\n"))
        #expect(printed.contains("  - global_avgpool\n  - linear: {out: 7}\n"))
        #expect(try roundTrip(files, overrides: ["w=16"]).contains("# variables: classes = 7, n = 4, w = 16 (--set)\n"))
    }

    @Test func templatesKeepTheirArguments() throws {
        let spec = """
            input: [4, 8, 8]
            vars: {base: 3, b: 11, stride: 5, scale: 0.5, größe: 2}
            blocks:
              odd:
                args: {a: $b + $base, b: 2, c: $stride * 2, stride: 1, d: $größe * $base - -1}
                pre: [batchnorm: {eps: $scale / 1000}, relu]
                body:
                  - conv: {name: first, out: $a + $b * ($base - 1), kernel: 1, bias: true}
                  - dropout: {p: $scale * $scale}
                  - conv: {out: 4, kernel: 1, groups: $größe, bias: false}
                shortcut: {layers: [], when: always}
                post: [{maxpool: {kernel: 1}}]
              plain:
                args: {k: 1}
                body: [{conv: {out: 4, kernel: $k}}]
                merge: none
                shortcut: identity
            stages:
              - {block: odd, repeat: 2}
              - {block: odd, repeat: 1, b: 1, stride: 1}
              - {block: plain, repeat: 1, k: 1}

            """
        let printed = try roundTrip(["spec.yaml": spec])
        // `a` and `c` may read the globals `b` and `stride` (when the stage leaves those arguments out).
        #expect(printed.contains("\nvars: {b: 11, stride: 5}\n"))
        #expect(printed.contains("args: {a: $b + 3, b: 2, c: $stride * 2, stride: 1, d: 7}\n"))
        #expect(printed.contains("    pre:\n      - batchnorm: {eps: 0.0005}\n      - relu\n"))
        #expect(printed.contains("- conv: {name: first, out: $a + $b * 2, kernel: 1, bias: true}\n"))
        #expect(printed.contains("- dropout: {p: 0.25}\n"))
        #expect(printed.contains("shortcut: {layers: [], when: always}\n"))
        #expect(printed.contains("merge: none\n"))
    }

    @Test func numbersAreExact() throws {
        let epsilons = [
            "1e-5": "1e-05", "0.001": "0.001", "1e-3": "0.001", "0.1 + 0.2": "0.30000000000000004",
            "1e-45": "1e-45", "3.4028234663852886e38": "3.4028234663852886e+38", "3": "3",
            "2 * 1e-7": "2e-07", "1 / 3.0": "0.3333333333333333", "1e3": "1000.0"
        ]
        for (eps, exact) in epsilons.sorted(by: <) {
            let spec = """
                input: [2, 4, 4]
                vars: {eps: \(eps), big: 4611686018427387903 * 2 + 1}
                stem:
                  - batchnorm: {eps: $eps}
                  - dropout: {p: 1 - 0.7}
                  - conv: {out: $big // 4611686018427387904 + 1, kernel: 1}

                """
            let printed = try roundTrip(["spec.yaml": spec])
            #expect(printed.contains("- batchnorm: {eps: \(exact)}\n"))
            #expect(printed.contains("big = 9223372036854775807"))
            #expect(printed.contains("p: 0.30000000000000004"))
            #expect(printed.contains("out: 2,"))
        }
        // Int.min has no literal: it prints as an expression that reads back as itself.
        for number in [
            Number.int(.min), .int(.max), .int(-5), .int(0), .real(-0.0), .real(1e-5), .real(123456789.0),
            .real(.leastNonzeroMagnitude), .real(.greatestFiniteMagnitude), .real(-2.5e300)
        ] {
            let text = SpecPrinter.text(.number(number))
            let parsed = try ExpressionParser.parse(text, at: Location(file: "", line: 1, column: 1))
            let value = try Scope().evaluate(Located(parsed, at: Location(file: "", line: 1, column: 1)))
            #expect(value == number && value.description == number.description, "\(text)")
        }
    }

    @Test func expressionsKeepTheirShape() throws {
        for text in [
            "$a - ($b - $c)", "$a - $b - $c", "($a + $b) * $c", "$a * ($b * $c)", "$a // $b % $c", "-($a + 1)",
            "--$a", "$a - -$b", "-$a * $b", "$a * -2", "$a % -3 // 2.5", "$a % (-3 // 2.5)"
        ] {
            let expression = try ExpressionParser.parse(text, at: Location(file: "", line: 1, column: 1))
            let printed = SpecPrinter.text(expression)
            #expect(printed == text)
            // The same tree (variables' columns aside: the printed text is shorter).
            #expect(
                SpecPrinter.text(try ExpressionParser.parse(printed, at: Location(file: "", line: 1, column: 1)))
                    == printed)
        }
        let redundant = try ExpressionParser.parse("((($x)))+(((1)))", at: Location(file: "", line: 1, column: 1))
        #expect(SpecPrinter.text(redundant) == "$x + 1")
    }

    @Test func namesAreQuotedWhereYAMLNeedsIt() throws {
        let spec = #"""
            network: "2 nets: \"odd\" # one tab\u00e9 \\ null"
            input: [8, 8, 8]
            blocks:
              "true":
                args: {"null": required, stride: 1}
                body:
                  - conv: {out: 8, kernel: 3, pad: 1, name: "a#b"}
                  - conv: {out: 8, kernel: 3, pad: 1, name: "-x"}
                  - conv: {out: 8, kernel: 3, pad: 1, name: "ünïcode_layer-1"}
            stages:
              - {name: "null", block: "true", "null": 8, repeat: 2, share: {"a#b": all, "-x": {group: "[g]"}}}
              - {name: "'", block: "true", "null": 8, repeat: 2, share: {"-x": {group: "[g]"}}}
              - {name: "stage: 3", block: "true", "null": 8, repeat: 1}

            """#
        let printed = try roundTrip(["spec.yaml": spec])
        #expect(printed.contains(#"network: "2 nets: \"odd\" # one tabé \\ null""#))
        #expect(printed.contains(#"- name: "stage: 3""#))
        #expect(printed.contains("- conv: {name: ünïcode_layer-1, out: 8, kernel: 3, pad: 1}\n"))
        #expect(printed.contains(#"share: {"a#b": all, "-x": {blocks: all, group: "[g]"}}"#))
    }

    /// Whatever loads prints, and what is printed loads again and fails the same way as the original.
    @Test func printingIsTotal() throws {
        let cases: [(spec: String, error: String?)] = [
            ("input: [3, 8, 8]\nvars: {x: 7 / 2, y: $x + 1, z: 2}\nstem: [relu]\n", "7 / 2 is not a whole number"),
            ("input: [3, 8, 8]\nvars: {a: $b, b: $a + 1}\nstem: [relu]\n", "cycle"),
            ("input: [3, 8, 8]\nvars: {m: (-9223372036854775807 - 1) / 0}\nstem: [relu]\n", "division by zero"),
            ("input: [3, 8, 8]\nstem: [{conv: {out: $nope, kernel: 1}}]\n", "unknown variable"),
            ("input: [3, 8, 8]\nstem: [{conv: {out: 0, kernel: 1}}]\n", "'out' of conv"),
            ("include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages: [{block: missing}]\n", "unknown block"),
            (
                "include: lib/blocks.yaml\ninput: [3, 8, 8]\nstages: [{block: basic, repeat: 2, share: {conv9: all}}]\n",
                "needs the argument 'width'"
            ),
            (
                "include: lib/blocks.yaml\ninput: [3, 8, 8]\n"
                    + "stages: [{block: basic, width: 3, repeat: 1, share: {conv2: [5]}}]\n", "out of range"
            ),
            (
                "include: lib/blocks.yaml\ninput: [3, 8, 8]\n"
                    + "stages: [{block: basic, width: 3, repeat: 1, share: {conv2: all}}]\n", nil
            )
        ]
        for (spec, error) in cases {
            let files = ["spec.yaml": spec, "lib/blocks.yaml": Self.library]
            let loaded = try SpecLoader.load(path: "spec.yaml", source: .memory(files), overrides: [])
            for printed in [SpecPrinter.yaml(loaded), SpecPrinter.json(loaded)] {
                let source = SpecSource.memory(["spec.yaml": printed])
                let reloaded = try SpecLoader.load(path: "spec.yaml", source: source, overrides: [])
                #expect(uncommented(SpecPrinter.yaml(reloaded)) == uncommented(SpecPrinter.yaml(loaded)))
                let message = diagnostics(["spec.yaml": printed])
                if let error {
                    #expect(message.contains(error), "\(message)\n--- printed:\n\(printed)")
                    #expect(diagnostics(files).contains(error))
                } else {
                    #expect(message == "(compiled without errors)", "\(message)\n--- printed:\n\(printed)")
                }
            }
        }
    }

    /// The tutorial's deliberate mistake loads, prints, and the printed spec fails with the same message.
    @Test func deliberateErrorStillFails() throws {
        let path = "Examples/3-deliberate-error.yaml"
        let loaded = try SpecLoader.load(path: path, source: repositorySource, overrides: [])
        func messages(_ source: SpecSource) -> [String] {
            do { _ = try Compiler.compile(path, options: CompileOptions(source: source)) } catch {
                return error.diagnostics.map(\.message)
            }
            return []
        }
        let original = messages(repositorySource)
        #expect(!original.isEmpty)
        #expect(messages(.memory([path: SpecPrinter.yaml(loaded)])) == original)
        #expect(messages(.memory([path: SpecPrinter.json(loaded)])) == original)
    }

    /// The header lists every variable, wrapped to lines of at most 100 columns.
    @Test func headerWraps() throws {
        let names = (1...40).map { "variable\($0)" }
        let variables = names.map { $0 + ": 1000" }.joined(separator: ", ")
        let spec = "input: [3, 8, 8]\nvars: {" + variables + "}\nstem: [relu]\n"
        let printed = try roundTrip(["spec.yaml": spec])
        let header = printed.split(separator: "\n").filter { $0.hasPrefix("#") }
        #expect(header.count > 3 && header.allSatisfy { $0.count <= 100 })
        #expect(header[1].hasPrefix("# variables: variable1 = 1000, variable10 = 1000,"))
        #expect(header.dropFirst(2).allSatisfy { $0.hasPrefix("#   variable") })
        #expect(header.joined().contains("variable9 = 1000") && !header.last!.hasSuffix(","))
    }

    /// A sum nests to the left as deep as it is long (up to the parser's 1,000 operators), and variables
    /// can form chains longer than the evaluator takes (it stops at 256): printing walks both in loops,
    /// not recursively, and only loads the spec.
    @Test func longSumsAndChains() throws {
        let terms = Array(repeating: "$one", count: 998).joined(separator: " + ")
        let sum = Array(repeating: "1", count: 1_000).joined(separator: "+")
        let chain = (1...1_000).map { "a\($0): $a\($0 - 1) + 1" }.joined(separator: ", ")
        let spec = """
            input: [3, 8, 8]
            vars: {one: 1, x: \(sum), a0: 0, \(chain)}
            stem: [{conv: {out: \(terms) - 988 + 1, kernel: 1}}, {conv: {out: $x - $a1000 + 1, kernel: 1}}]

            """
        let loaded = try SpecLoader.load(path: "spec.yaml", source: .memory(["spec.yaml": spec]), overrides: [])
        let printed = SpecPrinter.yaml(loaded)
        #expect(printed.contains("  - conv: {out: 11, kernel: 1}\n  - conv: {out: 1, kernel: 1}\n"))
        #expect(printed.contains(" a1000 = 1000,") && printed.contains(" x = 1000\n"))
        let expression = try ExpressionParser.parse(terms, at: Location(file: "", line: 1, column: 1))
        #expect(SpecPrinter.text(expression) == terms)
    }
}
