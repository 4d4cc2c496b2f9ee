import Foundation

/// A table rendered either as aligned text for a terminal or as a Markdown pipe table.
struct Table {
    enum Alignment { case left, right }

    var columns: [(title: String, alignment: Alignment)]
    var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) { self.columns = columns.map { (title: $0.0, alignment: $0.1) } }

    mutating func add(_ row: [String]) { rows.append(row) }

    func text(indent: String = "  ") -> String {
        let widths = columns.indices.map { column in
            ([columns[column].title] + rows.map { $0[column] }).map(\.displayWidth).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { column, cell in
                // A left-aligned last column is never padded: one long cell (the values of a buffer that
                // a whole stage writes in place) would otherwise pad every row to its width.
                if column == cells.count - 1 && columns[column].alignment == .left { return cell }
                let padding = String(repeating: " ", count: widths[column] - cell.displayWidth)
                return columns[column].alignment == .left ? cell + padding : padding + cell
            }
            return indent + padded.joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(columns.map(\.title))] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    func markdown() -> String {
        let header = "| " + columns.map(\.title).joined(separator: " | ") + " |"
        let rule = "|" + columns.map { $0.alignment == .left ? "---|" : "---:|" }.joined()
        let body = rows.map { "| " + $0.map(Markdown.escaped).joined(separator: " | ") + " |" }
        return ([header, rule] + body).joined(separator: "\n") + "\n"
    }
}

extension String {
    /// Columns on a terminal: two for East Asian wide and fullwidth characters (a stage named 阶段二
    /// pushed its row's columns right by three), none for zero-width ones, one for the rest.
    var displayWidth: Int {
        reduce(0) { width, character in
            guard let scalar = character.unicodeScalars.first else { return width }
            switch scalar.value {
            case 0x200B...0x200F, 0x2060...0x2064, 0xFEFF: return width
            case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
                0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
                0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
                return width + 2
            default: return width + 1
            }
        }
    }

    func trimmingTrailingSpaces() -> String {
        guard let last = lastIndex(where: { $0 != " " }) else { return "" }
        return String(self[...last])
    }
}

/// Number formats shared by the renderers.
public enum Format {
    /// `20469800` -> `20,469,800`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// A count and its noun, singular for one, digits grouped as in the reports: `1 parameter`,
    /// `0 parameters`, `20,469,800 parameters`.
    public static func counted(_ count: Int, _ noun: String) -> String {
        grouped(count) + " " + Self.noun(noun, for: count)
    }

    /// `noun` as it goes with `count`: `parameter` for one, `parameters` for any other count.
    static func noun(_ noun: String, for count: Int) -> String { count == 1 ? noun : noun + "s" }

    /// Signed, for differences: `+1,234`, `-56`, `0`.
    static func signed(_ value: Int) -> String { value > 0 ? "+" + grouped(value) : grouped(value) }

    /// `part` of `whole` as a percentage with one decimal, `19.0%` for 4 of 21: rounded once, from the
    /// counts (not from a value already rounded to two decimals, which gave 19.1%). 0.0% of nothing.
    /// Rounding never makes something look like nothing or all: a part that one decimal shows as 0.0% or
    /// 100.0% takes the decimals its difference needs (`0.02%`, `99.99%`), up to the thirteen a double
    /// holds below 100 (`99.9999999999091%`, `0.00000001%`), as the JSON gives them (six and a mark,
    /// `>99.999999%`, read as an arrow after a change's minus sign). The whole number of percent is
    /// grouped as counts are (`+999,900.0%`).
    static func percent(_ part: Int, of whole: Int) -> String {
        let value = whole == 0 ? 0 : Double(part) / Double(whole) * 100
        guard let decimals = percentDecimals(part, of: whole, from: 1, to: 13) else {
            return value < 50 ? "<0.0000000000001%" : part < whole ? ">99.9999999999999%" : ">100%"
        }
        return groupedWholePart(fixed(value, decimals: decimals)) + "%"
    }

    /// The fewest decimals, from `fewest` to `most`, at which `part / whole` in percent rounds neither
    /// to 0 (a part that is not nothing) nor to 100 (a part that is not all of the whole); nil where none
    /// does. The text's percentages and the JSON's take theirs from here.
    static func percentDecimals(_ part: Int, of whole: Int, from fewest: Int, to most: Int) -> Int? {
        let value = whole == 0 ? 0 : Double(part) / Double(whole) * 100
        return (fewest...most).first { decimals in
            let shown = rounded(value, decimals: decimals)
            return (shown != 0 || part == 0) && (abs(shown) != 100 || part.magnitude == whole.magnitude)
        }
    }

    /// `value` rounded to `decimals` decimals (half away from zero).
    static func rounded(_ value: Double, decimals: Int) -> Double {
        let scale = (0..<decimals).reduce(1.0) { product, _ in product * 10 }
        return (value * scale).rounded() / scale
    }

    /// `-999900.0` -> `-999,900.0`; text that is not a sign, digits and a fraction (`1.2e+20`) as it is.
    private static func groupedWholePart(_ text: String) -> String {
        let sign = text.hasPrefix("-") ? "-" : ""
        let parts = text.dropFirst(sign.count).split(separator: ".", maxSplits: 1)
        guard let first = parts.first, first.allSatisfy(\.isASCII), first.allSatisfy(\.isNumber), let whole = Int(first)
        else { return text }
        return sign + grouped(whole) + (parts.count == 2 ? "." + parts[1] : "")
    }

    /// A change from `a` to `b` relative to `a`, signed as the change is: `+0.1%`, and for changes
    /// too small for one decimal, `+0.02%` (`0.0%` only for none). `n/a` from nothing to something.
    static func change(from a: Int, to b: Int) -> String {
        if a == 0 { return b == 0 ? "0.0%" : "n/a" }
        let magnitude = percent(Int(exactly: (b - a).magnitude) ?? Int.max, of: abs(a))
        return (b > a ? "+" : b < a ? "-" : "") + magnitude
    }

    /// Fixed decimals without Foundation's locale-dependent formatting. Total over every Double:
    /// `nan`, `inf` and `-inf` as such, and magnitudes too large for exact integer arithmetic
    /// (2^53 and up, once scaled) in exponent form, `1.2346e+15`.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
        let decimals = min(max(decimals, 0), 15)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9_007_199_254_740_992 else { return exponential(value, decimals: decimals) }
        let whole = Int(scaled / scale), fraction = Int(scaled) - whole * Int(scale)
        var fractionText = String(fraction)
        while fractionText.count < decimals { fractionText = "0" + fractionText }
        return (value < 0 && scaled != 0 ? "-" : "") + String(whole) + (decimals > 0 ? "." + fractionText : "")
    }

    /// `d.dddde+XX` with `decimals` digits after the point, for a finite value of large magnitude.
    static func exponential(_ value: Double, decimals: Int) -> String {
        var exponent = Int(log10(abs(value)).rounded(.down))
        var mantissa = fixed(abs(value) / pow(10, Double(exponent)), decimals: decimals)
        if mantissa.hasPrefix("10") {  // rounding carried into the next power of ten
            exponent += 1
            mantissa = fixed(abs(value) / pow(10, Double(exponent)), decimals: decimals)
        }
        let digits = String(abs(exponent))
        return (value < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+") + (digits.count < 2 ? "0" : "")
            + digits
    }

    /// `4089184256` -> `4.089 G` (SI prefixes, three decimals); with a unit, `4.089 GMACs` or `512 MACs`.
    public static func metric(_ value: Int, unit: String = "") -> String {
        let prefixes: [(Double, String)] = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        guard let (scale, prefix) = largestUnit(Double(value.magnitude), prefixes, ratio: 1000, decimals: 3) else {
            return unit.isEmpty ? String(value) : "\(value) \(unit)"
        }
        return fixed(Double(value) / scale, decimals: 3) + " " + prefix + unit
    }

    /// `81879200` -> `78.09 MiB`.
    public static func bytes(_ value: Int) -> String {
        let units: [(Double, String)] = [
            (0x1p60, "EiB"), (0x1p50, "PiB"), (0x1p40, "TiB"), (0x1p30, "GiB"), (0x1p20, "MiB"), (0x1p10, "KiB")
        ]
        guard let (scale, unit) = largestUnit(Double(value), units, ratio: 1024, decimals: 2) else {
            return "\(value) B"
        }
        return fixed(Double(value) / scale, decimals: 2) + " " + unit
    }

    /// The largest of `units` (largest first, each `ratio` times the next) that `magnitude` reaches once
    /// rounded to `decimals` in the unit below: 999,999,759 is 1.000 G, not 1000.000 M.
    private static func largestUnit(_ magnitude: Double, _ units: [(Double, String)], ratio: Double, decimals: Int)
        -> (Double, String)?
    {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        return units.first { unit, _ in
            magnitude >= unit || (magnitude * ratio / unit * scale).rounded() >= ratio * scale
        }
    }
}
