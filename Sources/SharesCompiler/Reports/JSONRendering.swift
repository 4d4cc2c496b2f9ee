import Foundation

/// Stable JSON: sorted keys, two-space indentation, a trailing newline; NaN and infinities as the
/// strings "nan", "inf" and "-inf" (JSON has no numbers for them).
public enum JSONRendering {
    public static func render<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding our own plain value types cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

extension Report {
    public var json: String { JSONRendering.render(self) }
}
