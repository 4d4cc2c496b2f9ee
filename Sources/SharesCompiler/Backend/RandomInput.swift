/// Deterministic standard-normal images for `run` and `bench` when no input file is given.
public enum RandomInput {
    public static func images(_ count: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in Float(random.normal()) }
    }
}
