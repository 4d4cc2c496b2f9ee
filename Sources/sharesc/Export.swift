import ArgumentParser
import Foundation
import SharesCompiler

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the network as an ONNX model, tied weights stored once.",
        discussion: """
        Opset 17, input `input` (N x C x H x W float32, N dynamic), output `logits`. A tied weight is one
        initializer consumed by several Conv nodes.
        Examples:
          sharesc export Architectures/imagenet/sharesnet-50.yaml -o sharesnet-50.onnx
          sharesc export Architectures/cifar/sharesnet-164.yaml -o m.onnx --weights w.safetensors
          sharesc export Architectures/cifar/sharesnet-164.yaml -o seq.onnx --sequential --seed 3
        """
    )

    @Argument(help: "The spec to export.") var spec: String
    @OptionGroup var options: SpecOptions
    @OptionGroup var weights: WeightOptions
    @Option(name: .shortAndLong, help: "The ONNX file to write.") var output: String

    func run() throws {
        let summary = try reportingDiagnostics { () throws(CompileFailure) in
            let compilation = try Compiler.compile(spec, options: options.compileOptions)
            let values = try weights.source.load(for: compilation.graph)
            let bytes = ONNXExporter.export(compilation.graph, weights: values)
            do { try Data(bytes).write(to: URL(fileURLWithPath: output)) } catch {
                throw CompileFailure(Diagnostic(at: Location(file: output, line: 1, column: 1),
                                                .cannotWrite(path: output, reason: error.localizedDescription)))
            }
            return "\(output): \(compilation.graph.parameters.count) initializers (\(compilation.graph.ties.count) tied), "
                + "\(compilation.report.parameters.total) parameters, opset \(ONNXExporter.opset)"
        }
        emit(summary)
    }
}
