import ArgumentParser
import Foundation
import SharesCompiler

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a network on the CPU and print its top-5 classes, or write its outputs.",
        discussion: """
            Input and output are NumPy .npy files of float32: the input N x C x H x W (or C x H x W), the output \
            N x classes (N x C x H x W for a network without a classifier, whose five largest values are printed at \
            [channel, row, column]; a C x 1 x 1 output, as a 1x1 convolution head gives, is printed as C classes). \
            Without --input, a deterministic random input of --batch images is used.

            Examples:
              sharesc run Architectures/cifar/sharesnet-164.yaml --seed 1
              sharesc compile Architectures/imagenet/sharesnet-50.yaml \\
                -o sharesnet-50.plan
              sharesc run sharesnet-50.plan --input images.npy --output logits.npy \\
                --threads 2
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "A .npy file of float32 images.") var input: String?
    @Option(help: "Write the outputs to this .npy file instead of printing the top 5.") var output: String?
    @Option(parsing: .unconditional, help: "Images in the generated input (default: 1).") var batch: Int?

    func validate() throws {
        if let output { try refuseOtherKind(of: output, option: "--output", writes: "a NumPy file", own: "npy") }
        if let batch {
            guard input == nil else {
                throw ValidationError(
                    "--batch sizes the generated input; with --input, the file's first dimension does")
            }
            guard batch >= 1 && batch <= 4096 else { throw ValidationError("--batch must be between 1 and 4096") }
        }
    }

    /// Each image's five largest outputs: classes, or for an output map (a network without a
    /// classifier) positions `[channel, row, column]`, not indices into the flattened map.
    static func largest(_ outputs: [Float], images: Int, shape dims: [Int]) -> String {
        let count = dims.reduce(1, *)
        let isMap = dims.count == 3 && dims[1] * dims[2] > 1
        func position(_ index: Int) -> String {
            isMap ? "[\(index / (dims[1] * dims[2])), \(index / dims[2] % dims[1]), \(index % dims[2])]" : "\(index)"
        }
        let header =
            isMap
            ? "largest values of each image's \(dims.map(String.init).joined(separator: " x ")) output, at [channel, row, column]\n"
            : ""
        return header
            + (0..<images).map { image in
                let row = Array(outputs[(image * count)..<((image + 1) * count)])
                // Largest first, NaN above everything (as PyTorch's topk), ties by index: a total order.
                func key(_ index: Int) -> (Int, Float, Int) {
                    row[index].isNaN ? (1, 0, -index) : (0, row[index], -index)
                }
                let top = row.indices.sorted { key($0) > key($1) }.prefix(5)
                return "image \(image): "
                    + top.map { "\(position($0)) (\(Format.fixed(Double(row[$0]), decimals: 4)))" }
                    .joined(separator: ", ")
            }.joined(separator: "\n")
    }

    func run() throws {
        let text = try reportingDiagnostics { () throws(CompileFailure) -> String in
            let loaded = try model.load()
            let (images, batch) = try readInput(for: loaded)
            let logits = loaded.executor.run(images, batch: batch)
            if let warning = NonFiniteOutputs(logits, images: batch).warning { printError(warning) }
            if let output {
                let shape = [batch] + loaded.outputShape.dims
                try NumPyFile.write(logits, shape: shape, to: output)
                return "\(outputName(output)): " + shape.map(String.init).joined(separator: " x ") + " float32"
            }
            return Self.largest(logits, images: batch, shape: loaded.outputShape.dims)
        }
        if let output { emitSummary(text, of: output) } else { emit(text) }
    }

    /// The images and their number, whose outputs fit in memory (checked with the images, for generated ones).
    private func readInput(for loaded: LoadedModel) throws(CompileFailure) -> ([Float], Int) {
        let imageShape = loaded.inputShape.dims
        guard let input else {
            let batch = batch ?? 1
            return (try loaded.executor.randomInput(batch: batch, seed: 0), batch)
        }
        let (shape, values) = try NumPyFile.read(input)
        var batch = 1
        if shape != imageShape {
            guard shape.count == imageShape.count + 1, Array(shape.dropFirst()) == imageShape, shape[0] >= 1 else {
                throw CompileFailure(
                    Diagnostic(
                        at: Location(file: input, line: 1, column: 1),
                        .inputShape(found: shape, expected: imageShape)))
            }
            batch = shape[0]
        }
        try loaded.executor.checkMemory(batch: batch)
        return (values, batch)
    }
}
