/// Names and paths set in Markdown (CommonMark, with GitHub's tables) as the characters they are.
enum Markdown {
    /// `text` with every character that Markdown would read as markup escaped: emphasis (`*`, `_` at
    /// a word's edge, `~`), code, links, HTML and entities (`<`, `>`, `&`), a table's `|`, and the
    /// backslash itself. A `_` inside a word (`relu6_1`) is left as it is: it emphasises nothing there.
    static func escaped(_ text: String) -> String {
        let characters = Array(text)
        func atEdge(_ neighbour: Int) -> Bool {
            !characters.indices.contains(neighbour)
                || !(characters[neighbour].isLetter || characters[neighbour].isNumber)
        }
        var out = ""
        for (index, character) in characters.enumerated() {
            if "\\`*~[]<>&|".contains(character) || (character == "_" && (atEdge(index - 1) || atEdge(index + 1))) {
                out.append("\\")
            }
            out.append(character)
        }
        return out
    }

    /// `text` as inline code: fenced by more backticks than any run of them in it, and padded with a
    /// space where it starts or ends with one.
    static func code(_ text: String) -> String {
        var longest = 0, run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        return fence + pad + text + pad + fence
    }
}
