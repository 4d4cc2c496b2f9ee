import CKernels

/// Writes a graph and its weights as an ONNX model (opset 17): input `input` (N x C x H x W float32,
/// N dynamic), output `logits`. Every distinct parameter is one initializer named as in the weights
/// file, so a tied weight is ONE initializer consumed by several Conv nodes. Nodes and values are
/// named after the layers of the spec (`stage2.block1.conv1`); an op written as several ONNX nodes
/// names its inner values `<layer>.<step>`.
public enum ONNXExporter {
    /// Opset 17 is the lowest with LayerNormalization, and every other op is there at full speed in
    /// ONNX Runtime (measured with 1.32): GELU is written as its erf formula, which ONNX Runtime fuses
    /// into its own Gelu kernel (the Gelu op of opset 20 runs no faster); SiLU as x * Sigmoid(x), fused
    /// into one kernel; ReLU6 as Clip and the sigmoid as Sigmoid, both fused into the convolution
    /// before them; HardSwish (opset 14) as itself.
    public static let opset = 17
    /// IR version 8 goes with opset 17 and is read by every ONNX Runtime since 1.11.
    public static let irVersion = 8

    /// Field numbers of onnx.proto.
    private enum Model { static let irVersion = 1, producerName = 2, producerVersion = 3, graph = 7, opsetImport = 8 }
    private enum GraphField { static let node = 1, name = 2, initializer = 5, docString = 10, input = 11, output = 12 }
    private enum NodeField { static let input = 1, output = 2, name = 3, opType = 4, attribute = 5 }
    private enum AttributeField { static let name = 1, f = 2, i = 3, t = 5, ints = 8, type = 20 }
    private enum AttributeType { static let float = 1, int = 2, tensor = 4, ints = 7 }
    private enum TensorField { static let dims = 1, dataType = 2, int64Data = 7, name = 8, rawData = 9 }
    private enum DataType { static let float = 1, int64 = 7 }

    /// Protobuf, which an ONNX file is, cannot hold a message of 2 GiB or more: a larger file would be
    /// written, and no reader could parse it.
    static let maximumBytes = Int(Int32.max)

    /// Refuses a graph whose weights alone pass that limit (before any weights are generated or read),
    /// or whose model does not fit in memory: it is built there, its initializers' bytes held four
    /// times over at most (the weights, the graph's message, the model's, the file's), where the
    /// allocation trapped.
    public static func checkSize(_ graph: Graph) throws(CompileFailure) {
        let weightBytes = graph.parameters.reduce(0) { $0 + 4 * (Shape.checkedProduct($1.shape) ?? maximumBytes) }
        guard weightBytes < maximumBytes else { throw tooLarge(graph, bytes: weightBytes) }
        guard sc_can_allocate(4 * weightBytes) != 0 else {
            throw CompileFailure(
                Diagnostic(
                    at: Location(file: graph.source, line: 1, column: 1),
                    .outOfMemory(bytes: 4 * weightBytes, purpose: "building the ONNX model")))
        }
    }

    private static func tooLarge(_ graph: Graph, bytes: Int) -> CompileFailure {
        CompileFailure(Diagnostic(at: Location(file: graph.source, line: 1, column: 1), .onnxTooLarge(bytes: bytes)))
    }

    public static func export(_ graph: Graph, weights: WeightStore) throws(CompileFailure) -> [UInt8] {
        try checkSize(graph)
        var model = ProtoWriter()
        model.int(Model.irVersion, irVersion)
        model.string(Model.producerName, "sharesc")
        model.string(Model.producerVersion, "0.1.0")
        model.message(Model.graph) { writeGraph(graph, weights: weights, into: &$0) }
        model.message(Model.opsetImport) { entry in
            entry.string(1, "")
            entry.int(2, opset)
        }
        guard model.bytes.count < maximumBytes else { throw tooLarge(graph, bytes: model.bytes.count) }
        return model.bytes
    }

    private static func writeGraph(_ graph: Graph, weights: WeightStore, into out: inout ProtoWriter) {
        out.string(GraphField.name, graph.network)
        out.string(
            GraphField.docString,
            "\(graph.network) (\(graph.variant.rawValue)), exported by sharesc from \(graph.source)")
        // ONNX value names: the layer's name, the graph input `input`, and `logits` for the output.
        var valueNames = [String](repeating: "", count: graph.nodes.count)
        for node in graph.nodes {
            let name = node.id == graph.output ? "logits" : node.name
            switch node.op {
            case .input:
                valueNames[node.id.index] = "input"
                // A network of no layers (stages of no blocks): its output is its input.
                if node.id == graph.output { emit(&out, "Identity", name: "identity", inputs: ["input"], output: name) }
            case .dropout, .stochasticDepth:
                // Identity at inference: later nodes read the input directly.
                valueNames[node.id.index] = valueNames[node.inputs[0].index]
                if node.id == graph.output {
                    emit(&out, "Identity", name: node.name, inputs: [valueNames[node.id.index]], output: name)
                }
            case .conv, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .linear, .add, .subsamplePad,
                .activation, .squeezeExcite, .layerNorm, .layerScale:
                valueNames[node.id.index] = name
                writeNode(
                    node, graph: graph, inputs: node.inputs.map { valueNames[$0.index] }, output: name, into: &out)
            }
        }
        for parameter in graph.parameters {
            out.message(GraphField.initializer) { tensor in
                tensor.ints(TensorField.dims, parameter.shape)
                tensor.int(TensorField.dataType, DataType.float)
                tensor.string(TensorField.name, parameter.name)
                tensor.floats(TensorField.rawData, weights[parameter.id])
            }
        }
        out.message(GraphField.input) { valueInfo(&$0, name: "input", dims: graph.inputShape.dims) }
        out.message(GraphField.output) { valueInfo(&$0, name: "logits", dims: graph[graph.output].shape.dims) }
    }

    /// A float tensor value with a symbolic batch dimension.
    private static func valueInfo(_ out: inout ProtoWriter, name: String, dims: [Int]) {
        out.string(1, name)
        out.message(2) { type in
            type.message(1) { tensorType in
                tensorType.int(1, DataType.float)
                tensorType.message(2) { shape in
                    shape.message(1) { $0.string(2, "batch") }
                    for dim in dims { shape.message(1) { $0.int(1, dim) } }
                }
            }
        }
    }

    private enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)
        case int64Tensor(String, [Int])
        /// A float scalar (a tensor of no dimensions).
        case floatScalar(String, Float)
    }

    private static func emit(
        _ out: inout ProtoWriter, _ opType: String, name: String, inputs: [String], output: String,
        attributes: [Attribute] = []
    ) {
        out.message(GraphField.node) { node in
            for input in inputs { node.string(NodeField.input, input) }
            node.string(NodeField.output, output)
            node.string(NodeField.name, name)
            node.string(NodeField.opType, opType)
            for attribute in attributes {
                node.message(NodeField.attribute) { write(attribute, into: &$0) }
            }
        }
    }

    private static func write(_ attribute: Attribute, into out: inout ProtoWriter) {
        switch attribute {
        case .int(let name, let value):
            out.string(AttributeField.name, name)
            out.int(AttributeField.i, value)
            out.int(AttributeField.type, AttributeType.int)
        case .ints(let name, let values):
            out.string(AttributeField.name, name)
            out.ints(AttributeField.ints, values)
            out.int(AttributeField.type, AttributeType.ints)
        case .float(let name, let value):
            out.string(AttributeField.name, name)
            out.float(AttributeField.f, value)
            out.int(AttributeField.type, AttributeType.float)
        case .int64Tensor(let name, let values):
            out.string(AttributeField.name, name)
            out.message(AttributeField.t) { tensor in
                tensor.int(TensorField.dims, values.count)
                tensor.int(TensorField.dataType, DataType.int64)
                tensor.ints(TensorField.int64Data, values)
            }
            out.int(AttributeField.type, AttributeType.tensor)
        case .floatScalar(let name, let value):
            out.string(AttributeField.name, name)
            out.message(AttributeField.t) { tensor in
                tensor.int(TensorField.dataType, DataType.float)
                tensor.floats(TensorField.rawData, [value])
            }
            out.int(AttributeField.type, AttributeType.tensor)
        }
    }

    private static func writeNode(
        _ node: GraphNode, graph: Graph, inputs: [String], output: String, into out: inout ProtoWriter
    ) {
        let parameters = node.op.parameters.map { graph[$0].name }
        switch node.op {
        case .input, .dropout, .stochasticDepth:
            break
        case .activation(let activation):
            writeActivation(activation, name: node.name, input: inputs[0], output: output, into: &out)
        case .squeezeExcite(let se):
            // The gate: global average, 1x1 convolution with bias, activation, 1x1 convolution with
            // bias, sigmoid; then the input times its gate ([N, C, 1, 1], broadcast over the pixels).
            let step = { (suffix: String) in "\(node.name).\(suffix)" }
            let fc1 = [graph[se.reduceWeight].name, graph[se.reduceBias].name]
            let fc2 = [graph[se.expandWeight].name, graph[se.expandBias].name]
            let pointwise: [Attribute] = [.ints("kernel_shape", [1, 1])]
            emit(&out, "GlobalAveragePool", name: step("pool"), inputs: inputs, output: step("pool"))
            emit(
                &out, "Conv", name: step("fc1"), inputs: [step("pool")] + fc1, output: step("fc1"),
                attributes: pointwise)
            switch se.activation {
            case .relu: emit(&out, "Relu", name: step("act"), inputs: [step("fc1")], output: step("act"))
            case .silu: writeActivation(.silu, name: step("act"), input: step("fc1"), output: step("act"), into: &out)
            }
            emit(
                &out, "Conv", name: step("fc2"), inputs: [step("act")] + fc2, output: step("fc2"), attributes: pointwise
            )
            emit(&out, "Sigmoid", name: step("gate"), inputs: [step("fc2")], output: step("gate"))
            emit(&out, "Mul", name: node.name, inputs: [inputs[0], step("gate")], output: output)
        case .layerNorm(let norm):
            let attributes: [Attribute] = [.int("axis", -1), .float("epsilon", Float(norm.epsilon))]
            guard graph[node.inputs[0]].shape.dims.count > 1 else {
                // A vector: its features are the last axis already.
                emit(
                    &out, "LayerNormalization", name: node.name, inputs: inputs + parameters, output: output,
                    attributes: attributes)
                return
            }
            // An image: LayerNormalization normalises trailing axes, so the channels go last and back.
            let (channelsLast, normalised) = (node.name + ".nhwc", node.name + ".norm")
            emit(
                &out, "Transpose", name: channelsLast, inputs: inputs, output: channelsLast,
                attributes: [.ints("perm", [0, 2, 3, 1])])
            emit(
                &out, "LayerNormalization", name: normalised, inputs: [channelsLast] + parameters, output: normalised,
                attributes: attributes)
            emit(
                &out, "Transpose", name: node.name, inputs: [normalised], output: output,
                attributes: [.ints("perm", [0, 3, 1, 2])])
        case .layerScale:
            guard graph[node.inputs[0]].shape.dims.count > 1 else {
                emit(&out, "Mul", name: node.name, inputs: inputs + parameters, output: output)
                return
            }
            // The initializer keeps the parameter's shape [C] (as in the weights file); an Unsqueeze to
            // [C, 1, 1], which ONNX Runtime folds into a constant, lines it up with the channels.
            let (axes, scale) = (node.name + ".axes", node.name + ".weight_c11")
            emit(&out, "Constant", name: axes, inputs: [], output: axes, attributes: [.int64Tensor("value", [1, 2])])
            emit(&out, "Unsqueeze", name: scale, inputs: parameters + [axes], output: scale)
            emit(&out, "Mul", name: node.name, inputs: [inputs[0], scale], output: output)
        case .conv(let conv):
            emit(
                &out, "Conv", name: node.name, inputs: inputs + parameters, output: output,
                attributes: [
                    .ints("kernel_shape", [conv.kernel, conv.kernel]), .ints("strides", [conv.stride, conv.stride]),
                    .ints("pads", Array(repeating: conv.padding, count: 4)), .ints("dilations", [1, 1]),
                    .int("group", conv.groups)
                ])
        case .batchNorm(let bn):
            emit(
                &out, "BatchNormalization", name: node.name, inputs: inputs + parameters, output: output,
                attributes: [.float("epsilon", Float(bn.epsilon))])
        case .relu:
            emit(&out, "Relu", name: node.name, inputs: inputs, output: output)
        case .maxPool(let pool):
            emit(&out, "MaxPool", name: node.name, inputs: inputs, output: output, attributes: poolAttributes(pool))
        case .avgPool(let pool):
            // Padding counts toward the average, as in PyTorch's default (ONNX's default excludes it).
            emit(
                &out, "AveragePool", name: node.name, inputs: inputs, output: output,
                attributes: poolAttributes(pool) + [.int("count_include_pad", 1)])
        case .globalAvgPool:
            emit(&out, "GlobalAveragePool", name: node.name, inputs: inputs, output: output)
        case .flatten:
            emit(&out, "Flatten", name: node.name, inputs: inputs, output: output, attributes: [.int("axis", 1)])
        case .linear:
            var source = inputs[0]
            if graph[node.inputs[0]].shape.dims.count > 1 {
                source = node.name + ".flatten"
                emit(&out, "Flatten", name: source, inputs: inputs, output: source, attributes: [.int("axis", 1)])
            }
            emit(
                &out, "Gemm", name: node.name, inputs: [source] + parameters, output: output,
                attributes: [.int("transB", 1)])
        case .add:
            emit(&out, "Add", name: node.name, inputs: inputs, output: output)
        case .subsamplePad(let pad):
            // Keep every stride-th row and column (Slice with steps), then zero-pad the channels.
            let input = graph[node.inputs[0]].shape
            let extra = pad.outChannels - input.channels, before = extra / 2
            let constants: [(String, [Int])] = [
                ("starts", [0, 0]), ("ends", [Int(Int64.max), Int(Int64.max)]), ("axes", [2, 3]),
                ("steps", [pad.stride, pad.stride]),
                ("pads", [0, before, 0, 0, 0, extra - before, 0, 0])
            ]
            for (suffix, values) in constants {
                emit(
                    &out, "Constant", name: "\(node.name).\(suffix)", inputs: [], output: "\(node.name).\(suffix)",
                    attributes: [.int64Tensor("value", values)])
            }
            let sliced = node.name + ".slice"
            emit(
                &out, "Slice", name: sliced,
                inputs: inputs + ["starts", "ends", "axes", "steps"].map { "\(node.name).\($0)" }, output: sliced)
            emit(&out, "Pad", name: node.name, inputs: [sliced, "\(node.name).pads"], output: output, attributes: [])
        }
    }

    private static func writeActivation(
        _ activation: Op.Activation, name: String, input: String, output: String, into out: inout ProtoWriter
    ) {
        let step = { (suffix: String) in "\(name).\(suffix)" }
        func constant(_ suffix: String, _ value: Float) {
            emit(
                &out, "Constant", name: step(suffix), inputs: [], output: step(suffix),
                attributes: [.floatScalar("value", value)])
        }
        switch activation {
        case .relu6:
            constant("min", 0)
            constant("max", 6)
            emit(&out, "Clip", name: name, inputs: [input, step("min"), step("max")], output: output)
        case .silu:
            emit(&out, "Sigmoid", name: step("sigmoid"), inputs: [input], output: step("sigmoid"))
            emit(&out, "Mul", name: name, inputs: [input, step("sigmoid")], output: output)
        case .hardswish:
            emit(&out, "HardSwish", name: name, inputs: [input], output: output)
        case .gelu:
            // 0.5 x (1 + erf(x / sqrt 2)), in the order ONNX Runtime's Gelu fusion recognises.
            constant("sqrt2", Float(2.0.squareRoot()))
            constant("one", 1)
            constant("half", 0.5)
            emit(&out, "Div", name: step("scaled"), inputs: [input, step("sqrt2")], output: step("scaled"))
            emit(&out, "Erf", name: step("erf"), inputs: [step("scaled")], output: step("erf"))
            emit(&out, "Add", name: step("erf1"), inputs: [step("erf"), step("one")], output: step("erf1"))
            emit(&out, "Mul", name: step("x_erf1"), inputs: [input, step("erf1")], output: step("x_erf1"))
            emit(&out, "Mul", name: name, inputs: [step("x_erf1"), step("half")], output: output)
        case .sigmoid:
            emit(&out, "Sigmoid", name: name, inputs: [input], output: output)
        }
    }

    private static func poolAttributes(_ pool: Op.Pooling) -> [Attribute] {
        [
            .ints("kernel_shape", [pool.kernel, pool.kernel]), .ints("strides", [pool.stride, pool.stride]),
            .ints("pads", Array(repeating: pool.padding, count: 4))
        ]
    }
}
