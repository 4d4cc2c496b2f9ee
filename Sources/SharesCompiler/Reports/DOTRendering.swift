/// Graphviz DOT pictures of a network (`sharesc graph`). Each tied weight is one cylinder node; dashed
/// edges in its colour run to every block whose convolution uses it, so the sharing is visible at a
/// glance: `sharesc graph spec.yaml | dot -Tsvg > net.svg`.
public enum DOTRendering {
    public enum Detail: Sendable {
        /// Consecutive identical blocks of a stage drawn as one node with their count: readable at any depth.
        case collapsed
        /// Every block its own node.
        case expanded
    }

    /// The network at stage and block level; `overrides` (the `--set` values) go into the title.
    public static func render(_ graph: Graph, detail: Detail = .collapsed, overrides: [String] = []) -> String {
        NetworkDOT.render(graph, collapse: detail == .collapsed, title: Report.label(graph, overrides: overrides))
    }

    /// The inside of one block: a template's name draws the first block built from it (the first with
    /// the most layers, so that a projection shortcut shows); `stage2.block3` draws that block.
    public static func renderBlock(_ graph: Graph, named name: String, overrides: [String] = []) throws(CompileFailure)
        -> String
    {
        try BlockDOT.render(graph, named: name, network: Report.label(graph, overrides: overrides))
    }

    /// The file formats `sharesc graph -o` writes, from the file's extension.
    public enum FileFormat: String, CaseIterable, Sendable {
        case dot, svg, png

        /// The format `path` names, or an error that lists the ones there are; `-`, standard output,
        /// takes DOT (for a pipe into Graphviz, or a file of another name).
        public init(path: String) throws(CompileFailure) {
            if path == "-" {
                self = .dot
                return
            }
            let suffix = path.split(separator: "/").last?.split(separator: ".", omittingEmptySubsequences: false)
            guard let suffix, suffix.count > 1, let format = FileFormat(rawValue: suffix.last!.lowercased()) else {
                throw CompileFailure(
                    Diagnostic(
                        at: .commandLine("-o \(path)"),
                        .pictureFormat(path: path, known: FileFormat.allCases.map(\.rawValue))))
            }
            self = format
        }
    }

    static let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

    static func color(tie: Int) -> String { palette[tie % palette.count] }

    /// `digraph` with the title and the fonts and shapes every picture shares.
    static func header(_ graph: Graph, title: String) -> String {
        "digraph \(quoted(graph.network)) {\n"
            + "  graph [rankdir=TB, fontname=\"Helvetica\", label=\(quoted(title)), labelloc=t];\n"
            + "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n"
            + "  edge [fontname=\"Helvetica\", fontsize=9];\n"
    }

    static func quoted(_ lines: [String]) -> String { quoted(lines.joined(separator: "\n")) }

    /// A DOT string: quotes and backslashes escaped, and `&` written `&amp;`, since Graphviz decodes
    /// HTML entities in labels (a stage named `R&amp;D` was drawn as "R&D").
    static func quoted(_ text: String) -> String {
        "\""
            + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
            .replacing("&", with: "&amp;") + "\""
    }
}
