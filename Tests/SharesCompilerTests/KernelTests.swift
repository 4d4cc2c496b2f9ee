import CKernels
import Foundation
import Testing

@testable import SharesCompiler

/// The C kernels against naive reference loops (double accumulation) on tiny shapes, at every
/// instruction-set level the CPU has: NHWC convolutions of every geometry the networks use (and some
/// they don't), every epilogue combination, split pixel and panel ranges as threads make them, and no
/// write outside the output or the workspace.
@Suite(.serialized)
struct KernelTests {
    static let tolerance = 1e-4

    // MARK: Helpers

    /// Deterministic floats in [-1, 1).
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % (1 << 24)) / Float(1 << 23) - 1
        }
    }

    /// max |actual - expected| / max |expected|.
    static func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
        precondition(actual.count == expected.count)
        let scale = max(largestMagnitude(expected), 1e-30)
        return largestDifference(actual, expected) / scale
    }

    /// The activation of epilogue combination `combination` (bit 3 set: one of the six, in turn, by
    /// the combination's value; none otherwise).
    static func activation(ofCombination combination: Int) -> Program.Activation {
        combination & 8 == 0 ? .none : [.relu, .relu6, .silu, .hardswish, .gelu, .sigmoid][combination % 6]
    }

    /// The second (pre-activation) output the epilogue writes beside `values`: scaled and shifted per
    /// channel, through ReLU if `relu`.
    static func secondOutput(_ values: [Double], scale: [Float], shift: [Float], relu: Bool) -> [Double] {
        var result = values
        for index in result.indices {
            let v = values[index] * Double(scale[index % scale.count]) + Double(shift[index % shift.count])
            result[index] = relu ? max(v, 0) : v
        }
        return result
    }

    /// An activation's definition in Double (the reference interpreter's, GELU written with erfc).
    static func activate(_ activation: Program.Activation, _ v: Double) -> Double {
        switch activation {
        case .none: return v
        case .relu: return v < 0 ? 0 : v
        case .relu6: return Op.Activation.relu6.apply(v)
        case .silu: return Op.Activation.silu.apply(v)
        case .hardswish: return Op.Activation.hardswish.apply(v)
        // erfc rather than 1 + erf, which cancels in the left tail (to 1e-6 relative at -6.7).
        case .gelu: return 0.5 * v * erfc(-v / 2.0.squareRoot())
        case .sigmoid: return Op.Activation.sigmoid.apply(v)
        }
    }

    /// Depthwise convolutions (one input channel per group) over the shape classes of the modern
    /// networks: kernels 3, 5 and 7 at strides 1 and 2 (and 8 to 13, and 17), channel counts below, at
    /// and past multiples of eight, and maps smaller than the kernel.
    static let depthwiseCases: [ConvCase] = [
        ConvCase(
            inChannels: 13, height: 7, width: 6, outChannels: 13, kernel: 3, stride: 1, pad: 1, groups: 13,
            allEpilogues: true),
        ConvCase(inChannels: 20, height: 9, width: 9, outChannels: 20, kernel: 3, stride: 2, pad: 1, groups: 20),
        ConvCase(
            inChannels: 36, height: 8, width: 7, outChannels: 36, kernel: 5, stride: 1, pad: 2, groups: 36,
            allEpilogues: true),
        ConvCase(inChannels: 24, height: 11, width: 9, outChannels: 24, kernel: 5, stride: 2, pad: 2, groups: 24),
        ConvCase(inChannels: 19, height: 9, width: 10, outChannels: 19, kernel: 7, stride: 1, pad: 3, groups: 19),
        ConvCase(inChannels: 32, height: 14, width: 14, outChannels: 32, kernel: 7, stride: 2, pad: 3, groups: 32),
        ConvCase(inChannels: 10, height: 1, width: 1, outChannels: 10, kernel: 3, stride: 1, pad: 1, groups: 10),
        ConvCase(inChannels: 17, height: 2, width: 3, outChannels: 17, kernel: 5, stride: 2, pad: 2, groups: 17),
        ConvCase(inChannels: 8, height: 3, width: 3, outChannels: 8, kernel: 7, stride: 1, pad: 3, groups: 8),
        ConvCase(
            inChannels: 64, height: 6, width: 5, outChannels: 64, kernel: 3, stride: 1, pad: 1, groups: 64, batch: 1),
        // Rows with eight or more pixels whose taps are all inside the image, which go by runs along
        // the row (5 x 5 and 7 x 7 at stride 1: whole rows from the stage): at stride 1 runs of 17
        // (pieces of 6, 6 and 5), 8 and 9, a channel tail, no padding; at stride 2 runs of 9, 10 and 9.
        ConvCase(
            inChannels: 21, height: 5, width: 19, outChannels: 21, kernel: 3, stride: 1, pad: 1, groups: 21,
            allEpilogues: true),
        ConvCase(inChannels: 16, height: 7, width: 12, outChannels: 16, kernel: 5, stride: 1, pad: 2, groups: 16),
        ConvCase(
            inChannels: 11, height: 9, width: 23, outChannels: 11, kernel: 7, stride: 1, pad: 3, groups: 11,
            allEpilogues: true),
        ConvCase(
            inChannels: 8, height: 9, width: 15, outChannels: 8, kernel: 7, stride: 1, pad: 0, groups: 8, batch: 1),
        ConvCase(
            inChannels: 13, height: 5, width: 21, outChannels: 13, kernel: 3, stride: 2, pad: 1, groups: 13,
            allEpilogues: true),
        ConvCase(inChannels: 24, height: 6, width: 23, outChannels: 24, kernel: 5, stride: 2, pad: 2, groups: 24),
        ConvCase(inChannels: 9, height: 8, width: 25, outChannels: 9, kernel: 7, stride: 2, pad: 3, groups: 9),
        // 5 x 5 and 7 x 7 at stride 1 read staged rows (blocks of eight channels, padding included): less
        // padding than the kernel's half, so that the stage's columns end one past the image's right
        // padding; and more channels than one block with a tail.
        ConvCase(inChannels: 10, height: 6, width: 13, outChannels: 10, kernel: 5, stride: 1, pad: 1, groups: 10),
        ConvCase(
            inChannels: 27, height: 4, width: 11, outChannels: 27, kernel: 7, stride: 1, pad: 3, groups: 27,
            allEpilogues: true),
        // Kernels past 7 x 7 (large-kernel networks): 9, 11 and 13 at stride 1 from the stage, a map
        // smaller than the kernel, an even kernel and a stride of 2 by blocks of pixels.
        ConvCase(
            inChannels: 20, height: 10, width: 17, outChannels: 20, kernel: 9, stride: 1, pad: 4, groups: 20,
            allEpilogues: true),
        ConvCase(inChannels: 9, height: 12, width: 14, outChannels: 9, kernel: 11, stride: 1, pad: 5, groups: 9),
        ConvCase(inChannels: 16, height: 5, width: 6, outChannels: 16, kernel: 13, stride: 1, pad: 6, groups: 16),
        ConvCase(inChannels: 12, height: 9, width: 10, outChannels: 12, kernel: 8, stride: 1, pad: 3, groups: 12),
        ConvCase(inChannels: 24, height: 15, width: 13, outChannels: 24, kernel: 9, stride: 2, pad: 4, groups: 24),
        // Past 13 x 13 at stride 1, odd: the stage with the kernel size a variable (a map smaller than
        // the kernel, channels past a block with a tail, rows long enough for several pieces, less
        // padding than the kernel's half); up to 63 x 63. The per-channel loop (blocks of 64 channels
        // and a tail) past that, at stride 2, and for an even kernel.
        ConvCase(
            inChannels: 70, height: 9, width: 8, outChannels: 70, kernel: 17, stride: 1, pad: 8, groups: 70,
            allEpilogues: true),
        ConvCase(
            inChannels: 11, height: 5, width: 40, outChannels: 11, kernel: 31, stride: 1, pad: 15, groups: 11,
            allEpilogues: true),
        ConvCase(inChannels: 20, height: 19, width: 21, outChannels: 20, kernel: 15, stride: 1, pad: 2, groups: 20),
        ConvCase(inChannels: 3, height: 4, width: 5, outChannels: 3, kernel: 63, stride: 1, pad: 31, groups: 3),
        ConvCase(inChannels: 5, height: 4, width: 3, outChannels: 5, kernel: 65, stride: 1, pad: 32, groups: 5),
        ConvCase(inChannels: 9, height: 16, width: 17, outChannels: 9, kernel: 15, stride: 2, pad: 7, groups: 9),
        ConvCase(inChannels: 8, height: 9, width: 9, outChannels: 8, kernel: 16, stride: 1, pad: 7, groups: 8)
    ]

    /// Grouped convolutions of 2 and 4 channels per group (ResNeXt-50's stage 1), which the
    /// per-channel loop runs with each input vector's lanes exchanged within their groups: strides 1
    /// and 2, blocks inside the image and at its edges, channel counts with a tail of a vector (12 and
    /// 6: half a vector, and three pairs) and past one block of sixteen.
    static let groupedCases: [ConvCase] = [
        ConvCase(
            inChannels: 32, height: 9, width: 11, outChannels: 32, kernel: 3, stride: 1, pad: 1, groups: 8,
            allEpilogues: true),
        ConvCase(inChannels: 40, height: 10, width: 9, outChannels: 40, kernel: 3, stride: 2, pad: 1, groups: 10),
        ConvCase(
            inChannels: 12, height: 7, width: 8, outChannels: 12, kernel: 3, stride: 1, pad: 1, groups: 3,
            allEpilogues: true),
        ConvCase(inChannels: 6, height: 6, width: 5, outChannels: 6, kernel: 5, stride: 1, pad: 2, groups: 3),
        ConvCase(
            inChannels: 24, height: 8, width: 8, outChannels: 24, kernel: 3, stride: 1, pad: 1, groups: 12,
            allEpilogues: true),
        ConvCase(inChannels: 64, height: 5, width: 7, outChannels: 64, kernel: 1, stride: 1, pad: 0, groups: 16),
        ConvCase(inChannels: 48, height: 4, width: 4, outChannels: 48, kernel: 2, stride: 2, pad: 0, groups: 24),
        ConvCase(inChannels: 16, height: 3, width: 17, outChannels: 16, kernel: 15, stride: 1, pad: 7, groups: 4),
        // Groups that are not aligned runs of 2 or 4 lanes, by shifted loads: 3, 5, 6, 7 (groups across
        // vectors, channel tails), 8, 12 and 16 per group; strides 1 and 2, edges, and the portable loop
        // past 13 x 13.
        ConvCase(
            inChannels: 24, height: 9, width: 11, outChannels: 24, kernel: 3, stride: 1, pad: 1, groups: 8,
            allEpilogues: true, algorithm: .grouped),
        ConvCase(
            inChannels: 30, height: 10, width: 9, outChannels: 30, kernel: 3, stride: 2, pad: 1, groups: 6,
            algorithm: .grouped),
        ConvCase(
            inChannels: 18, height: 6, width: 7, outChannels: 18, kernel: 5, stride: 1, pad: 2, groups: 3,
            allEpilogues: true, algorithm: .grouped),
        ConvCase(
            inChannels: 21, height: 7, width: 5, outChannels: 21, kernel: 3, stride: 1, pad: 1, groups: 3,
            algorithm: .grouped),
        ConvCase(
            inChannels: 64, height: 6, width: 6, outChannels: 64, kernel: 3, stride: 1, pad: 1, groups: 8,
            algorithm: .grouped),
        ConvCase(
            inChannels: 36, height: 5, width: 7, outChannels: 36, kernel: 1, stride: 1, pad: 0, groups: 3,
            algorithm: .grouped),
        ConvCase(
            inChannels: 48, height: 4, width: 9, outChannels: 48, kernel: 3, stride: 2, pad: 0, groups: 3,
            algorithm: .grouped),
        ConvCase(
            inChannels: 9, height: 3, width: 16, outChannels: 9, kernel: 15, stride: 1, pad: 7, groups: 3,
            algorithm: .grouped)
    ]

    /// Depthwise convolutions with a channel multiplier (output channel o reads input channel o / m),
    /// whose blocks of eight output channels read a few input channels and spread them over the lanes:
    /// multipliers that divide eight and that do not (so that blocks start inside a channel's run), past
    /// eight (a block reading one or two channels), channel tails, strides 1 and 2, edges, a map
    /// smaller than the kernel, a kernel past the AVX2 kernel's 13 (the portable loop), and full
    /// blocks by broadcasts.
    static let multiplierCases: [ConvCase] = [
        ConvCase(
            inChannels: 8, height: 7, width: 9, outChannels: 16, kernel: 3, stride: 1, pad: 1, groups: 8,
            allEpilogues: true),
        ConvCase(
            inChannels: 5, height: 6, width: 7, outChannels: 15, kernel: 3, stride: 2, pad: 1, groups: 5,
            allEpilogues: true),
        ConvCase(inChannels: 7, height: 9, width: 6, outChannels: 28, kernel: 5, stride: 1, pad: 2, groups: 7),
        ConvCase(inChannels: 3, height: 5, width: 5, outChannels: 33, kernel: 3, stride: 1, pad: 1, groups: 3),
        ConvCase(
            inChannels: 2, height: 4, width: 11, outChannels: 40, kernel: 7, stride: 2, pad: 3, groups: 2,
            allEpilogues: true),
        ConvCase(inChannels: 12, height: 2, width: 2, outChannels: 60, kernel: 5, stride: 1, pad: 2, groups: 12),
        ConvCase(inChannels: 6, height: 5, width: 8, outChannels: 18, kernel: 1, stride: 1, pad: 0, groups: 6),
        ConvCase(inChannels: 4, height: 3, width: 17, outChannels: 8, kernel: 15, stride: 1, pad: 7, groups: 4),
        // (Its second block of 64 lanes starts inside an input channel's run of three.)
        ConvCase(inChannels: 22, height: 4, width: 9, outChannels: 66, kernel: 15, stride: 1, pad: 7, groups: 22),
        // Multipliers 2, 4 and 8 broadcast each pixel's input channels into full blocks (lanes in
        // another order, put back at the end); a tail of a block by the general loads.
        ConvCase(
            inChannels: 5, height: 6, width: 9, outChannels: 40, kernel: 3, stride: 1, pad: 1, groups: 5,
            allEpilogues: true),
        ConvCase(inChannels: 6, height: 7, width: 7, outChannels: 24, kernel: 3, stride: 2, pad: 1, groups: 6),
        ConvCase(inChannels: 13, height: 5, width: 6, outChannels: 26, kernel: 3, stride: 1, pad: 1, groups: 13)
    ]

    /// Runs `body` at every level the CPU supports, then restores the level in use.
    static func atEveryLevel(_ body: (Int32) throws -> Void) rethrows { try atEveryKernelLevel(body) }

    /// A buffer with sentinel guards on both sides, to catch out-of-bounds writes.
    final class Guarded {
        static let guardCount = 64
        static let sentinel: Float = -12345.5
        let count: Int
        let storage: UnsafeMutablePointer<Float>
        var pointer: UnsafeMutablePointer<Float> { storage + Self.guardCount }

        init(count: Int, fill: Float = .nan) {
            self.count = count
            storage = .allocate(capacity: count + 2 * Self.guardCount)
            storage.initialize(repeating: Self.sentinel, count: Self.guardCount)
            pointer.initialize(repeating: fill, count: count)
            (pointer + count).initialize(repeating: Self.sentinel, count: Self.guardCount)
        }
        convenience init(_ values: [Float]) {
            self.init(count: values.count)
            pointer.update(from: values, count: values.count)
        }
        deinit { storage.deallocate() }

        var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
        var guardsIntact: Bool {
            (0..<Self.guardCount).allSatisfy { storage[$0] == Self.sentinel && pointer[count + $0] == Self.sentinel }
        }
    }

    // MARK: Convolution

    struct ConvCase: Sendable, CustomTestStringConvertible {
        var inChannels, height, width, outChannels, kernel, stride, pad, groups: Int
        var batch = 2
        var allEpilogues = false
        /// How the direct kernel runs it: the compiler's choice (Winograd aside) unless given.
        var algorithm: Algorithm? = nil
        var outHeight: Int { (height + 2 * pad - kernel) / stride + 1 }
        var outWidth: Int { (width + 2 * pad - kernel) / stride + 1 }
        /// Output pixels of the whole batch: the rows of the convolution's GEMM.
        var pixels: Int { batch * outHeight * outWidth }
        /// Run by the per-channel loop, cut in panels of 16 channels across the groups.
        var depthwise: Bool { directAlgorithm == .depthwise || directAlgorithm == .grouped }
        var testDescription: String {
            "\(batch)x\(inChannels)x\(height)x\(width) -> \(outChannels) k\(kernel) s\(stride) p\(pad) g\(groups)"
                + (algorithm.map { " by \($0.rawValue)" } ?? "")
        }
        private func geometry(_ algorithm: Algorithm) -> sc_conv_geometry {
            sc_conv_geometry(
                in_channels: Int32(inChannels), in_height: Int32(height), in_width: Int32(width),
                out_channels: Int32(outChannels), out_height: Int32(outHeight), out_width: Int32(outWidth),
                kernel: Int32(kernel), stride: Int32(stride), pad: Int32(pad), groups: Int32(groups),
                algorithm: algorithm.kernelCode)
        }
        var directAlgorithm: Algorithm {
            if let algorithm { return algorithm }
            let chosen = AlgorithmSelection.choose(geometry(.igemm))
            return chosen.winogradTile == nil ? chosen : .igemm
        }
        /// For sc_conv_nhwc.
        var geometry: sc_conv_geometry { geometry(directAlgorithm) }
        /// For sc_winograd_*, by the tile size the compiler chooses.
        var winogradGeometry: sc_conv_geometry { geometry(AlgorithmSelection.choose(geometry(.igemm))) }
        /// The same, but F(2x2, 3x3) where the compiler chooses no Winograd for a 3x3 (a 1x1 map, where
        /// it saves nothing, must still come out right).
        var winogradKernelGeometry: sc_conv_geometry {
            let chosen = AlgorithmSelection.choose(geometry(.igemm))
            return geometry(chosen.winogradTile == nil ? .winogradF2 : chosen)
        }
        /// The panel (column block of 16) that computes output channel `o`.
        func panel(of o: Int) -> Int {
            if depthwise { return o / 16 }
            let mg = outChannels / groups
            return o / mg * ((mg + 15) / 16) + o % mg / 16
        }
    }

    static let convCases: [ConvCase] =
        depthwiseCases + groupedCases + multiplierCases + [
            ConvCase(
                inChannels: 3, height: 9, width: 9, outChannels: 5, kernel: 1, stride: 1, pad: 0, groups: 1,
                allEpilogues: true),
            ConvCase(inChannels: 17, height: 7, width: 7, outChannels: 33, kernel: 1, stride: 2, pad: 0, groups: 1),
            // Few channels and taps > 1: kernel rows merged into runs where a tile lies inside the image.
            ConvCase(
                inChannels: 5, height: 5, width: 3, outChannels: 17, kernel: 3, stride: 1, pad: 1, groups: 1,
                allEpilogues: true),
            ConvCase(inChannels: 3, height: 15, width: 15, outChannels: 16, kernel: 7, stride: 2, pad: 3, groups: 1),
            // A kernel far larger than its map: the chunk of pixels, and so the workspace, is the map's.
            ConvCase(inChannels: 3, height: 1, width: 2, outChannels: 8, kernel: 40, stride: 1, pad: 20, groups: 1),
            ConvCase(inChannels: 3, height: 20, width: 40, outChannels: 24, kernel: 7, stride: 2, pad: 3, groups: 1),
            // Stems over 3 channels read in place, a kernel row per run.
            ConvCase(
                inChannels: 3, height: 17, width: 16, outChannels: 32, kernel: 3, stride: 2, pad: 1, groups: 1,
                allEpilogues: true),
            ConvCase(inChannels: 3, height: 16, width: 16, outChannels: 24, kernel: 4, stride: 4, pad: 0, groups: 1),
            // Tiles of pixels in one output row and inside the image horizontally: their kernel rows'
            // pointers step by the stride, with the zero row above and below the image; the last
            // tile's 4 pixels too.
            ConvCase(inChannels: 3, height: 11, width: 41, outChannels: 20, kernel: 3, stride: 1, pad: 1, groups: 1),
            ConvCase(
                inChannels: 16, height: 11, width: 41, outChannels: 20, kernel: 3, stride: 2, pad: 0, groups: 1,
                batch: 1),
            // 24 output channels: a full panel and one of exactly 8, reduced and stored as half a panel.
            ConvCase(
                inChannels: 20, height: 5, width: 7, outChannels: 24, kernel: 1, stride: 1, pad: 0, groups: 1,
                allEpilogues: true),
            ConvCase(
                inChannels: 33, height: 9, width: 8, outChannels: 13, kernel: 3, stride: 2, pad: 1, groups: 1,
                allEpilogues: true),
            ConvCase(
                inChannels: 8, height: 6, width: 6, outChannels: 12, kernel: 3, stride: 1, pad: 1, groups: 2,
                allEpilogues: true),
            ConvCase(
                inChannels: 6, height: 7, width: 5, outChannels: 6, kernel: 3, stride: 1, pad: 1, groups: 6,
                allEpilogues: true),
            ConvCase(inChannels: 12, height: 9, width: 9, outChannels: 24, kernel: 3, stride: 2, pad: 1, groups: 12),
            ConvCase(inChannels: 64, height: 5, width: 5, outChannels: 40, kernel: 3, stride: 2, pad: 1, groups: 4),
            ConvCase(
                inChannels: 300, height: 4, width: 4, outChannels: 20, kernel: 1, stride: 1, pad: 0, groups: 1, batch: 3
            ),
            ConvCase(
                inChannels: 40, height: 7, width: 7, outChannels: 25, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
            ConvCase(
                inChannels: 7, height: 1, width: 1, outChannels: 9, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 3),
            ConvCase(inChannels: 1, height: 1, width: 1, outChannels: 1, kernel: 1, stride: 1, pad: 0, groups: 1),
            ConvCase(inChannels: 16, height: 20, width: 19, outChannels: 30, kernel: 1, stride: 1, pad: 0, groups: 1),
            ConvCase(
                inChannels: 16, height: 9, width: 10, outChannels: 32, kernel: 3, stride: 1, pad: 1, groups: 1,
                allEpilogues: true),
            // 520 x 9 taps: several reduction blocks that accumulate onto the output before the epilogue.
            ConvCase(
                inChannels: 520, height: 3, width: 3, outChannels: 40, kernel: 3, stride: 1, pad: 1, groups: 1,
                allEpilogues: true),
            // A 1x1 over 600 channels (one reduction block of 600 steps); 512 channels at stride 2 (chunks of 24 pixels).
            ConvCase(inChannels: 600, height: 3, width: 4, outChannels: 18, kernel: 1, stride: 1, pad: 0, groups: 1),
            // 4 MiB of weights: reduction blocks of 256 channels even though the reduction is short.
            ConvCase(
                inChannels: 1024, height: 2, width: 3, outChannels: 1024, kernel: 1, stride: 1, pad: 0, groups: 1,
                allEpilogues: true),
            // The same over 16 pixels: at the AVX-512 level a pair of 6-pixel tiles goes as one tile of
            // 12, onto the partial sums of the blocks before, then 4 pixels alone.
            ConvCase(
                inChannels: 1024, height: 4, width: 4, outChannels: 1024, kernel: 1, stride: 1, pad: 0, groups: 1,
                batch: 1, allEpilogues: true),
            // A 3x3/2 whose 331 KiB of weights pass over the tiles two panels at a time (the last of 8
            // channels alone): at the AVX-512 level tiles go by pairs, tables of taps or merged rows.
            ConvCase(
                inChannels: 128, height: 12, width: 12, outChannels: 72, kernel: 3, stride: 2, pad: 1, groups: 1,
                batch: 1, allEpilogues: true),
            // Small weights, each tile visiting every panel: at the AVX-512 level four panels at once
            // (a 1x1 whose group of four ends in a panel of 8 channels; a 3x3 with a fifth panel alone).
            ConvCase(
                inChannels: 40, height: 5, width: 7, outChannels: 56, kernel: 1, stride: 1, pad: 0, groups: 1,
                batch: 1, allEpilogues: true),
            ConvCase(
                inChannels: 8, height: 6, width: 9, outChannels: 80, kernel: 3, stride: 1, pad: 1, groups: 1,
                batch: 1, allEpilogues: true),
            // A few tiles under 1.1 MiB of weights (beyond SC_PANEL_BLOCK_MIN): each tile visits every
            // panel of a block of 16 (256 KiB), block after block, the last of four panels ending in one of 8
            // channels.
            ConvCase(
                inChannels: 256, height: 5, width: 5, outChannels: 1080, kernel: 1, stride: 1, pad: 0, groups: 1,
                batch: 1, allEpilogues: true),
            // One reduction block, weights beyond SC_SMALL_WEIGHTS over more tiles than SC_FEW_TILES: each
            // panel passes over every tile, fetching the next panel's weights.
            ConvCase(
                inChannels: 300, height: 9, width: 9, outChannels: 300, kernel: 1, stride: 1, pad: 0, groups: 1,
                batch: 1, allEpilogues: true),
            // Two groups of three panels (the last of 8 channels): a tile's call covers one group's panels.
            ConvCase(
                inChannels: 16, height: 5, width: 5, outChannels: 80, kernel: 3, stride: 1, pad: 1, groups: 2,
                allEpilogues: true),
            ConvCase(inChannels: 512, height: 14, width: 13, outChannels: 20, kernel: 1, stride: 2, pad: 0, groups: 1),
            // A few tiles under weights beyond SC_SMALL_WEIGHTS (368 and 288 KiB): each tile visits every panel.
            ConvCase(
                inChannels: 576, height: 7, width: 7, outChannels: 160, kernel: 1, stride: 1, pad: 0, groups: 1,
                batch: 1, allEpilogues: true),
            ConvCase(
                inChannels: 128, height: 5, width: 5, outChannels: 61, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1
            ),
            ConvCase(inChannels: 4, height: 30, width: 31, outChannels: 14, kernel: 5, stride: 3, pad: 2, groups: 1),
            ConvCase(inChannels: 8, height: 10, width: 10, outChannels: 8, kernel: 2, stride: 2, pad: 0, groups: 1),
            // The indirect GEMM computes what the special cases do, as a hand-written plan may ask.
            ConvCase(
                inChannels: 6, height: 7, width: 5, outChannels: 12, kernel: 3, stride: 1, pad: 1, groups: 6,
                algorithm: .igemm),
            ConvCase(
                inChannels: 32, height: 9, width: 11, outChannels: 32, kernel: 3, stride: 1, pad: 1, groups: 8,
                algorithm: .igemm),
            ConvCase(
                inChannels: 16, height: 20, width: 19, outChannels: 30, kernel: 1, stride: 1, pad: 0, groups: 1,
                algorithm: .igemm)
        ]

    /// The convolution alone, in double precision, NHWC: [pixels][outChannels].
    static func referenceConv(_ c: ConvCase, weights: [Float], input: [Float]) -> [Double] {
        let cg = c.inChannels / c.groups, mg = c.outChannels / c.groups
        var out = [Double](repeating: 0, count: c.outChannels * c.pixels)
        for n in 0..<c.batch {
            for oy in 0..<c.outHeight {
                for ox in 0..<c.outWidth {
                    let pixel = (n * c.outHeight + oy) * c.outWidth + ox
                    for o in 0..<c.outChannels {
                        let group = o / mg
                        var sum = 0.0
                        for ky in 0..<c.kernel {
                            let iy = oy * c.stride - c.pad + ky
                            for kx in 0..<c.kernel {
                                let ix = ox * c.stride - c.pad + kx
                                // Padding is a zero that is multiplied (as in PyTorch): it matters for
                                // non-finite weights only.
                                let inside = iy >= 0 && iy < c.height && ix >= 0 && ix < c.width
                                let row = ((n * c.height + iy) * c.width + ix) * c.inChannels + group * cg
                                for ci in 0..<cg {
                                    sum +=
                                        Double(weights[((o * cg + ci) * c.kernel + ky) * c.kernel + kx])
                                        * (inside ? Double(input[row + ci]) : 0)
                                }
                            }
                        }
                        out[pixel * c.outChannels + o] = sum
                    }
                }
            }
        }
        return out
    }

    /// Calls sc_conv_nhwc once per (pixel range, panel range), as threads would; reports whether every
    /// call kept to its range (run alone, it leaves the rest of the output alone) and whether the output
    /// and the workspace were left intact around their ends.
    static func runConv(
        _ c: ConvCase, packed: [Float], input: [Float], epilogue: sc_epilogue,
        ranges: [(Range<Int>, Range<Int>)]
    ) -> (output: [Float], intact: Bool) {
        var geometry = c.geometry, epilogue = epilogue
        let workspace = Guarded(count: sc_conv_nhwc_workspace_size(&geometry), fill: .nan)
        var intact = true
        func call(_ output: Guarded, _ pixels: Range<Int>, _ panels: Range<Int>) {
            sc_conv_nhwc(
                &geometry, packed, input, output.pointer, &epilogue, workspace.pointer,
                pixels.lowerBound, pixels.upperBound, Int32(panels.lowerBound), Int32(panels.upperBound))
        }
        if ranges.count > 1 {
            let panelOf = (0..<c.outChannels).map(c.panel(of:))
            for (pixels, panels) in ranges {
                let alone = Guarded(count: c.outChannels * c.pixels, fill: Guarded.sentinel)
                call(alone, pixels, panels)
                let values = alone.values
                for p in 0..<c.pixels {
                    for o in 0..<c.outChannels where !(pixels.contains(p) && panels.contains(panelOf[o])) {
                        intact = intact && values[p * c.outChannels + o] == Guarded.sentinel
                    }
                }
                intact = intact && alone.guardsIntact
            }
        }
        let output = Guarded(count: c.outChannels * c.pixels)
        for (pixels, panels) in ranges { call(output, pixels, panels) }
        return (output.values, intact && output.guardsIntact && workspace.guardsIntact)
    }

    @Test(arguments: convCases)
    func convolutionMatchesReference(_ c: ConvCase) {
        var geometry = c.geometry
        let weights = Self.random(c.outChannels * (c.inChannels / c.groups) * c.kernel * c.kernel, seed: 1)
        let input = Self.random(c.batch * c.height * c.width * c.inChannels, seed: 2)
        let scale = Self.random(c.outChannels, seed: 3), shift = Self.random(c.outChannels, seed: 4)
        let residual = Self.random(c.outChannels * c.pixels, seed: 5)
        let raw = Self.referenceConv(c, weights: weights, input: input)
        var packed = [Float](repeating: .nan, count: sc_conv_nhwc_packed_size(&geometry))
        sc_conv_nhwc_pack(&geometry, weights, &packed)

        let panels = Int(sc_conv_nhwc_panels(&geometry)), m = c.outChannels, n = c.pixels
        #expect(panels == (0..<m).map { c.panel(of: $0) }.max()! + 1)
        let splits: [(String, [(Range<Int>, Range<Int>)])] = [
            ("whole", [(0..<n, 0..<panels)]),
            ("panels", [(0..<n, 0..<panels / 2), (0..<n, panels / 2..<panels)]),
            ("pixels", [(0..<n / 3, 0..<panels), (n / 3..<n, 0..<panels)]),
            (
                "both",
                [
                    (0..<n / 2, 0..<(panels + 1) / 2), (n / 2..<n, 0..<(panels + 1) / 2),
                    (0..<(n + 1) / 2, (panels + 1) / 2..<panels), ((n + 1) / 2..<n, (panels + 1) / 2..<panels)
                ]
            )
        ]
        // Bits: scale, shift, residual, an activation (`activation(ofCombination:)`), and the second
        // (pre-activation) output with its own scale, shift and ReLU.
        let combinations = c.allEpilogues ? Array(0..<32) : [0, 31, 6, 20, 8, 9, 10, 11]
        let actScale = Self.random(m, seed: 6), actShift = Self.random(m, seed: 7)
        let scaleBuffer = Guarded(scale), shiftBuffer = Guarded(shift), residualBuffer = Guarded(residual)
        let actScaleBuffer = Guarded(actScale), actShiftBuffer = Guarded(actShift)
        Self.atEveryLevel { level in
            for combination in combinations {
                let useScale = combination & 1 != 0, useShift = combination & 2 != 0
                let useResidual = combination & 4 != 0, useAct = combination & 16 != 0
                let activation = Self.activation(ofCombination: combination)
                var expected = raw
                for p in 0..<n {
                    for o in 0..<m {
                        var v = expected[p * m + o]
                        if useScale { v *= Double(scale[o]) }
                        if useShift { v += Double(shift[o]) }
                        if useResidual { v += Double(residual[p * m + o]) }
                        expected[p * m + o] = Self.activate(activation, v)
                    }
                }
                let actRelu = useScale  // so that both kinds of second output meet every other step
                let expectedAct = Self.secondOutput(expected, scale: actScale, shift: actShift, relu: actRelu)
                // Every split for the no-epilogue and full-epilogue cases, the whole range otherwise.
                for (name, ranges) in splits where name == "whole" || combination == 0 || combination == 31 {
                    let act = Guarded(count: m * n)
                    let epilogue = sc_epilogue(
                        scale: useScale ? UnsafePointer(scaleBuffer.pointer) : nil,
                        shift: useShift ? UnsafePointer(shiftBuffer.pointer) : nil,
                        residual: useResidual ? UnsafePointer(residualBuffer.pointer) : nil,
                        activation: activation.kernelCode,
                        act_output: useAct ? act.pointer : nil,
                        act_scale: useAct ? UnsafePointer(actScaleBuffer.pointer) : nil,
                        act_shift: useAct ? UnsafePointer(actShiftBuffer.pointer) : nil, act_relu: actRelu ? 1 : 0)
                    let (output, intact) = Self.runConv(
                        c, packed: packed, input: input, epilogue: epilogue, ranges: ranges)
                    let error = Self.relativeError(output, expected)
                    #expect(
                        error <= Self.tolerance,
                        "level \(level), epilogue \(combination), \(name): relative error \(error)")
                    #expect(intact, "level \(level), epilogue \(combination), \(name): wrote outside its buffers")
                    if useAct {
                        let actError = Self.relativeError(act.values, expectedAct)
                        #expect(
                            actError <= Self.tolerance,
                            "level \(level), epilogue \(combination), \(name): second output, relative error \(actError)"
                        )
                        #expect(
                            act.guardsIntact,
                            "level \(level), epilogue \(combination), \(name): wrote outside the second output")
                    }
                }
            }
        }
    }

    /// Winograd's F(2x2, 3x3) on one image: maps of odd and tiny sizes (half tiles at the edges, a 1x1
    /// map), channels that are not a multiple of the vector width, partial panels, split tile and panel
    /// ranges, and every epilogue combination on one shape.
    static let winogradCases: [ConvCase] = [
        ConvCase(
            inChannels: 128, height: 7, width: 7, outChannels: 40, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1,
            allEpilogues: true),
        ConvCase(
            inChannels: 131, height: 5, width: 3, outChannels: 16, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        ConvCase(
            inChannels: 128, height: 1, width: 1, outChannels: 17, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        ConvCase(
            inChannels: 136, height: 6, width: 9, outChannels: 33, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        ConvCase(
            inChannels: 128, height: 2, width: 2, outChannels: 128, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        ConvCase(
            inChannels: 35, height: 5, width: 4, outChannels: 21, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        // F(4x4, 3x3): partial tiles at the bottom and right edges, and a map of whole tiles.
        ConvCase(
            inChannels: 33, height: 13, width: 15, outChannels: 21, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1,
            allEpilogues: true),
        ConvCase(
            inChannels: 40, height: 16, width: 16, outChannels: 24, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        // Few channels make chunks of at most 512 KiB: 56 of these 72 tiles, then the other 16.
        ConvCase(
            inChannels: 32, height: 30, width: 34, outChannels: 32, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1)
    ]

    @Test(arguments: winogradCases)
    func winogradMatchesReference(_ c: ConvCase) {
        var geometry = c.winogradKernelGeometry
        #expect(geometry.isWinograd)
        let weights = Self.random(c.outChannels * c.inChannels * 9, seed: 11)
        let input = Self.random(c.height * c.width * c.inChannels, seed: 12)
        let scale = Self.random(c.outChannels, seed: 13), shift = Self.random(c.outChannels, seed: 14)
        let residual = Self.random(c.outChannels * c.pixels, seed: 15)
        let actScale = Self.random(c.outChannels, seed: 16), actShift = Self.random(c.outChannels, seed: 17)
        let raw = Self.referenceConv(c, weights: weights, input: input)
        let packed = Guarded(count: sc_winograd_packed_size(&geometry))
        #expect(sc_winograd_pack(&geometry, weights, packed.pointer) == 1)
        let tiles = sc_winograd_tiles(&geometry), panels = Int(sc_conv_nhwc_panels(&geometry)), m = c.outChannels,
            n = c.pixels
        let tileSize = geometry.algorithm == Int32(SC_CONV_WINOGRAD_F4) ? 4 : 2
        #expect(tileSize == (c.height >= 13 ? 4 : 2))
        #expect(tiles == ((c.height + tileSize - 1) / tileSize) * ((c.width + tileSize - 1) / tileSize))
        let splits: [(String, [(Range<Int>, Range<Int>)])] = [
            ("whole", [(0..<tiles, 0..<panels)]),
            ("tiles", [(0..<tiles / 2, 0..<panels), (tiles / 2..<tiles, 0..<panels)]),
            ("panels", [(0..<tiles, 0..<panels / 2), (0..<tiles, panels / 2..<panels)])
        ]
        let buffers = (
            scale: Guarded(scale), shift: Guarded(shift), residual: Guarded(residual), actScale: Guarded(actScale),
            actShift: Guarded(actShift)
        )
        Self.atEveryLevel { level in
            for combination in c.allEpilogues ? Array(0..<32) : [0, 31, 13, 8, 9, 10, 11] {
                let useScale = combination & 1 != 0, useShift = combination & 2 != 0
                let useResidual = combination & 4 != 0, useAct = combination & 16 != 0
                let activation = Self.activation(ofCombination: combination)
                let expected = (0..<n * m).map { i -> Double in
                    var v = raw[i]
                    if useScale { v *= Double(scale[i % m]) }
                    if useShift { v += Double(shift[i % m]) }
                    if useResidual { v += Double(residual[i]) }
                    return Self.activate(activation, v)
                }
                let actRelu = useScale  // so that both kinds of second output meet every other step
                let expectedAct = Self.secondOutput(expected, scale: actScale, shift: actShift, relu: actRelu)
                for (name, ranges) in splits {
                    let output = Guarded(count: m * n), act = Guarded(count: m * n)
                    let workspace = Guarded(count: sc_winograd_workspace_size(&geometry))
                    var epilogue = sc_epilogue(
                        scale: useScale ? UnsafePointer(buffers.scale.pointer) : nil,
                        shift: useShift ? UnsafePointer(buffers.shift.pointer) : nil,
                        residual: useResidual ? UnsafePointer(buffers.residual.pointer) : nil,
                        activation: activation.kernelCode,
                        act_output: useAct ? act.pointer : nil,
                        act_scale: useAct ? UnsafePointer(buffers.actScale.pointer) : nil,
                        act_shift: useAct ? UnsafePointer(buffers.actShift.pointer) : nil,
                        act_relu: actRelu ? 1 : 0)
                    for (tileRange, panelRange) in ranges {
                        sc_winograd_conv(
                            &geometry, packed.pointer, input, output.pointer, &epilogue, workspace.pointer,
                            tileRange.lowerBound, tileRange.upperBound, Int32(panelRange.lowerBound),
                            Int32(panelRange.upperBound))
                    }
                    let error = Self.relativeError(output.values, expected)
                    #expect(
                        error <= Self.tolerance,
                        "level \(level), epilogue \(combination), \(name): relative error \(error)")
                    #expect(
                        output.guardsIntact && workspace.guardsIntact,
                        "level \(level), epilogue \(combination), \(name): wrote outside its buffers")
                    if useAct {
                        #expect(
                            Self.relativeError(act.values, expectedAct) <= Self.tolerance,
                            "level \(level), epilogue \(combination), \(name): second output")
                        #expect(act.guardsIntact)
                    }
                }
            }
        }
    }

    /// A convolution whose output is also its residual (the memory plan puts a residual that dies at
    /// the convolution in its output's buffer): one reduction block, several (whose partial sums must
    /// not overwrite residual values before they are added), depthwise and Winograd, split as threads
    /// split them.
    @Test(arguments: [
        ConvCase(inChannels: 16, height: 9, width: 10, outChannels: 32, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 520, height: 3, width: 3, outChannels: 40, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 1024, height: 2, width: 3, outChannels: 1024, kernel: 1, stride: 1, pad: 0, groups: 1),
        // A 7 x 7 map's 49 pixels in tiles of 6 and then 5 rows (not 8 x 6 + 1), over several reduction
        // blocks, direct and indirect.
        ConvCase(
            inChannels: 2600, height: 7, width: 7, outChannels: 48, kernel: 1, stride: 1, pad: 0, groups: 1, batch: 1),
        ConvCase(
            inChannels: 300, height: 7, width: 7, outChannels: 20, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1),
        ConvCase(inChannels: 6, height: 7, width: 5, outChannels: 6, kernel: 3, stride: 1, pad: 1, groups: 6),
        ConvCase(inChannels: 12, height: 6, width: 9, outChannels: 12, kernel: 7, stride: 1, pad: 3, groups: 12),
        ConvCase(
            inChannels: 35, height: 5, width: 4, outChannels: 21, kernel: 3, stride: 1, pad: 1, groups: 1, batch: 1)
    ])
    func convolutionWritesOverItsResidual(_ c: ConvCase) {
        let winograd = c.batch == 1 && c.winogradGeometry.isWinograd
        var geometry = winograd ? c.winogradGeometry : c.geometry
        let weights = Self.random(c.outChannels * (c.inChannels / c.groups) * c.kernel * c.kernel, seed: 21)
        let input = Self.random(c.batch * c.height * c.width * c.inChannels, seed: 22)
        let scale = Self.random(c.outChannels, seed: 23), shift = Self.random(c.outChannels, seed: 24)
        let residual = Self.random(c.outChannels * c.pixels, seed: 25)
        let m = c.outChannels, n = c.pixels
        let expected = Self.referenceConv(c, weights: weights, input: input).enumerated().map { i, v in
            max(v * Double(scale[i % m]) + Double(shift[i % m]) + Double(residual[i]), 0)
        }
        let packed = Guarded(count: winograd ? sc_winograd_packed_size(&geometry) : sc_conv_nhwc_packed_size(&geometry))
        if winograd {
            #expect(sc_winograd_pack(&geometry, weights, packed.pointer) == 1)
        } else {
            sc_conv_nhwc_pack(&geometry, weights, packed.pointer)
        }
        let rows = winograd ? sc_winograd_tiles(&geometry) : n, panels = Int(sc_conv_nhwc_panels(&geometry))
        let scaleBuffer = Guarded(scale), shiftBuffer = Guarded(shift)
        Self.atEveryLevel { level in
            for (name, ranges) in [
                ("whole", [(0..<rows, 0..<panels)]),
                (
                    "both",
                    [
                        (0..<rows / 2, 0..<panels), (rows / 2..<rows, 0..<panels / 2),
                        (rows / 2..<rows, panels / 2..<panels)
                    ]
                )
            ] {
                let output = Guarded(residual)
                let workspace = Guarded(
                    count: winograd ? sc_winograd_workspace_size(&geometry) : sc_conv_nhwc_workspace_size(&geometry))
                var epilogue = sc_epilogue(
                    scale: UnsafePointer(scaleBuffer.pointer), shift: UnsafePointer(shiftBuffer.pointer),
                    residual: UnsafePointer(output.pointer), activation: Int32(SC_ACT_RELU), act_output: nil,
                    act_scale: nil, act_shift: nil,
                    act_relu: 0)
                for (rowRange, panelRange) in ranges where !rowRange.isEmpty && !panelRange.isEmpty {
                    let convolve = winograd ? sc_winograd_conv : sc_conv_nhwc
                    convolve(
                        &geometry, packed.pointer, input, output.pointer, &epilogue, workspace.pointer,
                        rowRange.lowerBound, rowRange.upperBound, Int32(panelRange.lowerBound),
                        Int32(panelRange.upperBound))
                }
                let error = Self.relativeError(output.values, expected)
                #expect(error <= Self.tolerance, "level \(level), \(name): relative error \(error)")
                #expect(
                    output.guardsIntact && workspace.guardsIntact, "level \(level), \(name): wrote outside its buffers")
            }
        }
    }

    @Test func winogradAppliesOnlyWhereItPays() {
        func algorithm(
            _ c: Int, _ m: Int, kernel: Int32 = 3, stride: Int32 = 1, size: Int32 = 14, tied: Bool = false
        ) -> Algorithm {
            let out = (size + 2 - kernel) / stride + 1
            return AlgorithmSelection.choose(
                sc_conv_geometry(
                    in_channels: Int32(c), in_height: size, in_width: size, out_channels: Int32(m), out_height: out,
                    out_width: out,
                    kernel: kernel, stride: stride, pad: 1, groups: 1, algorithm: Int32(SC_CONV_IGEMM)),
                tied: tied)
        }
        func applies(_ c: Int, _ m: Int, kernel: Int32 = 3, stride: Int32 = 1, size: Int32 = 14) -> Bool {
            algorithm(c, m, kernel: kernel, stride: stride, size: size).winogradTile != nil
        }
        #expect(
            applies(32, 32) && applies(64, 64, size: 56) && applies(128, 128, size: 28) && applies(256, 256)
                && applies(128, 512))
        func tileSize(_ c: Int, size: Int32, tied: Bool = false) -> Int? {
            algorithm(c, c, size: size, tied: tied).winogradTile
        }
        // F(4x4, 3x3) where its 4x larger weights stay within 4 MiB (9 MiB when tied) and the map has 16
        // tiles of 4x4.
        #expect(tileSize(64, size: 56) == 4 && tileSize(128, size: 28) == 4 && tileSize(32, size: 16) == 4)
        #expect(tileSize(256, size: 14) == 2 && tileSize(256, size: 14, tied: true) == 4)
        #expect(tileSize(384, size: 14, tied: true) == 2 && tileSize(64, size: 8) == 2 && tileSize(128, size: 12) == 2)
        #expect(tileSize(512, size: 7) == 2)  // F(2x2, 3x3) up to 16 MiB of transformed weights
        #expect(!applies(16, 16) && !applies(16, 64))  // reductions too short
        #expect(!applies(512, 1024) && !applies(768, 768))  // 32 and 36 MiB
        #expect(!applies(128, 128, stride: 2) && !applies(128, 128, kernel: 1))
        // A map one row high computes four rows (F(4x4, 3x3)) or two (F(2x2, 3x3)) for each it keeps:
        // no products saved, so the indirect GEMM; two rows high, F(2x2, 3x3), which wastes none.
        func wide(rows: Int32) -> Algorithm {
            AlgorithmSelection.choose(
                sc_conv_geometry(
                    in_channels: 32, in_height: rows, in_width: 4096, out_channels: 32, out_height: rows,
                    out_width: 4096, kernel: 3, stride: 1, pad: 1, groups: 1, algorithm: Int32(SC_CONV_IGEMM)))
        }
        #expect(wide(rows: 1) == .igemm && wide(rows: 2) == .winogradF2 && wide(rows: 4) == .winogradF4)
        #expect(AlgorithmSelection.saving(tile: 4, products: 36, height: 56, width: 56) == 4)
        #expect(AlgorithmSelection.saving(tile: 2, products: 16, height: 7, width: 7) == 9.0 * 49 / (16 * 16))
    }

    /// The per-channel loop runs groups of 2 to 4 channels (a GEMM panel of 16 would hold as few of
    /// them), lanes exchanged for 2 and 4 and loads shifted for 3, and of 5 up to 3 x 3; from 6 per
    /// group, and where a group's outputs outnumber its inputs, the indirect GEMM.
    @Test func groupedAppliesToSmallSquareGroups() {
        func algorithm(_ c: Int, _ m: Int, groups: Int) -> Algorithm {
            AlgorithmSelection.choose(
                sc_conv_geometry(
                    in_channels: Int32(c), in_height: 28, in_width: 28, out_channels: Int32(m), out_height: 28,
                    out_width: 28, kernel: 3, stride: 1, pad: 1, groups: Int32(groups), algorithm: Int32(SC_CONV_IGEMM))
            )
        }
        #expect(algorithm(128, 128, groups: 32) == .grouped && algorithm(64, 64, groups: 32) == .grouped)
        #expect(algorithm(256, 256, groups: 32) == .igemm && algorithm(64, 128, groups: 32) == .igemm)
        #expect(algorithm(64, 64, groups: 64) == .depthwise && algorithm(12, 12, groups: 4) == .grouped)
        #expect(algorithm(48, 48, groups: 16) == .grouped && algorithm(30, 30, groups: 6) == .grouped)
        #expect(algorithm(48, 48, groups: 8) == .igemm && algorithm(64, 64, groups: 8) == .igemm)
        #expect(
            !AlgorithmSelection.groupedPays(width: 5, kernel: 5) && AlgorithmSelection.groupedPays(width: 3, kernel: 7))
        #expect(algorithm(64, 64, groups: 4) == .igemm)
    }

    /// The indirect GEMM's workspace is bounded by its output map and by its pointer table's size: a 256 x
    /// 256 kernel over a 2 x 2 output asked for 36 GiB (its chunk of pixels sized for thousands), a 63 x 63
    /// one over 64 x 64 for 2 GiB, and `run` refused both as "too little free memory".
    @Test func workspaceIsBoundedByTheMapAndThePointerTable() {
        var tiny = sc_conv_geometry(
            in_channels: 3, in_height: 1, in_width: 1, out_channels: 8, out_height: 2, out_width: 2,
            kernel: 256, stride: 1, pad: 128, groups: 1, algorithm: Int32(SC_CONV_IGEMM))
        #expect(sc_conv_nhwc_workspace_size(&tiny) * 4 < 32 << 20)
        var wide = sc_conv_geometry(
            in_channels: 3, in_height: 64, in_width: 64, out_channels: 8, out_height: 64, out_width: 64,
            kernel: 63, stride: 1, pad: 31, groups: 1, algorithm: Int32(SC_CONV_IGEMM))
        #expect(sc_conv_nhwc_workspace_size(&wide) * 4 < 64 << 20)
    }

    @Test func packingIgnoresStridePaddingAndImageSize() {
        var a = sc_conv_geometry(
            in_channels: 6, in_height: 9, in_width: 9, out_channels: 10, out_height: 9, out_width: 9,
            kernel: 3, stride: 1, pad: 1, groups: 2, algorithm: Int32(SC_CONV_IGEMM))
        var b = sc_conv_geometry(
            in_channels: 6, in_height: 20, in_width: 17, out_channels: 10, out_height: 9, out_width: 8,
            kernel: 3, stride: 2, pad: 0, groups: 2, algorithm: Int32(SC_CONV_IGEMM))
        #expect(sc_conv_nhwc_packed_size(&a) == sc_conv_nhwc_packed_size(&b))
        let weights = Self.random(10 * 3 * 9, seed: 9)
        var pa = [Float](repeating: 0, count: sc_conv_nhwc_packed_size(&a)), pb = pa
        sc_conv_nhwc_pack(&a, weights, &pa)
        sc_conv_nhwc_pack(&b, weights, &pb)
        #expect(pa == pb)
    }

    @Test func levels() {
        kernelLevelLock.lock()
        defer { kernelLevelLock.unlock() }
        let saved = sc_level()
        defer { sc_force_level(saved) }
        let best = sc_force_level(99)
        #expect(best >= Int32(SC_LEVEL_PORTABLE) && best <= Int32(SC_LEVEL_AVX512))
        #expect(sc_level() == best)
        #expect(sc_force_level(-1) == Int32(SC_LEVEL_PORTABLE))
        #expect(sc_level() == Int32(SC_LEVEL_PORTABLE))
    }

    // MARK: Elementwise kernels and the linear layer (layout-free; the NHWC kernels are in OpKernelTests)

    @Test func addAndRelu() {
        let x = Self.random(5 * 13, seed: 11), other = Self.random(5 * 13, seed: 12)
        for relu in [false, true] {
            let sum = zip(x, other).map { Double($0) + Double($1) }.map { relu ? max($0, 0) : $0 }
            var y = [Float](repeating: .nan, count: x.count)
            sc_add(x, other, &y, x.count, relu ? 1 : 0)
            #expect(Self.relativeError(y, sum) <= Self.tolerance)
            var inPlace = x  // y == a
            inPlace.withUnsafeMutableBufferPointer {
                sc_add($0.baseAddress, other, $0.baseAddress, x.count, relu ? 1 : 0)
            }
            #expect(Self.relativeError(inPlace, sum) <= Self.tolerance)
            var intoOther = other  // y == b
            intoOther.withUnsafeMutableBufferPointer {
                sc_add(x, $0.baseAddress, $0.baseAddress, x.count, relu ? 1 : 0)
            }
            #expect(intoOther == inPlace)
        }
        // An activation other than ReLU runs as a second pass over the sum, in place or not.
        let silu = zip(x, other).map { Self.activate(.silu, Double($0) + Double($1)) }
        Self.atEveryLevel { level in
            var sum = [Float](repeating: .nan, count: x.count), sumInPlace = x
            sc_add(x, other, &sum, x.count, Int32(SC_ACT_SILU))
            sumInPlace.withUnsafeMutableBufferPointer {
                sc_add($0.baseAddress, other, $0.baseAddress, x.count, Int32(SC_ACT_SILU))
            }
            #expect(Self.relativeError(sum, silu) <= Self.tolerance && sumInPlace == sum, "level \(level)")
        }
        var y = [Float](repeating: .nan, count: x.count)
        sc_relu(x, &y, x.count)
        #expect(y == x.map { max($0, 0) })
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { sc_relu($0.baseAddress, $0.baseAddress, x.count) }
        #expect(inPlace == x.map { max($0, 0) })
    }

    /// Pooling cases (OpKernelTests runs them in NHWC).
    struct PoolCase: Sendable, CustomTestStringConvertible {
        var channels, height, width, kernel, stride, pad: Int
        var outHeight: Int { (height + 2 * pad - kernel) / stride + 1 }
        var outWidth: Int { (width + 2 * pad - kernel) / stride + 1 }
        var testDescription: String { "\(channels)x\(height)x\(width) k\(kernel) s\(stride) p\(pad)" }
    }

    static let poolCases: [PoolCase] = [
        PoolCase(channels: 3, height: 7, width: 7, kernel: 3, stride: 2, pad: 1),
        PoolCase(channels: 2, height: 6, width: 5, kernel: 2, stride: 2, pad: 0),
        PoolCase(channels: 4, height: 5, width: 3, kernel: 3, stride: 1, pad: 1),
        PoolCase(channels: 1, height: 8, width: 8, kernel: 8, stride: 1, pad: 0),
        PoolCase(channels: 2, height: 9, width: 11, kernel: 5, stride: 3, pad: 2)
    ]

    @Test func linear() {
        // Rows in fours and a remainder, inputs in sixteens and a remainder, at every level.
        for (inFeatures, outFeatures) in [(37, 5), (64, 10), (1, 3), (100, 1), (1280, 7), (19, 8)] {
            let x = Self.random(inFeatures, seed: 41), w = Self.random(inFeatures * outFeatures, seed: 42)
            let bias = Self.random(outFeatures, seed: 43)
            for (useBias, relu) in [(true, false), (false, true), (true, true)] {
                let expected = (0..<outFeatures).map { o -> Double in
                    let v =
                        (0..<inFeatures).map { Double(w[o * inFeatures + $0]) * Double(x[$0]) }.reduce(0, +)
                        + (useBias ? Double(bias[o]) : 0)
                    return relu ? max(v, 0) : v
                }
                Self.atEveryLevel { level in
                    let y = Guarded(count: outFeatures)
                    sc_linear(
                        x, w, useBias ? bias : nil, y.pointer, Int32(inFeatures), Int32(outFeatures), relu ? 1 : 0)
                    #expect(
                        Self.relativeError(y.values, expected) <= Self.tolerance,
                        "level \(level), \(inFeatures) x \(outFeatures)")
                    #expect(y.guardsIntact)
                }
            }
        }
    }
}
