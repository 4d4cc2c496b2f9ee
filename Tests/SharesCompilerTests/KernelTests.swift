import CKernels
import Foundation
import Testing
@testable import SharesCompiler

/// The C kernels against naive reference loops (double accumulation) on tiny shapes, at every
/// instruction-set level the CPU has: convolutions of every geometry the networks use (and some they
/// don't), every epilogue combination, split channel and pixel ranges as threads make them, and no
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
        let scale = max(expected.map(abs).max() ?? 0, 1e-30)
        var worst = 0.0
        for (a, e) in zip(actual, expected) {
            let d = abs(Double(a) - e)
            if !(d <= worst) { worst = d }  // NaN counts as the worst
        }
        return worst / scale
    }

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
        var allEpilogues = false
        var outHeight: Int { (height + 2 * pad - kernel) / stride + 1 }
        var outWidth: Int { (width + 2 * pad - kernel) / stride + 1 }
        var pixels: Int { outHeight * outWidth }
        var testDescription: String {
            "\(inChannels)x\(height)x\(width) -> \(outChannels) k\(kernel) s\(stride) p\(pad) g\(groups)"
        }
        var geometry: sc_conv_geometry {
            sc_conv_geometry(in_channels: Int32(inChannels), in_height: Int32(height), in_width: Int32(width),
                             out_channels: Int32(outChannels), out_height: Int32(outHeight), out_width: Int32(outWidth),
                             kernel: Int32(kernel), stride: Int32(stride), pad: Int32(pad), groups: Int32(groups))
        }
    }

    static let convCases: [ConvCase] = [
        ConvCase(inChannels: 3, height: 9, width: 9, outChannels: 5, kernel: 1, stride: 1, pad: 0, groups: 1, allEpilogues: true),
        ConvCase(inChannels: 17, height: 7, width: 7, outChannels: 33, kernel: 1, stride: 2, pad: 0, groups: 1),
        ConvCase(inChannels: 5, height: 5, width: 3, outChannels: 17, kernel: 3, stride: 1, pad: 1, groups: 1, allEpilogues: true),
        // K = 297 is more than one K block.
        ConvCase(inChannels: 33, height: 9, width: 8, outChannels: 13, kernel: 3, stride: 2, pad: 1, groups: 1, allEpilogues: true),
        ConvCase(inChannels: 3, height: 15, width: 15, outChannels: 16, kernel: 7, stride: 2, pad: 3, groups: 1),
        ConvCase(inChannels: 8, height: 6, width: 6, outChannels: 12, kernel: 3, stride: 1, pad: 1, groups: 2, allEpilogues: true),
        ConvCase(inChannels: 6, height: 7, width: 5, outChannels: 6, kernel: 3, stride: 1, pad: 1, groups: 6, allEpilogues: true),
        ConvCase(inChannels: 12, height: 9, width: 9, outChannels: 24, kernel: 3, stride: 2, pad: 1, groups: 12),
        ConvCase(inChannels: 64, height: 5, width: 5, outChannels: 32, kernel: 3, stride: 2, pad: 1, groups: 4),
        ConvCase(inChannels: 300, height: 4, width: 4, outChannels: 20, kernel: 1, stride: 1, pad: 0, groups: 1),
        ConvCase(inChannels: 40, height: 7, width: 7, outChannels: 25, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 7, height: 1, width: 1, outChannels: 9, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 1, height: 1, width: 1, outChannels: 1, kernel: 1, stride: 1, pad: 0, groups: 1),
        // More pixels than one pixel block; output rows that straddle the packed panels.
        ConvCase(inChannels: 16, height: 40, width: 40, outChannels: 30, kernel: 1, stride: 1, pad: 0, groups: 1),
        ConvCase(inChannels: 6, height: 20, width: 19, outChannels: 14, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 520, height: 3, width: 3, outChannels: 40, kernel: 3, stride: 1, pad: 1, groups: 1),
        ConvCase(inChannels: 4, height: 30, width: 31, outChannels: 14, kernel: 5, stride: 3, pad: 2, groups: 1),
        ConvCase(inChannels: 8, height: 10, width: 10, outChannels: 8, kernel: 2, stride: 2, pad: 0, groups: 1),
    ]

    /// The convolution alone, in double precision: [outChannels][outHeight][outWidth].
    static func referenceConv(_ c: ConvCase, weights: [Float], input: [Float]) -> [Double] {
        let cg = c.inChannels / c.groups, mg = c.outChannels / c.groups
        var out = [Double](repeating: 0, count: c.outChannels * c.pixels)
        for o in 0..<c.outChannels {
            let group = o / mg
            for oy in 0..<c.outHeight {
                for ox in 0..<c.outWidth {
                    var sum = 0.0
                    for ci in 0..<cg {
                        for ky in 0..<c.kernel {
                            let iy = oy * c.stride - c.pad + ky
                            if iy < 0 || iy >= c.height { continue }
                            for kx in 0..<c.kernel {
                                let ix = ox * c.stride - c.pad + kx
                                if ix < 0 || ix >= c.width { continue }
                                let w = weights[((o * cg + ci) * c.kernel + ky) * c.kernel + kx]
                                sum += Double(w) * Double(input[((group * cg + ci) * c.height + iy) * c.width + ix])
                            }
                        }
                    }
                    out[(o * c.outHeight + oy) * c.outWidth + ox] = sum
                }
            }
        }
        return out
    }

    /// Calls sc_conv once per (channel range, pixel range), as threads would; reports whether every call
    /// kept to its range (run alone, it leaves the rest of the output alone) and whether the output and
    /// the workspace were left intact around their ends.
    static func runConv(_ c: ConvCase, packed: [Float], input: [Float], epilogue: sc_epilogue,
                        ranges: [(Range<Int>, Range<Int>)]) -> (output: [Float], intact: Bool) {
        var geometry = c.geometry, epilogue = epilogue
        let workspace = Guarded(count: sc_conv_workspace_size(&geometry), fill: 0)
        var intact = true
        func call(_ output: Guarded, _ channels: Range<Int>, _ pixels: Range<Int>) {
            sc_conv(&geometry, packed, input, output.pointer, &epilogue, workspace.pointer,
                    Int32(channels.lowerBound), Int32(channels.upperBound), Int32(pixels.lowerBound), Int32(pixels.upperBound))
        }
        if ranges.count > 1 {
            for (channels, pixels) in ranges {
                let alone = Guarded(count: c.outChannels * c.pixels, fill: Guarded.sentinel)
                call(alone, channels, pixels)
                let values = alone.values
                for o in 0..<c.outChannels where !channels.contains(o) || pixels.count < c.pixels {
                    for p in 0..<c.pixels where !(channels.contains(o) && pixels.contains(p)) {
                        intact = intact && values[o * c.pixels + p] == Guarded.sentinel
                    }
                }
                intact = intact && alone.guardsIntact
            }
        }
        let output = Guarded(count: c.outChannels * c.pixels)
        for (channels, pixels) in ranges { call(output, channels, pixels) }
        return (output.values, intact && output.guardsIntact && workspace.guardsIntact)
    }

    @Test(arguments: convCases)
    func convolutionMatchesReference(_ c: ConvCase) {
        var geometry = c.geometry
        let weights = Self.random(c.outChannels * (c.inChannels / c.groups) * c.kernel * c.kernel, seed: 1)
        let input = Self.random(c.inChannels * c.height * c.width, seed: 2)
        let scale = Self.random(c.outChannels, seed: 3), shift = Self.random(c.outChannels, seed: 4)
        let residual = Self.random(c.outChannels * c.pixels, seed: 5)
        let raw = Self.referenceConv(c, weights: weights, input: input)
        var packed = [Float](repeating: .nan, count: sc_conv_packed_size(&geometry))
        sc_conv_pack(&geometry, weights, &packed)

        let block = Int(sc_conv_channel_block())
        #expect(block >= 1)
        let m = c.outChannels, n = c.pixels
        let alignedSplit = min(m, max(block, (m / 2) / block * block))
        let splits: [(String, [(Range<Int>, Range<Int>)])] = [
            ("whole", [(0..<m, 0..<n)]),
            ("channels at a block boundary", [(0..<alignedSplit, 0..<n), (alignedSplit..<m, 0..<n)]),
            ("channels anywhere", [(0..<m / 2, 0..<n), (m / 2..<m, 0..<n)]),
            ("pixels", [(0..<m, 0..<n / 3), (0..<m, n / 3..<n)]),
            ("both", [(0..<m / 2, 0..<n / 2), (0..<m / 2, n / 2..<n), (m / 2..<m, 0..<(n + 1) / 2), (m / 2..<m, (n + 1) / 2..<n)]),
        ]
        let combinations = c.allEpilogues ? Array(0..<16) : [0, 15, 6]
        let scaleBuffer = Guarded(scale), shiftBuffer = Guarded(shift), residualBuffer = Guarded(residual)
        Self.atEveryLevel { level in
            for combination in combinations {
                let useScale = combination & 1 != 0, useShift = combination & 2 != 0
                let useResidual = combination & 4 != 0, relu = combination & 8 != 0
                var expected = raw
                for o in 0..<m {
                    for p in 0..<n {
                        var v = expected[o * n + p]
                        if useScale { v *= Double(scale[o]) }
                        if useShift { v += Double(shift[o]) }
                        if useResidual { v += Double(residual[o * n + p]) }
                        if relu { v = max(v, 0) }
                        expected[o * n + p] = v
                    }
                }
                let epilogue = sc_epilogue(scale: useScale ? UnsafePointer(scaleBuffer.pointer) : nil,
                                           shift: useShift ? UnsafePointer(shiftBuffer.pointer) : nil,
                                           residual: useResidual ? UnsafePointer(residualBuffer.pointer) : nil, relu: relu ? 1 : 0)
                // Every split for the no-epilogue and full-epilogue cases, the whole range otherwise.
                for (name, ranges) in splits where name == "whole" || combination == 0 || combination == 15 {
                    let (output, intact) = Self.runConv(c, packed: packed, input: input, epilogue: epilogue, ranges: ranges)
                    let error = Self.relativeError(output, expected)
                    #expect(error <= Self.tolerance, "level \(level), epilogue \(combination), \(name): relative error \(error)")
                    #expect(intact, "level \(level), epilogue \(combination), \(name): wrote outside its buffers")
                }
            }
        }
    }

    @Test func packingIgnoresStridePaddingAndImageSize() {
        var a = sc_conv_geometry(in_channels: 6, in_height: 9, in_width: 9, out_channels: 10, out_height: 9, out_width: 9,
                                 kernel: 3, stride: 1, pad: 1, groups: 2)
        var b = sc_conv_geometry(in_channels: 6, in_height: 20, in_width: 17, out_channels: 10, out_height: 9, out_width: 8,
                                 kernel: 3, stride: 2, pad: 0, groups: 2)
        #expect(sc_conv_packed_size(&a) == sc_conv_packed_size(&b))
        let weights = Self.random(10 * 3 * 9, seed: 9)
        var pa = [Float](repeating: 0, count: sc_conv_packed_size(&a)), pb = pa
        sc_conv_pack(&a, weights, &pa)
        sc_conv_pack(&b, weights, &pb)
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

    // MARK: Elementwise kernels

    @Test func scaleShiftAddRelu() {
        let channels = 5, spatial = 13
        let x = Self.random(channels * spatial, seed: 11), other = Self.random(channels * spatial, seed: 12)
        let scale = Self.random(channels, seed: 13), shift = Self.random(channels, seed: 14)
        for relu in [false, true] {
            for (useScale, useShift) in [(true, true), (false, true), (true, false), (false, false)] {
                var expected = [Double](repeating: 0, count: x.count)
                for c in 0..<channels {
                    for i in 0..<spatial {
                        var v = Double(x[c * spatial + i])
                        if useScale { v *= Double(scale[c]) }
                        if useShift { v += Double(shift[c]) }
                        expected[c * spatial + i] = relu ? max(v, 0) : v
                    }
                }
                let scalePointer = useScale ? scale : nil, shiftPointer = useShift ? shift : nil
                var y = [Float](repeating: .nan, count: x.count)
                sc_scale_shift(x, &y, Int32(channels), Int32(spatial), scalePointer, shiftPointer, relu ? 1 : 0)
                #expect(Self.relativeError(y, expected) <= Self.tolerance)
                var inPlace = x  // y == x
                inPlace.withUnsafeMutableBufferPointer {
                    sc_scale_shift($0.baseAddress, $0.baseAddress, Int32(channels), Int32(spatial), scalePointer, shiftPointer, relu ? 1 : 0)
                }
                #expect(Self.relativeError(inPlace, expected) <= Self.tolerance)
            }
            let sum = zip(x, other).map { Double($0) + Double($1) }.map { relu ? max($0, 0) : $0 }
            var y = [Float](repeating: .nan, count: x.count)
            sc_add(x, other, &y, x.count, relu ? 1 : 0)
            #expect(Self.relativeError(y, sum) <= Self.tolerance)
            var inPlace = x  // y == a
            inPlace.withUnsafeMutableBufferPointer { sc_add($0.baseAddress, other, $0.baseAddress, x.count, relu ? 1 : 0) }
            #expect(Self.relativeError(inPlace, sum) <= Self.tolerance)
        }
        var y = [Float](repeating: .nan, count: x.count)
        sc_relu(x, &y, x.count)
        #expect(y == x.map { max($0, 0) })
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { sc_relu($0.baseAddress, $0.baseAddress, x.count) }
        #expect(inPlace == x.map { max($0, 0) })
    }

    // MARK: Pooling, linear, subsample-and-pad

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
        PoolCase(channels: 2, height: 9, width: 11, kernel: 5, stride: 3, pad: 2),
    ]

    @Test(arguments: poolCases)
    func pooling(_ c: PoolCase) {
        // Mostly negative values, so padding that wrongly counted as 0 would win a max.
        let x = Self.random(c.channels * c.height * c.width, seed: 21).map { $0 - 0.75 }
        var maxExpected = [Double](), avgExpected = [Double]()
        for ch in 0..<c.channels {
            for oy in 0..<c.outHeight {
                for ox in 0..<c.outWidth {
                    var best = -Double.infinity, sum = 0.0
                    for ky in 0..<c.kernel {
                        for kx in 0..<c.kernel {
                            let iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx
                            if iy < 0 || iy >= c.height || ix < 0 || ix >= c.width { continue }
                            let v = Double(x[(ch * c.height + iy) * c.width + ix])
                            best = max(best, v)
                            sum += v
                        }
                    }
                    maxExpected.append(best)
                    avgExpected.append(sum / Double(c.kernel * c.kernel))  // padded zeros count
                }
            }
        }
        let count = c.channels * c.outHeight * c.outWidth
        let y = Guarded(count: count)
        sc_max_pool(x, y.pointer, Int32(c.channels), Int32(c.height), Int32(c.width), Int32(c.kernel), Int32(c.stride), Int32(c.pad),
                    Int32(c.outHeight), Int32(c.outWidth))
        #expect(Self.relativeError(y.values, maxExpected) <= Self.tolerance)
        #expect(y.guardsIntact)
        let z = Guarded(count: count)
        sc_avg_pool(x, z.pointer, Int32(c.channels), Int32(c.height), Int32(c.width), Int32(c.kernel), Int32(c.stride), Int32(c.pad),
                    Int32(c.outHeight), Int32(c.outWidth))
        #expect(Self.relativeError(z.values, avgExpected) <= Self.tolerance)
        #expect(z.guardsIntact)
    }

    @Test func globalAveragePoolAndLinear() {
        for (channels, spatial) in [(3, 49), (17, 1), (2, 37)] {
            let x = Self.random(channels * spatial, seed: 31)
            let expected = (0..<channels).map { c in (0..<spatial).map { Double(x[c * spatial + $0]) }.reduce(0, +) / Double(spatial) }
            var y = [Float](repeating: .nan, count: channels)
            sc_global_avg_pool(x, &y, Int32(channels), Int32(spatial))
            #expect(Self.relativeError(y, expected) <= Self.tolerance)
        }
        for (inFeatures, outFeatures) in [(37, 5), (64, 10), (1, 3), (100, 1)] {
            let x = Self.random(inFeatures, seed: 41), w = Self.random(inFeatures * outFeatures, seed: 42)
            let bias = Self.random(outFeatures, seed: 43)
            for (useBias, relu) in [(true, false), (false, true), (true, true)] {
                let expected = (0..<outFeatures).map { o -> Double in
                    let v = (0..<inFeatures).map { Double(w[o * inFeatures + $0]) * Double(x[$0]) }.reduce(0, +)
                        + (useBias ? Double(bias[o]) : 0)
                    return relu ? max(v, 0) : v
                }
                var y = [Float](repeating: .nan, count: outFeatures)
                sc_linear(x, w, useBias ? bias : nil, &y, Int32(inFeatures), Int32(outFeatures), relu ? 1 : 0)
                #expect(Self.relativeError(y, expected) <= Self.tolerance)
            }
        }
    }

    @Test func subsampleAndPad() {
        // (channels, height, width, stride, out channels, pad before)
        for (channels, height, width, stride, outChannels, padBefore) in [(3, 7, 5, 2, 8, 2), (4, 6, 6, 2, 4, 0), (2, 5, 5, 1, 5, 3), (3, 1, 1, 2, 6, 3)] {
            let outHeight = (height + stride - 1) / stride, outWidth = (width + stride - 1) / stride
            let x = Self.random(channels * height * width, seed: 51)
            var expected = [Double]()
            for oc in 0..<outChannels {
                let c = oc - padBefore
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        expected.append(c >= 0 && c < channels ? Double(x[(c * height + oy * stride) * width + ox * stride]) : 0)
                    }
                }
            }
            let y = Guarded(count: outChannels * outHeight * outWidth)
            sc_subsample_pad(x, y.pointer, Int32(channels), Int32(height), Int32(width), Int32(stride),
                             Int32(outChannels), Int32(padBefore), Int32(outHeight), Int32(outWidth))
            #expect(y.values.map(Double.init) == expected)
            #expect(y.guardsIntact)
        }
    }
}
