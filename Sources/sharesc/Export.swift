import ArgumentParser
import Foundation
import SharesCompiler

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the network as an ONNX model or a PyTorch module, tied weights stored once.",
        discussion: """
            The format follows the output's extension (.onnx, .py) unless --format says it.

            ONNX: opset 17, input `input` (N x C x H x W float32, N dynamic), output `logits`; a tied weight \
            is one initializer consumed by several Conv nodes.

            PyTorch: one Python file importing only torch; `create_model()` returns the network, whose \
            state_dict() keys are the tensor names of `sharesc init`; a tied weight is one nn.Parameter. \
            The module holds no weights: --weights only checks that a file fits it (for load_state_dict).

            Examples:
              sharesc export Architectures/imagenet/sharesnet-50.yaml -o sharesnet-50.onnx
              sharesc export Architectures/cifar/sharesnet-164.yaml -o m.onnx \\
                --weights w.safetensors
              sharesc export Architectures/cifar/sharesnet-164.yaml -o seq.onnx \\
                --sequential --seed 3
              sharesc export Architectures/cifar/sharesnet-164.yaml -o sharesnet164.py
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case onnx, torch }

    @Argument(help: "The spec to export.") var spec: String
    @OptionGroup var options: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(name: .shortAndLong, help: "The file to write (.onnx or .py).") var output: String
    @Option(help: "Output format (default: from the output's extension).") var format: Format?

    func validate() throws {
        if format == nil && !lowercasedOutput.hasSuffix(".onnx") && !lowercasedOutput.hasSuffix(".py") {
            throw ValidationError(
                "cannot tell the format from '\(output)': name it .onnx or .py, or give --format onnx|torch")
        }
        // `--format` says the format, not what the file may be named: `--format torch -o other.yaml` wrote
        // Python over a spec.
        switch resolvedFormat {
        case .onnx: try refuseOtherKind(of: output, option: "-o", writes: "an ONNX model", own: "onnx")
        case .torch: try refuseOtherKind(of: output, option: "-o", writes: "PyTorch source", own: "py", alike: ["txt"])
        }
        if resolvedFormat == .torch && (weights.seed != nil || weights.randomizeBatchNorm) {
            throw ValidationError(
                "a PyTorch export holds no weights, so --seed and --randomize-bn do nothing: the module initialises itself, "
                    + "or loads a file with load_state_dict (--weights checks that one fits)")
        }
    }

    /// The output path in lower case, for its extension (`M.ONNX` is an ONNX file, as `graph` takes `x.SVG`).
    private var lowercasedOutput: String { output.lowercased() }

    var resolvedFormat: Format { format ?? (lowercasedOutput.hasSuffix(".py") ? .torch : .onnx) }

    func run() throws {
        let summary = try reportingDiagnostics { () throws(CompileFailure) in
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            printWarnings(compilation.warnings)
            switch resolvedFormat {
            case .torch:
                let source = try TorchExporter.export(compilation)
                // The module holds no weights; a weights file is checked against it, for load_state_dict.
                var fits = ""
                if let file = weights.weights {
                    let notes = try WeightSource.file(file).load(for: compilation.graph).notes
                    printWarnings(notes)
                    // A wrapper's prefix that sharesc strips, load_state_dict does not.
                    let prefix = notes.map { note in
                        if case .weightsPrefixStripped(let prefix, _) = note.id { prefix } else { "" }
                    }.joined()
                    fits =
                        prefix.isEmpty
                        ? "; \(file) fits it (load_state_dict)"
                        : "; \(file) fits it without the prefix '\(prefix)' (strip it for load_state_dict, as train.py does)"
                }
                try write(Data(source.utf8))
                return
                    "\(outputName(output)): PyTorch module \(Report.label(compilation.graph, overrides: compilation.report.overrides)), "
                    + "\(SharesCompiler.Format.counted(compilation.report.parameters.total, "parameter")), "
                    + "\(compilation.graph.ties.count) tied" + fits
            case .onnx:
                try ONNXExporter.checkSize(compilation.graph)
                let (values, notes) = try weights.source.load(for: compilation.graph)
                printWarnings(notes)
                try write(Data(try ONNXExporter.export(compilation.graph, weights: values)))
                return
                    "\(outputName(output)): \(SharesCompiler.Format.counted(compilation.graph.parameters.count, "initializer")) "
                    + "(\(compilation.graph.ties.count) tied), "
                    + "\(SharesCompiler.Format.counted(compilation.report.parameters.total, "parameter")), opset \(ONNXExporter.opset)"
            }
        }
        emitSummary(summary, of: output)
    }

    private func write(_ data: Data) throws(CompileFailure) { try OutputFile.write(data, to: output) }
}
