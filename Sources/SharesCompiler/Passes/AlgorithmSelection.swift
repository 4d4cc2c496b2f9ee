import CKernels

/// Chooses how each convolution runs: a special case where its geometry has one (depthwise; small
/// groups, which fill few of a GEMM panel's 16 columns, by depthwise's loop where that measured faster,
/// see `groupedPays`; a 1x1 GEMM over pixel rows in place), Winograd's
/// F(4x4, 3x3) or F(2x2, 3x3) for 3x3 stride-1 convolutions where they pay, the indirect GEMM
/// otherwise. Every other step runs by its kernel.
///
/// Where Winograd pays was measured against the indirect GEMM, kernel by kernel (bench/kernel-ab.sh)
/// and inside whole networks (bench/plan-ab.py; figures in the README): from 32 input channels (at 16
/// its GEMMs' reductions are too short to pay for the transforms), while the transformed weights
/// (16/9 of the direct ones for F(2x2, 3x3), 4x for F(4x4, 3x3)) stay within 16 MiB, which covers a
/// 512-channel 3x3 whose weights stream from memory either way; F(4x4, 3x3) where they stay within
/// 4 MiB and a map has tiles enough for the GEMMs' rows. A tied weight is held transformed once for
/// all its uses, which follow each other block after block, so it takes F(4x4, 3x3) up to 9 MiB (256 x
/// 256 channels): its memory is paid once, and its transformed weights are still in L3 at the next
/// use (sharesnet-50's stage 3 3x3s 0.92 of F(2x2, 3x3) inside the network; resnet-50's untied ones
/// gained 0.95 for twice the memory, which a resnet-152 would pay 36 times).
public enum AlgorithmSelection {
    static let winogradMinimumChannels = 32
    /// Bytes of F(2x2, 3x3)'s transformed weights (16 per channel pair) beyond which it does not pay.
    static let winogradMaximumWeightBytes = 16 << 20
    /// Bytes of F(4x4, 3x3)'s transformed weights (36 per channel pair) beyond which F(2x2, 3x3) runs:
    /// of an untied weight, and of a tied one.
    static let f4MaximumWeightBytes = 4 << 20
    static let f4MaximumTiedWeightBytes = 9 << 20
    /// Output tiles of 4 x 4 below which F(4x4, 3x3)'s GEMMs have too few rows.
    static let f4MinimumTiles = 16
    /// The fewest products saved per output, against the direct convolution, for which Winograd pays
    /// for its transforms.
    static let winogradMinimumSaving = 1.5

    /// One algorithm per program step.
    public static func run(_ program: Program) -> [Algorithm] {
        program.steps.map { step in
            guard let geometry = program.convGeometry(of: step, algorithm: .igemm),
                case .conv(let weight, _, _, _, _, _, _) = step.kernel
            else { return .kernel }
            return choose(geometry, tied: program.parameters[weight].uses > 1)
        }
    }

    /// The algorithm for a convolution of this geometry, whose weight is `tied` (used by several steps) or not.
    static func choose(_ direct: sc_conv_geometry, tied: Bool = false) -> Algorithm {
        func supported(_ algorithm: Algorithm) -> Bool {
            var geometry = direct
            geometry.algorithm = algorithm.kernelCode
            return geometry.isSupported
        }
        if supported(.depthwise) { return .depthwise }
        if supported(.grouped)
            && groupedPays(width: Int(direct.in_channels / direct.groups), kernel: Int(direct.kernel))
        {
            return .grouped
        }
        if supported(.gemm1x1) { return .gemm1x1 }
        let pairs = Int(direct.in_channels) * Int(direct.out_channels)
        guard supported(.winogradF2), direct.in_channels >= winogradMinimumChannels,
            16 * pairs * 4 <= winogradMaximumWeightBytes
        else { return .igemm }
        let height = Int(direct.out_height), width = Int(direct.out_width)
        let saving4 = saving(tile: 4, products: 36, height: height, width: width)
        let saving2 = saving(tile: 2, products: 16, height: height, width: width)
        guard max(saving4, saving2) >= winogradMinimumSaving else { return .igemm }
        let tiles4 = ((height + 3) / 4) * ((width + 3) / 4)
        let f4Limit = tied ? f4MaximumTiedWeightBytes : f4MaximumWeightBytes
        return 36 * pairs * 4 <= f4Limit && tiles4 >= f4MinimumTiles && saving4 >= saving2 ? .winogradF4 : .winogradF2
    }

    /// Whether groups of `width` channels in and out run faster by depthwise's loop than by the GEMM
    /// (bench/kernel-shapes/resnext-50-groups.txt and odd-groups.txt): 2 and 4, lanes exchanged, at any
    /// kernel; 3, by shifted loads (2 x 3 - 1 products per output for 3 that count), at any kernel (1.7-3x
    /// faster: the GEMM's 27-deep reductions filled 3 of 16 columns); 5 up to 3 x 3 (1.1-1.4x), where at
    /// 5 x 5 the GEMM's deeper reductions ran 1.2x faster; 6 (3 x 3 1.4x slower) and more by the GEMM.
    static func groupedPays(width: Int, kernel: Int) -> Bool {
        switch width {
        case 2, 3, 4: return true
        case 5: return kernel <= 3
        default: return false
        }
    }

    /// How many times fewer products per output F(tile x tile, 3x3) makes than the direct convolution's
    /// 9, counting the outputs that a map's last tiles compute past its edge and throw away: 4 for
    /// F(4x4, 3x3) on a map of whole tiles, but 1 on a map one row high, which computes four rows for
    /// each it keeps (a 1 x 4096 map ran 4.8 times slower than ONNX Runtime by F(4x4, 3x3)).
    static func saving(tile: Int, products: Int, height: Int, width: Int) -> Double {
        let computed = ((height + tile - 1) / tile) * ((width + tile - 1) / tile) * tile * tile
        return Double(9 * height * width) / Double(products * computed / (tile * tile))
    }
}
