/// Two reports side by side: a spec against its sequential variant, or any two specs.
/// Differences are B - A, and percentages are relative to A.
public struct Comparison: Codable, Hashable, Sendable {
    public struct Side: Codable, Hashable, Sendable {
        public var network: String
        public var variant: Graph.Variant
        public var source: String
        /// The `--set name=value` overrides the side was compiled with, as written.
        public var overrides: [String]
        /// The side's compilation warnings, as its report has them (also printed to standard error).
        public var warnings: [Report.Warning]

        init(_ report: Report) {
            (network, variant, source, overrides) = (report.network, report.variant, report.source, report.overrides)
            warnings = report.warnings
        }

        /// As the report's first line names it: `resnet-56 (shared) --set depth=20`.
        var label: String { Report.label(network, variant, overrides: overrides) }
    }

    public struct Metric: Codable, Hashable, Sendable {
        public var metric: String
        public var a: Int
        public var b: Int
        public var delta: Int
        /// Nil when A is zero.
        public var deltaPercent: Double?

        init(_ metric: String, _ a: Int, _ b: Int) {
            self.metric = metric
            self.a = a
            self.b = b
            delta = b - a
            deltaPercent = a == 0 ? (b == 0 ? 0 : nil) : percent(b - a, of: a)
        }

        enum CodingKeys: String, CodingKey { case metric, a, b, delta, deltaPercent = "delta_percent" }
    }

    public struct StageDelta: Codable, Hashable, Sendable {
        public var name: String
        /// Nil when the stage exists on one side only.
        public var a: Report.StageRow?
        public var b: Report.StageRow?
        public var parameters: Metric
        public var macs: Metric
    }

    public var a: Side
    public var b: Side
    public var totals: [Metric]
    public var stages: [StageDelta]

    public init(_ a: Report, _ b: Report) {
        self.a = Side(a)
        self.b = Side(b)
        totals = [
            Metric("parameters", a.parameters.total, b.parameters.total),
            Metric("parameters per use", a.parameters.perUse, b.parameters.perUse),
            Metric("saved by sharing", a.parameters.saved, b.parameters.saved),
            Metric("buffers", a.parameters.buffers, b.parameters.buffers),
            Metric("weight bytes", a.weightBytes, b.weightBytes),
            Metric("MACs", a.macs, b.macs),
            Metric("weighted layers", a.layers.total, b.layers.total),
            Metric("distinct weighted layers", a.layers.distinct, b.layers.distinct),
            Metric("tied weights", a.ties.count, b.ties.count)
        ]
        stages = Self.merged(a.stages, b.stages).map { name in
            let left = a.stages.first { $0.name == name }, right = b.stages.first { $0.name == name }
            return StageDelta(
                name: name, a: left, b: right,
                parameters: Metric("parameters", left?.parameters ?? 0, right?.parameters ?? 0),
                macs: Metric("MACs", left?.macs ?? 0, right?.macs ?? 0))
        }
    }

    /// Stage names matched by name, in network order: A's, with each stage of B alone placed after the row
    /// before it in B and after A's own stages that follow that row (A's first, then B's). Every report
    /// starts with a stem row and ends with a head row, so these stay at the ends.
    static func merged(_ a: [Report.StageRow], _ b: [Report.StageRow]) -> [String] {
        var names = a.map(\.name)
        let inB = Set(b.map(\.name))
        var previous: String?
        for row in b {
            if !names.contains(row.name) {
                var index = previous.flatMap { names.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
                while index < names.count, !inB.contains(names[index]) { index += 1 }
                names.insert(row.name, at: index)
            }
            previous = row.name
        }
        return names
    }

    public func rendered(as format: ReportFormat) -> String {
        switch format {
        case .json: return JSONRendering.render(self)
        case .text: return ComparisonText.render(self, markdown: false)
        case .markdown: return ComparisonText.render(self, markdown: true)
        }
    }
}

enum ComparisonText {
    static func render(_ comparison: Comparison, markdown: Bool) -> String {
        var out = ""
        func heading(_ title: String) { out += markdown ? "\n## \(title)\n\n" : "\n\(title)\n" }
        func table(_ table: Table) { out += markdown ? table.markdown() : table.text() }
        let (a, b) = (comparison.a.label, comparison.b.label)
        out += markdown ? "# \(Markdown.escaped(a)) vs \(Markdown.escaped(b))\n\n" : "\(a) vs \(b)\n"
        out +=
            markdown
            ? "A is \(Markdown.code(comparison.a.source)), B is \(Markdown.code(comparison.b.source)). Differences are B - A, relative to A.\n"
            : "  A  \(comparison.a.source)\n  B  \(comparison.b.source)\n  differences are B - A, relative to A\n"
        out += (markdown ? "\n" : "\n  ") + summary(comparison) + "\n"

        heading("Totals")
        var totals = Table([("", .left), ("A", .right), ("B", .right), ("B - A", .right), ("change", .right)])
        for metric in comparison.totals {
            totals.add([
                metric.metric, Format.grouped(metric.a), Format.grouped(metric.b), Format.signed(metric.delta),
                Format.change(from: metric.a, to: metric.b)
            ])
        }
        table(totals)

        heading("Stages")
        var stages = Table([
            ("stage", .left), ("blocks A", .right), ("blocks B", .right), ("parameters A", .right),
            ("parameters B", .right), ("B - A", .right), ("change", .right), ("MACs A", .right),
            ("MACs B", .right), ("change", .right)
        ])
        for stage in comparison.stages {
            stages.add([
                stage.name, stage.a.map { Format.grouped($0.blocks) } ?? "-",
                stage.b.map { Format.grouped($0.blocks) } ?? "-",
                Format.grouped(stage.parameters.a), Format.grouped(stage.parameters.b),
                Format.signed(stage.parameters.delta),
                Format.change(from: stage.parameters.a, to: stage.parameters.b), Format.grouped(stage.macs.a),
                Format.grouped(stage.macs.b), Format.change(from: stage.macs.a, to: stage.macs.b)
            ])
        }
        // As the report's stage table ends: the totals (parameters distinct, as in the Totals above).
        let blocks = { (side: (Comparison.StageDelta) -> Report.StageRow?) in
            Format.grouped(comparison.stages.reduce(0) { $0 + (side($1)?.blocks ?? 0) })
        }
        let parameters = comparison.totals[0], macs = comparison.totals[5]
        stages.add([
            "total", blocks(\.a), blocks(\.b), Format.grouped(parameters.a), Format.grouped(parameters.b),
            Format.signed(parameters.delta), Format.change(from: parameters.a, to: parameters.b),
            Format.grouped(macs.a), Format.grouped(macs.b), Format.change(from: macs.a, to: macs.b)
        ])
        table(stages)
        return out
    }

    /// One sentence with the trade-off, in the table's terms: B against A, relative to A.
    static func summary(_ comparison: Comparison) -> String {
        let parameters = comparison.totals[0], macs = comparison.totals[5]
        // A change relative to nothing (A at 0) has no percentage: the sentence gives the counts alone.
        let compute: String
        if macs.delta == 0 {
            compute = "at the same compute (\(Format.metric(macs.a, unit: "MACs")) per image)"
        } else if macs.a != 0 {
            compute =
                "with \(Format.change(from: macs.a, to: macs.b)) MACs in B (\(Format.metric(macs.a, unit: "MACs")) -> \(Format.metric(macs.b, unit: "MACs")))"
        } else {
            compute = "with \(Format.metric(macs.b, unit: "MACs")) in B and none in A"
        }
        if parameters.delta == 0 {
            return "Both have \(Format.grouped(parameters.a)) \(Format.noun("parameter", for: parameters.a)), "
                + compute + "."
        }
        let direction = parameters.delta > 0 ? "more" : "fewer"
        let change = parameters.a == 0 ? "" : " (\(Format.change(from: parameters.a, to: parameters.b)))"
        return
            "B has \(Format.grouped(abs(parameters.delta))) \(direction) \(Format.noun("parameter", for: abs(parameters.delta))) "
            + "than A\(change), " + compute + "."
    }
}
