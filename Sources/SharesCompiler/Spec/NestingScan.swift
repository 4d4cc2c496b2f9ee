/// A cheap upper bound on a YAML text's nesting depth, checked before parsing: the composer recurses
/// once per level, so `[[[[...` a million deep would overflow the stack. The bound counts indentation,
/// leading block indicators (`- `, `? `, `: `) and open flow brackets, so it never underestimates.
enum NestingScan {
    static func firstTooDeep(_ text: String, limit: Int) -> (line: Int, column: Int)? {
        var flowDepth = 0
        var lineNumber = 0
        // Split scalars, not characters: "\r\n" is one Character, so CRLF text would be a single line.
        for line in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let scalars = Array(line)
            var index = 0
            while index < scalars.count, scalars[index] == " " { index += 1 }
            var depth = index + flowDepth
            // Compact nested sequences and explicit keys: "- - - x", "? ? x".
            // (Reported at the indicator that goes past the limit, not at the end of the run.)
            if depth > limit { return (lineNumber, min(index, scalars.count) + 1) }
            while index + 1 < scalars.count, "-?:".unicodeScalars.contains(scalars[index]), scalars[index + 1] == " " {
                depth += 1
                if depth > limit { return (lineNumber, index + 1) }
                index += 2
                while index < scalars.count, scalars[index] == " " { index += 1 }
            }
            var quote: Unicode.Scalar?
            var column = index
            while column < scalars.count {
                let character = scalars[column]
                let startsToken = column == 0 || " \t[{,:".unicodeScalars.contains(scalars[column - 1])
                column += 1
                if let open = quote {
                    if character == open { quote = nil }
                    continue
                }
                switch character {
                case "\"" where startsToken, "'" where startsToken: quote = character
                case "#" where startsToken: column = scalars.count
                case "[", "{":
                    flowDepth += 1
                    if flowDepth + index > limit { return (lineNumber, column) }
                case "]", "}": flowDepth = max(0, flowDepth - 1)
                default: break
                }
            }
        }
        return nil
    }
}
