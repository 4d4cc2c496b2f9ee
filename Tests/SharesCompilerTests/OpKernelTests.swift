import CKernels
import Testing

/// The NHWC elementwise, pooling and layout kernels (activations pixel-major, channels contiguous:
/// x[((n * H + y) * W + x) * C + c]) against naive reference loops in double precision on tiny shapes,
/// with odd channel counts, split row ranges as threads make them, and no write outside the output.
struct OpKernelTests {
    typealias Guarded = KernelTests.Guarded
    typealias PoolCase = KernelTests.PoolCase
    static let tolerance = KernelTests.tolerance

    // MARK: Scale and shift

    @Test func scaleShift() {
        for (channels, pixels) in [(5, 13), (3, 7), (17, 4), (1, 9), (40, 3)] {
            let x = KernelTests.random(pixels * channels, seed: 61)
            let scale = KernelTests.random(channels, seed: 62), shift = KernelTests.random(channels, seed: 63)
            for relu in [false, true] {
                for (useScale, useShift) in [(true, true), (false, true), (true, false), (false, false)] {
                    var expected = [Double](repeating: 0, count: x.count)
                    for p in 0..<pixels {
                        for c in 0..<channels {
                            var v = Double(x[p * channels + c])
                            if useScale { v *= Double(scale[c]) }
                            if useShift { v += Double(shift[c]) }
                            expected[p * channels + c] = relu ? max(v, 0) : v
                        }
                    }
                    let scalePointer = useScale ? scale : nil, shiftPointer = useShift ? shift : nil
                    let what =
                        "\(channels) channels x \(pixels) pixels, scale \(useScale), shift \(useShift), relu \(relu)"
                    let y = Guarded(count: x.count)
                    sc_scale_shift_nhwc(x, y.pointer, pixels, Int32(channels), scalePointer, shiftPointer, relu ? 1 : 0)
                    #expect(KernelTests.relativeError(y.values, expected) <= Self.tolerance, "\(what)")
                    #expect(y.guardsIntact, "\(what)")
                    let inPlace = Guarded(x)  // y == x
                    sc_scale_shift_nhwc(
                        inPlace.pointer, inPlace.pointer, pixels, Int32(channels), scalePointer, shiftPointer,
                        relu ? 1 : 0)
                    #expect(KernelTests.relativeError(inPlace.values, expected) <= Self.tolerance, "\(what), in place")
                    #expect(inPlace.guardsIntact, "\(what), in place")
                }
            }
        }
    }

    // MARK: Pooling

    /// A pool's geometry, with the output size PyTorch's ceil_mode gives if asked: then the last
    /// windows reach past the padded input, and the average's divisor must clip them to it.
    struct Case: Sendable, CustomTestStringConvertible {
        var pool: PoolCase
        var ceilMode = false
        var channels: Int { pool.channels }
        var outHeight: Int { ceilMode ? Self.ceilSize(pool.height, pool) : pool.outHeight }
        var outWidth: Int { ceilMode ? Self.ceilSize(pool.width, pool) : pool.outWidth }
        var testDescription: String { pool.testDescription + (ceilMode ? " ceil" : "") }
        static func ceilSize(_ size: Int, _ p: PoolCase) -> Int {
            let out = (size + 2 * p.pad - p.kernel + p.stride - 1) / p.stride + 1
            return (out - 1) * p.stride >= size + p.pad ? out - 1 : out  // the last window starts inside
        }
    }

    /// KernelTests' cases, plus odd channel counts, a 1 x 1 image, a kernel past 16, ceil mode, and at
    /// stride 1 (max pools by rows and columns where an input row has at most 8192 floats): channels
    /// past a vector of eight with a tail under a 5 x 5 window (as in SPP), a window larger than the
    /// map, and rows too long for the stack (600 x 14 floats).
    static let poolCases: [Case] =
        KernelTests.poolCases.map { Case(pool: $0) } + [
            Case(pool: PoolCase(channels: 17, height: 4, width: 6, kernel: 3, stride: 2, pad: 1)),
            Case(pool: PoolCase(channels: 5, height: 1, width: 1, kernel: 3, stride: 1, pad: 1)),
            Case(pool: PoolCase(channels: 3, height: 17, width: 18, kernel: 17, stride: 2, pad: 1)),
            Case(pool: PoolCase(channels: 3, height: 6, width: 7, kernel: 3, stride: 2, pad: 1), ceilMode: true),
            Case(pool: PoolCase(channels: 2, height: 9, width: 11, kernel: 5, stride: 3, pad: 2), ceilMode: true),
            Case(pool: PoolCase(channels: 21, height: 8, width: 9, kernel: 5, stride: 1, pad: 2)),
            Case(pool: PoolCase(channels: 9, height: 5, width: 6, kernel: 7, stride: 1, pad: 3)),
            Case(pool: PoolCase(channels: 600, height: 3, width: 14, kernel: 3, stride: 1, pad: 1)),
            // 75 channels: the AVX2 windows' blocks of 64 sums and 32 maxima, a vector of 8 and a tail.
            Case(pool: PoolCase(channels: 75, height: 5, width: 6, kernel: 3, stride: 1, pad: 1)),
            Case(pool: PoolCase(channels: 75, height: 7, width: 5, kernel: 3, stride: 2, pad: 1))
        ]

    /// Runs a pool over output rows [0, rows) in one call, then split in two at several rows; checks
    /// that the first call of a split leaves the later rows alone and that the halves make the whole.
    static func runPool(_ c: Case, batch: Int, input: [Float], isMax: Bool) -> [Float] {
        let p = c.pool, rows = batch * c.outHeight, rowElements = c.outWidth * c.channels
        func call(_ y: Guarded, _ range: Range<Int>) {
            let pool = isMax ? sc_max_pool_nhwc : sc_avg_pool_nhwc
            pool(
                input, y.pointer, Int32(p.channels), Int32(p.height), Int32(p.width), Int32(p.kernel), Int32(p.stride),
                Int32(p.pad), Int32(c.outHeight), Int32(c.outWidth), range.lowerBound, range.upperBound)
        }
        let whole = Guarded(count: rows * rowElements)
        call(whole, 0..<rows)
        #expect(whole.guardsIntact, "\(c.testDescription), max \(isMax), whole")
        let full = whole.values
        for split in Set([1, rows / 2, c.outHeight, c.outHeight + 1, rows - 1]) where split > 0 && split < rows {
            let y = Guarded(count: rows * rowElements, fill: Guarded.sentinel)
            call(y, 0..<split)
            #expect(
                y.values[(split * rowElements)...].allSatisfy { $0 == Guarded.sentinel },
                "\(c.testDescription), max \(isMax), wrote past row \(split)")
            call(y, split..<rows)
            #expect(y.values == full, "\(c.testDescription), max \(isMax), split at row \(split)")
            #expect(y.guardsIntact, "\(c.testDescription), max \(isMax), split at row \(split)")
        }
        return full
    }

    @Test(arguments: poolCases)
    func pooling(_ c: Case) {
        let p = c.pool, batch = 2
        let imageElements = p.height * p.width * p.channels
        // Mostly negative values, so padding that wrongly counted as 0 would win a max.
        let x = KernelTests.random(batch * imageElements, seed: 21).map { $0 - 0.75 }
        var maxExpected = [Double](), avgExpected = [Double]()
        for n in 0..<batch {
            for oy in 0..<c.outHeight {
                for ox in 0..<c.outWidth {
                    for ch in 0..<p.channels {
                        var best = -Double.infinity, sum = 0.0
                        let y0 = oy * p.stride - p.pad, x0 = ox * p.stride - p.pad
                        for ky in 0..<p.kernel {
                            for kx in 0..<p.kernel {
                                let iy = y0 + ky, ix = x0 + kx
                                if iy < 0 || iy >= p.height || ix < 0 || ix >= p.width { continue }
                                let v = Double(x[((n * p.height + iy) * p.width + ix) * p.channels + ch])
                                best = max(best, v)
                                sum += v
                            }
                        }
                        // Padded zeros count: the divisor is the window clipped to the padded input.
                        let count =
                            (min(y0 + p.kernel, p.height + p.pad) - y0) * (min(x0 + p.kernel, p.width + p.pad) - x0)
                        maxExpected.append(best)
                        avgExpected.append(sum / Double(count))
                    }
                }
            }
        }
        KernelTests.atEveryLevel { level in
            let maxActual = Self.runPool(c, batch: batch, input: x, isMax: true)
            #expect(KernelTests.relativeError(maxActual, maxExpected) <= Self.tolerance, "level \(level)")
            let avgActual = Self.runPool(c, batch: batch, input: x, isMax: false)
            #expect(KernelTests.relativeError(avgActual, avgExpected) <= Self.tolerance, "level \(level)")
        }
    }

    @Test func globalAveragePool() {
        for (channels, spatial) in [(3, 49), (17, 1), (2, 37), (40, 9), (96, 25)] {
            let x = KernelTests.random(channels * spatial, seed: 31)
            let expected = (0..<channels).map { c in
                (0..<spatial).map { Double(x[$0 * channels + c]) }.reduce(0, +) / Double(spatial)
            }
            KernelTests.atEveryLevel { level in
                let y = Guarded(count: channels)
                sc_global_avg_pool_nhwc(x, y.pointer, Int32(channels), Int32(spatial))
                #expect(
                    KernelTests.relativeError(y.values, expected) <= Self.tolerance,
                    "level \(level), \(channels) channels x \(spatial)")
                #expect(y.guardsIntact)
            }
        }
    }

    // MARK: Subsample-and-pad, layout conversions

    @Test func subsampleAndPad() {
        // (channels, height, width, stride, out channels, pad before): KernelTests.subsampleAndPad's cases.
        for (channels, height, width, stride, outChannels, padBefore) in [
            (3, 7, 5, 2, 8, 2), (4, 6, 6, 2, 4, 0), (2, 5, 5, 1, 5, 3), (3, 1, 1, 2, 6, 3)
        ] {
            let outHeight = (height + stride - 1) / stride, outWidth = (width + stride - 1) / stride
            let x = KernelTests.random(height * width * channels, seed: 51)
            var expected = [Double]()
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for oc in 0..<outChannels {
                        let c = oc - padBefore
                        expected.append(
                            c >= 0 && c < channels ? Double(x[((oy * stride) * width + ox * stride) * channels + c]) : 0
                        )
                    }
                }
            }
            let y = Guarded(count: outHeight * outWidth * outChannels)
            sc_subsample_pad_nhwc(
                x, y.pointer, Int32(channels), Int32(height), Int32(width), Int32(stride),
                Int32(outChannels), Int32(padBefore), Int32(outHeight), Int32(outWidth))
            #expect(
                y.values.map(Double.init) == expected,
                "\(channels)x\(height)x\(width) s\(stride) -> \(outChannels) from \(padBefore)")
            #expect(y.guardsIntact)
        }
    }

    @Test func layoutConversions() {
        // Tiles of the transposes: partial ones (33 x 20), exact ones (16 x 32), the copies (1 x n, n x 1),
        // the interleaving of three rows (an RGB image to NHWC; 3 pixels back to NCHW), and at the AVX2
        // level blocks of 8 x 8 with strips of the last rows and columns (33 x 20, 19 x 41), at every level.
        for (channels, spatial) in [(3, 49), (8, 3), (17, 5), (33, 20), (16, 32), (1, 7), (5, 1), (1, 1), (19, 41)] {
            KernelTests.atEveryLevel { level in
                let x = KernelTests.random(channels * spatial, seed: 71)
                let nhwc = Guarded(count: x.count)
                sc_nchw_to_nhwc(x, nhwc.pointer, Int32(channels), Int32(spatial))
                let toNHWC = nhwc.values
                #expect(
                    (0..<spatial).allSatisfy { p in
                        (0..<channels).allSatisfy { c in toNHWC[p * channels + c] == x[c * spatial + p] }
                    },
                    "level \(level), \(channels) x \(spatial) to NHWC")
                #expect(nhwc.guardsIntact)

                let nchw = Guarded(count: x.count)
                sc_nhwc_to_nchw(x, nchw.pointer, Int32(channels), Int32(spatial))  // x read as NHWC
                let toNCHW = nchw.values
                #expect(
                    (0..<spatial).allSatisfy { p in
                        (0..<channels).allSatisfy { c in toNCHW[c * spatial + p] == x[p * channels + c] }
                    },
                    "level \(level), \(channels) x \(spatial) to NCHW")
                #expect(nchw.guardsIntact)

                let back = Guarded(count: x.count)
                sc_nhwc_to_nchw(toNHWC, back.pointer, Int32(channels), Int32(spatial))
                #expect(back.values == x, "level \(level), \(channels) x \(spatial) round trip")
                #expect(back.guardsIntact)
            }
        }
    }
}
