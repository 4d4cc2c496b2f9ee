/// What a training step at batch N holds beyond inference: the activations that autograd saves in the forward
/// pass for the backward pass, estimated per graph node as PyTorch (CPU, the module of `sharesc export`) saves
/// them. A tensor saved by two layers (a ReLU's output, saved by the ReLU and read again by the next conv) is one
/// tensor and counts once: saved values are keyed by the graph value they hold, after views (`flatten`, dropout
/// at rate 0) are traced back to the value they look at. Parameters and batchnorm buffers, which the backward
/// pass also reads, are not activations and are counted apart (weights, gradients, optimizer state).
public enum TrainingMemory {
    /// Bytes of float32 and of int64 elements.
    static let floatBytes = 4, indexBytes = 8

    /// The activations one forward pass saves for backward: `perImage` bytes for every image of the batch, and
    /// `perBatch` bytes once (batchnorm's per-channel batch statistics).
    public struct SavedActivations: Hashable, Sendable {
        public var perImage: Int
        public var perBatch: Int

        /// The bytes at `batch` images, or nil when they do not fit in an Int.
        public func bytes(batch: Int) -> Int? {
            let (product, overflow) = perImage.multipliedReportingOverflow(by: batch)
            let (sum, overflowSum) = product.addingReportingOverflow(perBatch)
            return overflow || overflowSum ? nil : sum
        }
    }

    /// What one forward pass in training mode saves for backward.
    public static func savedActivations(_ graph: Graph) -> SavedActivations {
        // The value whose storage each node's output is: itself, or for a view the value it views.
        var storage = graph.nodes.map(\.id)
        var saved = Set<ValueID>()
        var perImage = 0, perBatch = 0
        let branches = residualBranches(graph)
        // Whether autograd tracks a node's output: it has parameters, or an input that is tracked. A node
        // that is not tracked saves nothing (a pool or activation reading the image, before the first
        // weight, runs as if under no_grad); its views are still views.
        var tracked = [Bool](repeating: false, count: graph.nodes.count)
        for node in graph.nodes {
            tracked[node.id.index] = !node.op.parameters.isEmpty || node.inputs.contains { tracked[$0.index] }
            let input = node.inputs.first.map { storage[$0.index] }
            // What this node saves: values (each counted once, whoever saves it) and bytes of its own.
            var keeps: [ValueID] = [], ownPerImage = 0, ownPerBatch = 0
            switch node.op {
            case .stochasticDepth(let rate):
                // On a residual branch at a rate above 0, the branch times a per-sample mask of kept (scaled) or
                // dropped samples: the product saves the mask, one float per image. Elsewhere, or at rate 0,
                // the layer returns its input.
                if rate > 0 && branches.contains(node.id) {
                    ownPerImage += floatBytes
                } else if let input {
                    storage[node.id.index] = input
                }
            case .input, .add, .subsamplePad, .globalAvgPool:
                // The network input is saved by the layer that reads it (a conv). A sum's gradient passes
                // through unchanged; slicing and zero padding need only shapes; a global average pool runs as
                // a mean over height and width, whose gradient needs only the input's shape.
                break
            case .flatten:
                // A view of its input: the same storage.
                if let input { storage[node.id.index] = input }
            case .conv, .linear, .avgPool:
                // Conv: the gradient of the weight needs the input (the weight, a parameter, too). Linear (addmm):
                // the input and the weight's transpose, a view of the parameter. Average pooling: its input.
                if let input { keeps.append(input) }
            case .batchNorm:
                // Training batchnorm saves its input and the batch's mean and inverse standard deviation, one
                // float per channel each (and gamma and the running statistics: parameters and buffers).
                if let input { keeps.append(input) }
                ownPerBatch += 2 * node.shape.channels * floatBytes
            case .relu, .activation(.sigmoid):
                // ReLU's and sigmoid's gradients need their output (in place or not: the output is what it saves).
                keeps.append(node.id)
            case .activation(.relu6), .activation(.silu), .activation(.hardswish), .activation(.gelu):
                // Their gradients are functions of the input.
                if let input { keeps.append(input) }
            case .layerScale:
                // The product's gradient for the scale needs the input.
                if let input { keeps.append(input) }
            case .layerNorm:
                // The input, and the mean and inverse standard deviation of every pixel.
                if let input { keeps.append(input) }
                ownPerImage += 2 * node.shape.elementCount / max(node.shape.channels, 1) * floatBytes
            case .squeezeExcite(let se):
                // The input (for the product with the gate and the pooling), the pooled vector (read by fc1), the
                // activation's saved value (and, for SiLU, its output read by fc2), and the gate (sigmoid's
                // output, also read by the product).
                if let input { keeps.append(input) }
                let channels = node.shape.channels, squeeze = se.squeezeChannels
                ownPerImage += (2 * channels + (se.activation == .silu ? 2 : 1) * squeeze) * floatBytes
            case .maxPool:
                // Max pooling saves its input and the argmax indices, one int64 per output element.
                if let input { keeps.append(input) }
                ownPerImage += node.shape.elementCount * indexBytes
            case .dropout(let rate):
                // At rate 0 dropout returns its input. Otherwise, on the CPU, it multiplies by a float mask
                // (scaled Bernoulli noise) and the product saves the mask: one float per element. (CUDA's fused
                // kernel saves a one-byte mask instead.)
                if rate == 0 {
                    if let input { storage[node.id.index] = input }
                } else {
                    ownPerImage += node.shape.elementCount * floatBytes
                }
            }
            guard tracked[node.id.index] else { continue }
            saved.formUnion(keeps)
            perImage += ownPerImage
            perBatch += ownPerBatch
        }
        perImage = saved.reduce(perImage) { $0 + graph[$1].shape.elementCount * floatBytes }
        return SavedActivations(perImage: perImage, perBatch: perBatch)
    }

    /// The nodes on a residual branch: the body layers (not `pre`, `shortcut` or `post`) of blocks that
    /// have their residual sum, which is where stochastic depth drops anything.
    static func residualBranches(_ graph: Graph) -> Set<ValueID> {
        var summed = Set<Section>()
        for node in graph.nodes {
            if case .add = node.op { summed.insert(node.section) }
        }
        var branches = Set<ValueID>()
        for node in graph.nodes where summed.contains(node.section) {
            guard case .block(let stage, let block) = node.section else { continue }
            let local = node.name.dropFirst("\(graph.stages[stage].name).block\(block).".count)
            if !["pre.", "shortcut.", "post."].contains(where: { local.hasPrefix($0) }) { branches.insert(node.id) }
        }
        return branches
    }
}
