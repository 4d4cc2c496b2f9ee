/// The shape of one sample's tensor (no batch dimension): `[C, H, W]` for images, `[F]` for features.
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }

    public static func image(channels: Int, height: Int, width: Int) -> Shape { Shape([channels, height, width]) }

    public var isImage: Bool { dims.count == 3 }
    public var channels: Int { dims[0] }
    public var height: Int { dims.count == 3 ? dims[1] : 1 }
    public var width: Int { dims.count == 3 ? dims[2] : 1 }

    /// The product of `factors`, or nil when it does not fit in an Int: every size, weight count and
    /// MAC count of a hostile spec or file goes through here rather than trapping on overflow.
    public static func checkedProduct(_ factors: [Int]) -> Int? {
        var product = 1
        for factor in factors {
            let (result, overflow) = product.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            product = result
        }
        return product
    }

    /// Number of elements; the verifier bounds shapes so this cannot overflow.
    public var elementCount: Int { dims.reduce(1, *) }

    /// `64x56x56`.
    public var description: String { dims.map(String.init).joined(separator: "x") }

    public init(from decoder: any Decoder) throws { dims = try [Int](from: decoder) }
    public func encode(to encoder: any Encoder) throws { try dims.encode(to: encoder) }
}
