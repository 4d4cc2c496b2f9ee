/// NaN and infinities in a batch of outputs, for `run` and `bench` to report: a diverged checkpoint
/// (or an input far outside the trained range) must not pass for a healthy one.
public struct NonFiniteOutputs: Equatable, Sendable {
    public var nan = 0
    public var infinite = 0
    /// Images (0-based) with at least one non-finite output.
    public var images: [Int] = []
    public var imageCount: Int
    public var valueCount: Int

    /// Counts over `images` outputs of equal size laid out one after another.
    public init(_ outputs: [Float], images imageCount: Int) {
        self.imageCount = imageCount
        valueCount = outputs.count
        let perImage = imageCount > 0 ? outputs.count / imageCount : 0
        for (index, value) in outputs.enumerated() where !value.isFinite {
            if value.isNaN { nan += 1 } else { infinite += 1 }
            let image = perImage > 0 ? index / perImage : 0
            if images.last != image { images.append(image) }
        }
    }

    /// One line for standard error, or nil when every output is finite.
    public var warning: String? {
        guard nan + infinite > 0 else { return nil }
        let shown =
            images.prefix(10).map(String.init).joined(separator: ", ")
            + (images.count > 10 ? ", ... (\(images.count) in all)" : "")
        return
            "warning: \(Format.grouped(nan)) NaN and \(Format.grouped(infinite)) infinite of \(Format.grouped(valueCount)) output values, "
            + "in image\(images.count == 1 ? "" : "s") \(shown) of \(imageCount): the weights or the input hold NaN or infinity, or the activations overflowed"
    }
}
