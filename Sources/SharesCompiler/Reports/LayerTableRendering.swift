/// The per-layer table as the report's last section, in text or Markdown (the report's JSON holds it as
/// `per_layer`). A total row closes it: the sums of the rows, which the tests hold to the report's totals.
enum LayerTableText {
    static func title(_ depth: LayerTable.Depth) -> String {
        switch depth {
        case .stages: return "Per stage"
        case .blocks: return "Per block"
        case .layers: return "Per layer"
        }
    }

    static func table(_ layers: LayerTable) -> Table {
        var table = Table([
            ("name", .left), ("kind", .left), ("output", .left), ("parameters", .right), ("per use", .right),
            ("MACs", .right), ("tie", .left), ("activation bytes", .right)
        ])
        for row in layers.rows {
            table.add([
                row.name, row.kind, row.output.description, Format.grouped(row.parameters), Format.grouped(row.perUse),
                Format.grouped(row.macs), row.ties.isEmpty ? "-" : row.ties.joined(separator: ", "),
                Format.grouped(row.activationBytes)
            ])
        }
        func total(_ column: KeyPath<LayerTable.Row, Int>) -> String {
            Format.grouped(layers.rows.reduce(0) { $0 + $1[keyPath: column] })
        }
        table.add([
            "total", "", "", total(\.parameters), total(\.perUse), total(\.macs), "", total(\.activationBytes)
        ])
        return table
    }
}
