/// "Did you mean" for a misspelt name: the known names closest to it by edit distance, when they are close.
public enum Suggestion {
    static let longestComparedName = 256

    /// The known names nearest `name` (at most three, in the order given), or none when the nearest is
    /// further than a typo away: one edit for names of up to five characters, then one more per three.
    /// Letter case counts for nothing and a swap of two neighbours is one edit (`repaet` -> `repeat`);
    /// failing that, a known name that begins the name or that it begins is close too.
    static func closest(to name: String, among known: [String]) -> [String] {
        // No name is a typo of one many times its length; comparing each of thousands of errors'
        // 900,000-character word with every known name took minutes.
        guard name.utf8.count <= Self.longestComparedName else { return [] }
        let limit = name.count < 3 ? 0 : max(1, name.count / 3)
        var best = Int.max, nearest: [String] = []
        for candidate in known where candidate != name {
            let distance = editDistance(name.lowercased(), candidate.lowercased(), limit: limit)
            guard distance <= limit else { continue }
            if distance < best {
                best = distance
                nearest = [candidate]
            } else if distance == best, !nearest.contains(candidate) {
                nearest.append(candidate)
            }
        }
        // No typo near: a name that one of them begins, or that begins one (`convolution` -> `conv`).
        if nearest.isEmpty && name.count >= 3 {
            let lowered = name.lowercased()
            nearest = known.filter { candidate in
                let other = candidate.lowercased()
                return other.count >= 3 && other != lowered && (lowered.hasPrefix(other) || other.hasPrefix(lowered))
            }
        }
        return Array(nearest.prefix(3))
    }

    /// `; did you mean 'stages'?` (names quoted as written by `quote`), or "" when nothing is close.
    public static func clause(for name: String, among known: [String], quote: (String) -> String = { "'\($0)'" })
        -> String
    {
        let nearest = closest(to: name, among: known).map(quote)
        guard let last = nearest.last else { return "" }
        let list = nearest.count == 1 ? last : nearest.dropLast().joined(separator: ", ") + " or " + last
        return "; did you mean \(list)?"
    }

    /// Optimal string alignment distance (insertions, deletions, substitutions and adjacent swaps);
    /// anything above `limit` comes back as `limit + 1`, found without filling the whole table.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if abs(a.count - b.count) > limit { return limit + 1 }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            var rowMinimum = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > limit { return limit + 1 }
            (before, previous, current) = (previous, current, before)
        }
        return min(previous[b.count], limit + 1)
    }
}
