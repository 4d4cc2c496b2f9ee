/// Where each character of a scalar's text is in its file. YAML folds a scalar written over several
/// lines into one text (plain, quoted or `>`), drops the indentation of a block scalar's lines, and
/// starts a block scalar on the line after its `|` or `>`; so an offset into the text is a column on
/// the scalar's first line only for text on one line.
struct TextPositions: Sendable, Hashable {
    /// A part of the text that lies along one line: from text offset `offset` (in Unicode scalars) on,
    /// starting at `start`.
    struct Run: Sendable, Hashable {
        var offset: Int
        var start: Location
    }

    private(set) var runs: [Run]
    /// The offset just past the text's last character that is not blank, where known: the end of the
    /// text as a reader sees it (a block scalar's text ends with a line break).
    private var end: Int?

    /// Text that lies along one line from `start`.
    init(start: Location) { runs = [Run(offset: 0, start: start)] }

    /// Where the text's scalar at `offset` is: along the run it falls in; before the first run (a
    /// leading blank), back along that run; past the text's end, just after its last character.
    func location(at offset: Int) -> Location {
        let offset = min(offset, end ?? offset)
        let run = runs.last { $0.offset <= offset } ?? runs[0]
        var location = run.start
        location.column = max(1, location.column + offset - run.offset)
        return location
    }

    /// How a scalar is written, for where its text starts and what may lie between its characters.
    enum Style { case plain, quoted, doubleQuoted, block }

    /// Finds `text`, written in `style` from `mark` (past an anchor, `&name`, where one is there), in the
    /// file's `lines`: each character that is not blank is the next one in the file that is not blank
    /// (YAML only folds and strips blanks and line breaks, and a double-quoted scalar's escapes of
    /// them); a new run starts wherever one is not right after the one before. Nil where the text is
    /// not found so, or has no character that is not blank.
    init?(locating text: String, style: Style, in lines: [[Unicode.Scalar]], at mark: Location) {
        var line = mark.line - 1, column = mark.column - 1
        guard line >= 0, line < lines.count, column >= 0 else { return nil }
        // An anchor (`&name`) before the value, where the mark is.
        if column < lines[line].count, lines[line][column] == "&" {
            while column < lines[line].count, !Self.isBlank(lines[line][column]) { column += 1 }
            guard Self.skipBlanks(in: lines, &line, &column, style: .plain) else { return nil }
        }
        switch style {
        case .plain: break
        case .quoted, .doubleQuoted: column += 1
        case .block: (line, column) = (line + 1, 0)
        }
        var runs: [Run] = [], end = 0
        for (offset, scalar) in text.unicodeScalars.enumerated() where !Self.isBlank(scalar) {
            guard Self.skipBlanks(in: lines, &line, &column, style: style) else { return nil }
            let written = Self.written(scalar, style: style, at: column, in: lines[line])
            guard written > 0 else { return nil }
            let location = Location(file: mark.file, line: line + 1, column: column + 1)
            if runs.last.map({ location != $0.start.advanced(by: offset - $0.offset) }) ?? true {
                runs.append(Run(offset: offset, start: location))
            }
            column += written
            end = offset + 1
        }
        guard !runs.isEmpty else { return nil }
        self.runs = runs
        self.end = end
    }

    /// Moves to the next character of `lines` that is not blank, nor a line end, nor in a
    /// double-quoted scalar an escape that stands for a blank (`\t`, `\x20`) or a line break; false
    /// where the lines end first.
    private static func skipBlanks(
        in lines: [[Unicode.Scalar]], _ line: inout Int, _ column: inout Int, style: Style
    ) -> Bool {
        while line < lines.count {
            let here = lines[line]
            if column >= here.count {
                (line, column) = (line + 1, 0)
            } else if isBlank(here[column]) {
                column += 1
            } else if style == .doubleQuoted, here[column] == "\\", let blank = blankEscape(at: column, in: here) {
                column += blank
            } else {
                return true
            }
        }
        return false
    }

    /// The length of the escape at `column` of a double-quoted scalar's line where it stands for a
    /// blank or a line break (`\` at the line's end, `\t`, `\ `, `\n`, `\r`, `\x20`, `\u0009`, ...).
    private static func blankEscape(at column: Int, in line: [Unicode.Scalar]) -> Int? {
        guard column + 1 < line.count else { return 1 }
        let kind = line[column + 1]
        if isBlank(kind) || "tnr".unicodeScalars.contains(kind) { return 2 }
        guard let length = escapeLength(at: column, in: line), length > 2,
            let code = UInt32(String(String.UnicodeScalarView(line[(column + 2)..<(column + length)])), radix: 16),
            let scalar = Unicode.Scalar(code), isBlank(scalar)
        else { return nil }
        return length
    }

    /// The length of the escape at `column` of a double-quoted scalar's line: `\x` with 2 hex digits,
    /// `\u` with 4, `\U` with 8, else a backslash and one character; nil where the line ends first.
    private static func escapeLength(at column: Int, in line: [Unicode.Scalar]) -> Int? {
        let next = column + 1 < line.count ? line[column + 1] : " "
        let length = ["x": 4, "u": 6, "U": 10][next] ?? 2
        return column + length <= line.count ? length : nil
    }

    /// How many characters of `line` from `column` stand for `scalar`: 1 where it is written as itself,
    /// an escape's length in a double-quoted scalar (`\x24` for `$`); 0 where they do not stand for it
    /// (nor a single-quoted scalar's `''`, which no expression holds).
    private static func written(_ scalar: Unicode.Scalar, style: Style, at column: Int, in line: [Unicode.Scalar])
        -> Int
    {
        switch (style, line[column]) {
        case (.doubleQuoted, "\\"):
            return escapeLength(at: column, in: line) ?? 0
        case (_, let written):
            return written == scalar ? 1 : 0
        }
    }

    /// A file's lines as libyaml counts them: broken at `\n`, `\r\n` and a lone `\r`.
    static func lines(of text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = [], current: [Unicode.Scalar] = [], afterReturn = false
        for scalar in text.unicodeScalars {
            if afterReturn, scalar == "\n" {
                afterReturn = false
                continue
            }
            afterReturn = scalar == "\r"
            if scalar == "\n" || scalar == "\r" {
                lines.append(current)
                current = []
            } else {
                current.append(scalar)
            }
        }
        lines.append(current)
        return lines
    }

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r"
    }
}

extension Location {
    /// The location `columns` further along the same line.
    func advanced(by columns: Int) -> Location {
        Location(file: file, line: line, column: column + columns)
    }
}
