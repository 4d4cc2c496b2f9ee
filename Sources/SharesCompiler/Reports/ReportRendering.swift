/// Output formats shared by `compile` and `compare`.
public enum ReportFormat: String, CaseIterable, Sendable {
    case text, json, markdown
}

extension Report {
    public func rendered(as format: ReportFormat) -> String {
        switch format {
        case .text: return ReportText.render(self, markdown: false)
        case .markdown: return ReportText.render(self, markdown: true)
        case .json: return json
        }
    }
}

/// The human-readable report: totals, then one row per stage, then one row per tie, then (when asked for)
/// the per-layer table.
/// Text and Markdown share the layout; only headings and table syntax differ.
enum ReportText {
    static func render(_ report: Report, markdown: Bool) -> String {
        var out = ""
        func heading(_ title: String) { out += markdown ? "\n## \(title)\n\n" : "\n\(title)\n" }
        func table(_ table: Table) { out += markdown ? table.markdown() : table.text() }

        let name = Report.label(report.network, report.variant, overrides: report.overrides)
        out += markdown ? "# \(Markdown.escaped(name))\n\n" : "\(name)\n"
        out +=
            (markdown
                ? "Spec \(Markdown.code(report.source)), input \(report.input), output \(report.output).\n"
                : "  spec    \(report.source)\n  input   \(report.input)\n  output  \(report.output)\n")

        heading("Totals")
        var totals = Table([("", .left), ("count", .right), ("", .left)])
        // The count again with an SI prefix, where it has one (`688` twice said nothing).
        func scaled(_ count: Int) -> String { count.magnitude < 1000 ? "" : Format.metric(count) }
        let p = report.parameters
        totals.add(["parameters (distinct, trainable)", Format.grouped(p.total), scaled(p.total)])
        totals.add(["parameters per use (unshared)", Format.grouped(p.perUse), scaled(p.perUse)])
        totals.add(["saved by sharing", Format.grouped(p.saved), Format.percent(p.saved, of: p.perUse)])
        totals.add(["buffers (batchnorm statistics)", Format.grouped(p.buffers), ""])
        totals.add(["weight bytes (float32)", Format.grouped(report.weightBytes), Format.bytes(report.weightBytes)])
        totals.add(["MACs per image", Format.grouped(report.macs), scaled(report.macs)])
        totals.add(["FLOPs per image (2 x MACs)", Format.grouped(report.flops), scaled(report.flops)])
        totals.add(["weighted layers per use (conv + linear)", Format.grouped(report.layers.total), ""])
        totals.add(["weighted layers, distinct weights", Format.grouped(report.layers.distinct), ""])
        table(totals)

        heading("Stages")
        var stages = Table([
            ("stage", .left), ("block", .left), ("blocks", .right), ("output", .left), ("parameters", .right),
            ("per use", .right), ("saved", .right), ("MACs", .right)
        ])
        for row in report.stages {
            stages.add([
                row.name, row.block ?? "-", Format.grouped(row.blocks), row.output.description,
                Format.grouped(row.parameters),
                Format.grouped(row.perUse), Format.grouped(row.saved), Format.grouped(row.macs)
            ])
        }
        stages.add([
            "total", "", Format.grouped(report.stages.reduce(0) { $0 + $1.blocks }), "", Format.grouped(p.total),
            Format.grouped(p.perUse), Format.grouped(p.saved), Format.grouped(report.macs)
        ])
        table(stages)

        heading("Ties")
        if report.ties.isEmpty {
            out += markdown ? "No tied weights.\n" : "  no tied weights\n"
        } else {
            // `used by` last, as a left-aligned last column is not padded: before `saved`, every row was
            // padded to the longest list (110 MB of text for 4,000 ties of 2,000 stages).
            var ties = Table([
                ("tie", .left), ("weight", .left), ("shape", .left), ("uses", .right), ("saved", .right),
                ("used by", .left)
            ])
            // A tied bias goes with its weight: `saved` counts both, so the row names both.
            for tie in report.ties {
                let shape = tie.shape.map(String.init).joined(separator: "x")
                ties.add([
                    tie.name, tie.weight + (tie.bias == nil ? "" : " + bias"),
                    shape + (tie.bias == nil ? "" : " + \(tie.shape[0])"), Format.grouped(tie.uses),
                    Format.grouped(tie.saved), UseList.compact(tie.usedBy)
                ])
            }
            table(ties)
        }

        if let layers = report.perLayer {
            heading(LayerTableText.title(layers.depth))
            table(LayerTableText.table(layers))
        }
        if let memory = report.memory {
            heading("Memory at batch \(memory.batch) (float32)")
            table(MemoryText.table(memory))
        }
        return out
    }
}

/// The memory section: inference first (the plan's arena per image, then N of them), then what a training step
/// holds, with SGD with momentum and with Adam.
enum MemoryText {
    static func table(_ memory: Report.Memory) -> Table {
        var table = Table([("", .left), ("bytes", .right), ("", .left)])
        func row(_ label: String, _ bytes: Int) { table.add([label, Format.grouped(bytes), Format.bytes(bytes)]) }
        let i = memory.inference, t = memory.training, n = memory.batch
        row("inference: activation arena, one image", i.arenaBytesPerImage)
        row("inference: \(Format.counted(n, "arena")), one per image (sharesc run holds one per thread)", i.arenaBytes)
        row("inference: weights (distinct)", i.weightBytes)
        row("inference: buffers (batchnorm statistics)", i.bufferBytes)
        row("inference: total", i.totalBytes)
        row("training: weights (distinct)", t.weightBytes)
        row("training: gradients", t.gradientBytes)
        row("training: buffers (batchnorm statistics)", t.bufferBytes)
        row("training: activations saved for backward that grow with each image", t.savedActivationBytesPerImage)
        row("training: activations saved for backward, batch \(n)", t.savedActivationBytes)
        row("training: SGD momentum (1 x weights)", t.sgdMomentumBytes)
        row("training: Adam moments (2 x weights)", t.adamBytes)
        row("training: total with SGD and momentum", t.totalSGDMomentumBytes)
        row("training: total with Adam", t.totalAdamBytes)
        return table
    }
}

/// Shortens lists of layer paths for tables: `stage1.block1.conv2, stage1.block2.conv2, stage1.block3.conv2`
/// becomes `stage1.block1-3.conv2`.
enum UseList {
    /// Names that differ only in their block number make one entry, in the order each first appears
    /// (a tie read by two convolutions of each block gives `stage2.block1-3.conv1, stage2.block1-3.conv2`,
    /// where grouping only neighbours gave six).
    static func compact(_ names: [String]) -> String {
        var groups: [(prefix: String, suffix: String, blocks: [Int])] = []
        var groupOf: [String: Int] = [:]
        var loose: [String] = []
        for name in names {
            guard let range = name.range(of: ".block"),
                let dot = name[range.upperBound...].firstIndex(of: "."),
                let block = Int(name[range.upperBound..<dot])
            else {
                loose.append(name)
                continue
            }
            let prefix = String(name[..<range.upperBound]), suffix = String(name[dot...])
            if let group = groupOf[prefix + "\u{0}" + suffix] {
                groups[group].blocks.append(block)
            } else {
                groupOf[prefix + "\u{0}" + suffix] = groups.count
                groups.append((prefix, suffix, [block]))
            }
        }
        let compacted = groups.map { group in group.prefix + ranges(group.blocks) + group.suffix }
        return (compacted + loose).joined(separator: ", ")
    }

    /// `[1, 2, 3, 5]` -> `1-3,5`.
    static func ranges(_ values: [Int]) -> String {
        var parts: [String] = []
        var start = values.first ?? 0, previous = start
        for value in values.dropFirst() + [Int.min] {
            if value == previous + 1 {
                previous = value
                continue
            }
            parts.append(start == previous ? String(start) : "\(start)-\(previous)")
            start = value
            previous = value
        }
        return values.isEmpty ? "" : parts.joined(separator: ",")
    }
}
