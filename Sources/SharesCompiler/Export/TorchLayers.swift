/// One spec layer as a PyTorch module: its constructor call, and how its output looks to the next
/// layer. Block templates print their sizes as expressions over the template's arguments
/// (`planes * 4`); stem and head print numbers.
struct TorchLayer {
    /// The tensor entering or leaving a layer, as Python expressions of the template's arguments.
    struct Tensor {
        /// Channels of an image, features of a vector; empty where a block template cannot know them (the
        /// features after a `flatten` of a map whose size the template does not fix).
        var channels: String
        var isVector: Bool
        /// Elements of one sample, when they follow from the arguments alone (a 1x1 image or a vector).
        var elements: String?

        static func image(channels: String) -> Tensor { Tensor(channels: channels, isVector: false, elements: nil) }

        /// A tensor whose shape is known exactly (stem and head, where sizes are numbers).
        init(_ shape: Shape) {
            self.init(
                channels: String(shape.dims[0]), isVector: shape.dims.count == 1, elements: String(shape.elementCount))
        }

        init(channels: String, isVector: Bool, elements: String?) {
            self.channels = channels
            self.isVector = isVector
            self.elements = elements
        }
    }

    /// How the layer's arguments are printed: as expressions, or folded to numbers.
    struct Printer {
        var names: [String: String]
        /// Folds every expression to its value (stem and head); nil keeps them symbolic (blocks).
        var scope: Scope?

        func print(_ argument: Located<ArgumentValue>?, whole: Bool) -> String? {
            guard let argument, case .expression(let expression) = argument.value else { return nil }
            if let scope, let value = try? scope.evaluate(Located(expression, at: argument.location)) {
                return PythonSource.literal(value)
            }
            return PythonSource.expression(expression, names: names, whole: whole)
        }
    }

    /// Where a layer sits with respect to a residual connection: stochastic depth drops a residual branch
    /// in training, so it is the identity where there is none.
    enum Residual {
        case none, always
        /// Decided when the block is built: the Python condition (`self.use_res_connect`).
        case when(String)
    }

    var name: String
    var constructor: String
    /// A linear layer reading an image flattens it first (sharesc's linear flattens implicitly).
    var flattensInput: Bool
    var kind: LayerKind
    var output: Tensor

    /// Normalisations, activations, layer scales, dropout and stochastic depth are written nested around
    /// the call before them in `forward`; convolutions, pools and the others start a line of their own.
    var nestsInForward: Bool {
        switch kind {
        case .batchnorm, .relu, .dropout, .relu6, .silu, .hardswish, .gelu, .sigmoid, .layernorm, .layerScale,
            .stochasticDepth:
            return true
        case .conv, .depthwise, .maxpool, .avgpool, .globalAvgpool, .flatten, .linear, .subsamplePad, .squeezeExcite:
            return false
        }
    }

    /// `tied` is the Python expression that picks this layer's tied convolution, when some block ties it.
    /// Whether the output is a new tensor that only the next layer reads, so a ReLU may work in place.
    var producesFreshValue: Bool { kind == .conv || kind == .depthwise || kind == .batchnorm || kind == .linear }

    /// `freshInput`: the input is a value only this layer reads (see `producesFreshValue`). `residual`: whether
    /// the layer is on a residual branch (a block's body), which stochastic depth drops.
    init(
        _ layer: LayerSpec, name: String, input: Tensor, printer: Printer, freshInput: Bool,
        tied: String?, residual: Residual = .none
    ) throws(CompileFailure) {
        self.name = name
        kind = layer.kind
        flattensInput = false
        func argument(_ key: String, whole: Bool = true) -> String? {
            printer.print(layer.arguments[key], whole: whole)
        }
        func flag(_ key: String, default fallback: Bool) -> Bool {
            if case .flag(let value)? = layer.arguments[key]?.value { return value }
            return fallback
        }
        /// Keyword arguments that differ from PyTorch's defaults.
        func keywords(_ pairs: [(String, String?, String)]) -> [(String, String)] {
            pairs.compactMap { key, value, fallback in value.flatMap { $0 == fallback ? nil : (key, $0) } }
        }
        func unsupported(_ reason: String) -> CompileFailure {
            CompileFailure(Diagnostic(at: layer.location, .torchUnsupported(layer: name, reason: reason)))
        }
        /// The input's channels (or features), for a layer whose constructor needs them.
        func features() throws(CompileFailure) -> String {
            guard input.channels.isEmpty else { return input.channels }
            throw unsupported(
                "its input features come from a 'flatten' inside the block template, where they depend on the image size; flatten at the end of the block, or after a global_avgpool"
            )
        }
        output = input
        switch layer.kind {
        case .conv, .depthwise:
            // A depthwise convolution: one group per channel, padded by default to keep the size.
            let depthwise = layer.kind == .depthwise
            let channels = try features()
            let out = depthwise ? channels : argument("out")!, bias = flag("bias", default: false)
            let kernel = argument("kernel")!
            var options = keywords([
                ("stride", argument("stride"), "1"),
                ("padding", argument("pad") ?? (depthwise ? Self.halfKernel(layer, printer: printer) : nil), "0"),
                ("groups", depthwise ? channels : argument("groups"), "1")
            ])
            if let tied {
                // The helper defaults to no bias, as sharesc does.
                if bias { options.append(("bias", "True")) }
                constructor = PythonSource.call("conv2d", [channels, out, kernel], options + [("tied", tied)])
            } else {
                if !bias { options.append(("bias", "False")) }
                constructor = PythonSource.call("nn.Conv2d", [channels, out, kernel], options)
            }
            output = .image(channels: out)
        case .batchnorm:
            let dimension = input.isVector ? "1d" : "2d"
            constructor = PythonSource.call(
                "nn.BatchNorm\(dimension)", [try features()],
                keywords([("eps", argument("eps", whole: false), "1e-05")]))
        case .relu6, .silu, .hardswish, .gelu, .sigmoid:
            // Never in place: these save their input for backward, and in place PyTorch first copies it.
            let modules: [LayerKind: String] = [
                .relu6: "nn.ReLU6()", .silu: "nn.SiLU()", .hardswish: "nn.Hardswish()", .gelu: "nn.GELU()",
                .sigmoid: "nn.Sigmoid()"
            ]
            constructor = modules[layer.kind]!
        case .squeezeExcite:
            guard !input.isVector else { throw unsupported("squeeze-and-excitation needs an image input") }
            var activation: [(String, String)] = []
            if case .word("silu")? = layer.arguments["activation"]?.value { activation = [("activation", "nn.SiLU")] }
            constructor = PythonSource.call(
                "SqueezeExcitation", [try features(), argument("width")!], activation)
        case .layernorm:
            // Over the channels of each pixel (ConvNeXt's LayerNorm2d), or over a vector's features.
            constructor = PythonSource.call(
                input.isVector ? "nn.LayerNorm" : "LayerNorm2d", [try features()],
                keywords([("eps", argument("eps", whole: false), "1e-05")]))
        case .layerScale:
            constructor = PythonSource.call(
                "LayerScale", [try features()],
                keywords([
                    ("init", argument("init", whole: false), "1e-06"), ("images", input.isVector ? "False" : nil, "")
                ])
            )
        case .stochasticDepth:
            let module = PythonSource.call("StochasticDepth", [argument("p", whole: false) ?? "0"])
            switch residual {
            case .none: constructor = "nn.Identity()"
            case .always: constructor = module
            case .when(let condition): constructor = "\(module) if \(condition) else nn.Identity()"
            }
        case .relu:
            // In place only on a value nothing else reads: a block's input may also feed its
            // shortcut, and a ReLU's output is what its own gradient needs.
            constructor = freshInput ? "nn.ReLU(inplace=True)" : "nn.ReLU()"
        case .maxpool, .avgpool:
            let module = layer.kind == .maxpool ? "nn.MaxPool2d" : "nn.AvgPool2d"
            constructor = PythonSource.call(
                module, [argument("kernel")!],
                keywords([("stride", argument("stride"), ""), ("padding", argument("pad"), "0")]))
            output.elements = nil
        case .globalAvgpool:
            constructor = "nn.AdaptiveAvgPool2d(1)"
            output.elements = try features()
        case .flatten:
            constructor = "nn.Flatten()"
            // (Features the template cannot know are empty: only a layer that needs them refuses.)
            output = Tensor(channels: input.elements ?? "", isVector: true, elements: input.elements)
        case .linear:
            guard let features = input.isVector ? try features() : input.elements else {
                throw unsupported(
                    "its input features depend on the image size, which a block template does not know; put a global_avgpool before it"
                )
            }
            let out = argument("out")!
            flattensInput = !input.isVector
            constructor = PythonSource.call(
                "nn.Linear", [features, out], flag("bias", default: true) ? [] : [("bias", "False")])
            output = Tensor(channels: out, isVector: true, elements: out)
        case .dropout:
            constructor = PythonSource.call("nn.Dropout", [argument("p", whole: false)].compactMap { $0 })
        case .subsamplePad:
            let out = argument("out")!
            constructor = PythonSource.call("SubsamplePad", [out], keywords([("stride", argument("stride"), "1")]))
            output = .image(channels: out)
        }
    }
}

extension TorchLayer {
    /// A depthwise convolution's default padding, `(kernel - 1) // 2`, folded when the kernel is a number.
    static func halfKernel(_ layer: LayerSpec, printer: Printer) -> String? {
        guard let kernel = layer.arguments["kernel"], case .expression(let expression) = kernel.value else {
            return nil
        }
        let half = Expression.binary(
            .floorDivide, .binary(.subtract, expression, .number(.int(1))), .number(.int(2)))
        if half.variables.isEmpty, let value = try? Scope().evaluate(Located(half, at: kernel.location)) {
            return PythonSource.literal(value)
        }
        return printer.print(Located(.expression(half), at: kernel.location), whole: true)
    }
}

extension [TorchLayer] {
    /// The entries of an `nn.Sequential` holding these layers: a linear layer reading an image gets
    /// an `nn.Flatten()` before it, under a name no layer of the list has.
    var sequentialEntries: [(name: String, constructor: String)] {
        let names = Set(map(\.name))
        var entries: [(name: String, constructor: String)] = []
        for layer in self {
            if layer.flattensInput {
                var name = "flatten"
                while names.contains(name) || entries.contains(where: { $0.name == name }) { name += "_" }
                entries.append((name, "nn.Flatten()"))
            }
            entries.append((layer.name, layer.constructor))
        }
        return entries
    }
}
