import CKernels
import Foundation
import Testing

@testable import SharesCompiler

/// The activations, layer normalization and squeeze-and-excitation kernels against their definitions
/// in double precision, at every instruction-set level: the activations to within 1e-6 relative over
/// the whole float range (every 65,521st bit pattern, where the exact value is a normal float), GELU
/// to within 1e-6 relative plus 2e-7 |x| absolute, and PyTorch's results for NaN and the infinities.
/// GELU's absolute term is PyTorch's own kind of error: it computes x / 2 (1 + erf(x / sqrt(2))) in
/// float, whose 1 + erf cancels in the left tail, so its results there are good to about 6e-8 |x|
/// absolute, not relative (and 0 from x = -5.5 on, where |GELU| < 1.1e-7). The AVX2 level's
/// rational erf is good to 1.92e-7 |x| there (4.2e-7 relative from x = -1 up).
@Suite(.serialized)
struct ActivationKernelTests {
    typealias Guarded = KernelTests.Guarded

    /// Float bit patterns spread over the whole range (both signs), and the special values.
    static let sweep: [Float] =
        stride(from: 0, to: 1 << 32, by: 65_521).map { Float(bitPattern: UInt32($0)) }
        + [0, -0, .nan, .infinity, -.infinity, 1e-30, -1e-30, 88.5, -88.5, 15, -15, 3, -3, 6, -6]

    /// nil when `actual` agrees with the definition: NaN where it is NaN, infinities exactly, values
    /// whose exact result is a normal float to within `tolerance` relative, and subnormal ones to
    /// within a few units of the last place; else the first disagreement.
    static func disagreement(_ activation: Program.Activation, _ x: [Float], _ actual: [Float], tolerance: Double)
        -> String?
    {
        for (v, y) in zip(x, actual) {
            let e = KernelTests.activate(activation, Double(v))
            // Where e^-v overflows a float, PyTorch's sigmoid and SiLU are 0 and -0 (their float e^-v is
            // infinite); the portable level's double e^-v gives the exact value. Either will do.
            if (activation == .sigmoid || activation == .silu) && v < -88.72 && !v.isInfinite && y == 0 { continue }
            // Hard-swish overflows in float where v * 6 does (PyTorch computes v * relu6(v + 3) / 6).
            if activation == .hardswish && abs(v) > 3e37 { continue }
            let error = abs(Double(y) - e)
            let subnormalOK =
                abs(e) < Double(Float.leastNormalMagnitude) && error <= 4 * Double(Float.leastNonzeroMagnitude)
            let ok =
                e.isNaN
                ? y.isNaN
                : e.isInfinite
                    ? Double(y) == e
                    : activation == .gelu
                        ? error <= tolerance * abs(e) + 2e-7 * abs(Double(v)) || subnormalOK
                        : abs(e) < Double(Float.leastNormalMagnitude)
                            ? subnormalOK
                            : error <= tolerance * abs(e)
            if !ok { return "\(activation.rawValue)(\(v)) is \(y), expected \(e)" }
        }
        return nil
    }

    @Test(arguments: Program.Activation.allCases)
    func activationOverTheFloatRange(_ activation: Program.Activation) {
        let x = Self.sweep
        KernelTests.atEveryLevel { level in
            let y = Guarded(count: x.count)
            sc_activation(x, y.pointer, x.count, activation.kernelCode)
            let problem = Self.disagreement(activation, x, y.values, tolerance: 1e-6)
            #expect(problem == nil, "level \(level): \(problem ?? "")")
            #expect(y.guardsIntact, "level \(level)")
            // In place, on a count that is not a multiple of eight.
            let inPlace = Guarded(Array(x.prefix(1003)))
            sc_activation(inPlace.pointer, inPlace.pointer, 1003, activation.kernelCode)
            #expect(inPlace.values.elementsEqual(y.values.prefix(1003)) { $0 == $1 || ($0.isNaN && $1.isNaN) })
        }
    }

    /// The non-finite results PyTorch gives (torch 2.13, float32): sigmoid(-inf) = 0, silu(-inf),
    /// hardswish(-inf) and gelu(-inf) NaN, gelu(inf) = inf.
    @Test func pyTorchNonFiniteResults() {
        let x: [Float] = [-.infinity, .infinity, .nan, 100, 0, 1, -1, 2, -2, 3, -3, 5, -5, 7]
        let expected: [Program.Activation: [Float]] = [
            .sigmoid: [0, 1, .nan, 1], .silu: [.nan, .infinity, .nan, 100],
            .hardswish: [.nan, .infinity, .nan, 100], .gelu: [.nan, .infinity, .nan, 100],
            .relu6: [0, 6, .nan, 6]
        ]
        KernelTests.atEveryLevel { level in
            for (activation, values) in expected {
                var y = [Float](repeating: 7, count: x.count)
                sc_activation(x, &y, x.count, activation.kernelCode)
                #expect(
                    zip(y.prefix(4), values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) },
                    "level \(level), \(activation.rawValue): \(y.prefix(4))")
            }
        }
    }

    @Test(arguments: [Float(0), 100, 10_000])
    func layerNorm(offset: Float) {
        for (channels, pixels) in [(5, 13), (17, 4), (1, 3), (96, 5), (768, 2), (27, 9), (40, 6)] {
            // Pixels by fours and one at a time; channels by 16, by 8 and one at a time. A large common
            // offset: the variance must come from deviations, not from squares, and the mean must not
            // lose what rounding it to a float drops (at 1e4, floats are 1e-3 apart).
            let x = KernelTests.random(pixels * channels, seed: 91).map { $0 + offset }
            let scale = KernelTests.random(channels, seed: 92), shift = KernelTests.random(channels, seed: 93)
            let epsilon: Float = 1e-6
            var expected = [Double](repeating: 0, count: x.count)
            for p in 0..<pixels {
                let row = (0..<channels).map { Double(x[p * channels + $0]) }
                let mean = row.reduce(0, +) / Double(channels)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(channels)
                for c in 0..<channels {
                    expected[p * channels + c] =
                        (row[c] - mean) / (variance + Double(epsilon)).squareRoot() * Double(scale[c])
                        + Double(shift[c])
                }
            }
            KernelTests.atEveryLevel { level in
                let y = Guarded(count: x.count)
                sc_layer_norm_nhwc(x, y.pointer, pixels, Int32(channels), scale, shift, epsilon)
                let error = KernelTests.relativeError(y.values, expected)
                #expect(error <= 2e-6, "level \(level), \(channels) x \(pixels), offset \(offset): \(error)")
                #expect(y.guardsIntact)
                let inPlace = Guarded(x)
                sc_layer_norm_nhwc(inPlace.pointer, inPlace.pointer, pixels, Int32(channels), scale, shift, epsilon)
                #expect(inPlace.values == y.values, "level \(level), \(channels) x \(pixels), in place")
            }
        }
    }

    @Test(arguments: [Program.Activation.relu, .silu])
    func squeezeExcite(_ activation: Program.Activation) {
        for (channels, squeeze, spatial) in [(8, 2, 9), (13, 3, 5), (40, 10, 1), (96, 24, 49)] {
            let x = KernelTests.random(spatial * channels, seed: 94)
            let w1 = KernelTests.random(squeeze * channels, seed: 95), b1 = KernelTests.random(squeeze, seed: 96)
            let w2 = KernelTests.random(channels * squeeze, seed: 97), b2 = KernelTests.random(channels, seed: 98)
            let pooled = (0..<channels).map { c in
                (0..<spatial).reduce(0.0) { $0 + Double(x[$1 * channels + c]) } / Double(spatial)
            }
            let hidden = (0..<squeeze).map { s in
                KernelTests.activate(
                    activation,
                    Double(b1[s]) + (0..<channels).reduce(0.0) { $0 + Double(w1[s * channels + $1]) * pooled[$1] })
            }
            let gate = (0..<channels).map { c in
                1
                    / (1
                        + exp(
                            -(Double(b2[c])
                                + (0..<squeeze).reduce(0.0) { $0 + Double(w2[c * squeeze + $1]) * hidden[$1] })))
            }
            let expected = x.indices.map { Double(x[$0]) * gate[$0 % channels] }
            let scratch = Guarded(count: sc_squeeze_excite_scratch(Int32(channels), Int32(squeeze)))
            KernelTests.atEveryLevel { level in
                let y = Guarded(x)
                sc_squeeze_excite_nhwc(
                    y.pointer, y.pointer, Int32(spatial), Int32(channels), Int32(squeeze), w1, b1, w2, b2,
                    activation.kernelCode, scratch.pointer)
                #expect(
                    KernelTests.relativeError(y.values, expected) <= KernelTests.tolerance,
                    "level \(level), \(channels) channels, squeeze \(squeeze)")
                #expect(y.guardsIntact && scratch.guardsIntact)
            }
        }
    }
}
