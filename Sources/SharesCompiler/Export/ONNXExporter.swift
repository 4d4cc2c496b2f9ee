/// Writes a graph and its weights as an ONNX model (opset 17): input `input` (N x C x H x W float32,
/// N dynamic), output `logits`. Every distinct parameter is one initializer named as in the weights
/// file, so a tied weight is ONE initializer consumed by several Conv nodes. Nodes and values are
/// named after the layers of the spec (`stage2.block1.conv1`).
public enum ONNXExporter {
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

    public static func export(_ graph: Graph, weights: WeightStore) -> [UInt8] {
        var model = ProtoWriter()
        model.int(Model.irVersion, irVersion)
        model.string(Model.producerName, "sharesc")
        model.string(Model.producerVersion, "0.1.0")
        model.message(Model.graph) { writeGraph(graph, weights: weights, into: &$0) }
        model.message(Model.opsetImport) { entry in
            entry.string(1, "")
            entry.int(2, opset)
        }
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
            case .dropout:
                // Identity at inference: later nodes read the dropout's input directly.
                valueNames[node.id.index] = valueNames[node.inputs[0].index]
                if node.id == graph.output {
                    emit(&out, "Identity", name: node.name, inputs: [valueNames[node.id.index]], output: name)
                }
            default:
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
        }
    }

    private static func writeNode(
        _ node: GraphNode, graph: Graph, inputs: [String], output: String, into out: inout ProtoWriter
    ) {
        let parameters = node.op.parameters.map { graph[$0].name }
        switch node.op {
        case .input, .dropout:
            break
        case .activation, .squeezeExcite, .layerNorm, .layerScale, .stochasticDepth:
            preconditionFailure("ONNX-TODO: \(node.op.mnemonic)")
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

    private static func poolAttributes(_ pool: Op.Pooling) -> [Attribute] {
        [
            .ints("kernel_shape", [pool.kernel, pool.kernel]), .ints("strides", [pool.stride, pool.stride]),
            .ints("pads", Array(repeating: pool.padding, count: 4))
        ]
    }
}
