import CKernels

extension Program {
    /// A convolution step's geometry as the C kernels take it, with the algorithm it runs by; nil for
    /// other steps.
    func convGeometry(of step: Step, algorithm: Algorithm) -> sc_conv_geometry? {
        guard case .conv(_, _, let kernel, let stride, let padding, let groups, _) = step.kernel else { return nil }
        let input = values[step.inputs[0]].shape, output = values[step.output].shape
        return sc_conv_geometry(
            in_channels: Int32(input.channels), in_height: Int32(input.height), in_width: Int32(input.width),
            out_channels: Int32(output.channels), out_height: Int32(output.height), out_width: Int32(output.width),
            kernel: Int32(kernel), stride: Int32(stride), pad: Int32(padding), groups: Int32(groups),
            algorithm: algorithm.kernelCode)
    }
}

extension Algorithm {
    /// The kernels' SC_CONV_* code (`kernel`, not a convolution, has none: -1).
    var kernelCode: Int32 {
        switch self {
        case .igemm: return Int32(SC_CONV_IGEMM)
        case .gemm1x1: return Int32(SC_CONV_GEMM_1X1)
        case .depthwise: return Int32(SC_CONV_DEPTHWISE)
        case .grouped: return Int32(SC_CONV_GROUPED)
        case .winogradF2: return Int32(SC_CONV_WINOGRAD_F2)
        case .winogradF4: return Int32(SC_CONV_WINOGRAD_F4)
        case .kernel: return -1
        }
    }
}

extension sc_conv_geometry {
    /// Whether the geometry's algorithm computes its convolution (the kernels' own rule).
    var isSupported: Bool {
        var geometry = self
        return sc_conv_supports(&geometry) != 0
    }

    var isWinograd: Bool { algorithm == Int32(SC_CONV_WINOGRAD_F2) || algorithm == Int32(SC_CONV_WINOGRAD_F4) }
    /// Depthwise or grouped: the per-channel loop (whose steps `Scheduling` cuts by pixels only).
    var isDepthwise: Bool { algorithm == Int32(SC_CONV_DEPTHWISE) || algorithm == Int32(SC_CONV_GROUPED) }

    /// Rows of the convolution's work: output pixels, or for Winograd its m x m tiles of them.
    var rows: Int {
        var geometry = self
        return isWinograd ? sc_winograd_tiles(&geometry) : Int(out_height) * Int(out_width)
    }

    /// Floats of the weights as packed for the algorithm.
    var packedFloats: Int {
        var geometry = self
        return isWinograd ? sc_winograd_packed_size(&geometry) : sc_conv_nhwc_packed_size(&geometry)
    }

    /// Columns of the work: panels of 16 output channels.
    var panels: Int {
        var geometry = self
        return Int(sc_conv_nhwc_panels(&geometry))
    }
}

extension Program.Activation {
    /// The kernels' SC_ACT_* code.
    var kernelCode: Int32 {
        switch self {
        case .none: return Int32(SC_ACT_NONE)
        case .relu: return Int32(SC_ACT_RELU)
        case .relu6: return Int32(SC_ACT_RELU6)
        case .silu: return Int32(SC_ACT_SILU)
        case .hardswish: return Int32(SC_ACT_HARDSWISH)
        case .gelu: return Int32(SC_ACT_GELU)
        case .sigmoid: return Int32(SC_ACT_SIGMOID)
        }
    }
}
