/// Turns the graph into a `Program`: each convolution absorbs the batchnorm, layer scale, residual
/// add and activation that follow it (when each is the only consumer of what came before; stochastic
/// depth, the identity at inference, is looked through), leftover batchnorms, adds and linear layers
/// absorb a following activation, and flatten, dropout and stochastic depth become aliases of their
/// input (except a flatten of a map of several pixels that is read by something other than linear
/// layers, or is the output: a step then puts the NHWC values in ONNX's (c, h, w) feature order).
/// What nothing absorbs is a step of its own: an activation, a layer scale, layer normalization (one
/// pass over each pixel's channels) and squeeze-and-excitation (pooling, both products and the
/// multiply in one step, in place).
///
/// A residual add is absorbed by the operand computed LAST, so that the other operand already
/// exists when the fused step runs: in a projection block that is the shortcut's conv, which then
/// reads the body's output as its residual.
///
/// In a pre-activation network a block's output x feeds the next block twice: its batchnorm and ReLU,
/// and (kept as it is) its residual add. The convolution that writes x then also writes bn(x)+ReLU as
/// a second output, from the same registers, instead of a scale-and-shift step reading x again.
public enum Fusion {
    /// A step in the making: the graph nodes it covers and what its epilogue does.
    private struct Group {
        var members: [Int]
        var epilogue = Program.Epilogue.none
        var residual: ValueID?
        var last: Int { members[members.count - 1] }
    }

    public static func run(_ graph: Graph) -> Program {
        var consumers = [[Int]](repeating: [], count: graph.nodes.count)
        for node in graph.nodes { for input in node.inputs { consumers[input.index].append(node.id.index) } }
        func onlyConsumer(of index: Int) -> GraphNode? {
            consumers[index].count == 1 && index != graph.output.index ? graph.nodes[consumers[index][0]] : nil
        }
        /// The only consumer of node `index` past any stochastic depths (each the only consumer of the
        /// one before), and those stochastic depths: a group that absorbs the consumer absorbs them too.
        func follow(_ index: Int) -> (node: GraphNode, through: [Int])? {
            var through: [Int] = [], current = index
            while let next = onlyConsumer(of: current), case .stochasticDepth = next.op {
                through.append(next.id.index)
                current = next.id.index
            }
            return onlyConsumer(of: current).map { ($0, through) }
        }
        /// Whether the value is the network's output, or reaches it through dropouts (which are no steps).
        func isOutput(_ index: Int) -> Bool {
            index == graph.output.index
                || consumers[index].contains { consumer in
                    switch graph.nodes[consumer].op {
                    case .dropout, .stochasticDepth: return isOutput(consumer)
                    case .input, .conv, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .add,
                        .linear, .subsamplePad, .activation, .squeezeExcite, .layerNorm, .layerScale:
                        return false
                    }
                }
        }
        /// Whether only linear layers read the value (through dropouts): they take a flattened map in NHWC order.
        func onlyLinearsRead(_ index: Int) -> Bool {
            index != graph.output.index
                && consumers[index].allSatisfy { consumer in
                    switch graph.nodes[consumer].op {
                    case .linear: return true
                    case .dropout, .stochasticDepth: return onlyLinearsRead(consumer)
                    case .input, .conv, .batchNorm, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .add,
                        .subsamplePad, .activation, .squeezeExcite, .layerNorm, .layerScale:
                        return false
                    }
                }
        }

        var absorbed = [Bool](repeating: false, count: graph.nodes.count)
        var groups: [Group] = []
        for node in graph.nodes where !absorbed[node.id.index] {
            var group = Group(members: [node.id.index])
            func absorb(_ next: GraphNode, through: [Int]) { group.members += through + [next.id.index] }
            if case .conv = node.op {
                if let (next, through) = follow(group.last), case .batchNorm(let bn) = next.op {
                    group.epilogue.batchNorm = reference(bn)
                    absorb(next, through: through)
                }
                if let (next, through) = follow(group.last), case .layerScale(let scale) = next.op {
                    group.epilogue.layerScale = scale.weight.index
                    absorb(next, through: through)
                }
                if let (next, through) = follow(group.last), case .add = next.op {
                    let mine = through.last ?? group.last
                    let other = next.inputs[0].index == mine ? next.inputs[1] : next.inputs[0]
                    if other.index < group.last {
                        group.epilogue.residual = 1
                        group.residual = other
                        absorb(next, through: through)
                    }
                }
            }
            switch node.op {
            case .conv, .batchNorm, .add, .linear:
                if let (next, through) = follow(group.last) {
                    switch next.op {
                    case .relu:
                        group.epilogue.activation = .relu
                        absorb(next, through: through)
                    case .activation(let activation):
                        group.epilogue.activation = Program.Activation(activation)
                        absorb(next, through: through)
                    case .input, .conv, .batchNorm, .maxPool, .avgPool, .globalAvgPool, .flatten, .linear, .dropout,
                        .add, .subsamplePad, .squeezeExcite, .layerNorm, .layerScale, .stochasticDepth:
                        break
                    }
                }
            case .input, .relu, .maxPool, .avgPool, .globalAvgPool, .flatten, .dropout, .subsamplePad,
                .activation, .squeezeExcite, .layerNorm, .layerScale, .stochasticDepth:
                break
            }
            for member in group.members.dropFirst() { absorbed[member] = true }
            groups.append(group)
        }

        // Pre-activation: a conv group whose output is read by exactly one batchnorm that forms a step of
        // its own takes that step in as its second output. (When the batchnorm is the only reader, as
        // before a stage's first block and the head, the first output is written and never read: one
        // wasted write, against a whole read-and-write pass saved.)
        var mergedInto: [Int: Int] = [:]  // batchnorm group -> conv group
        let groupStarting = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($1.members[0], $0) })
        for (index, group) in groups.enumerated() {
            guard case .conv = graph.nodes[group.members[0]].op, group.last != graph.output.index else { continue }
            let norms = consumers[group.last].filter {
                if case .batchNorm = graph.nodes[$0].op { return true } else { return false }
            }
            // (The second output's activation is ReLU or none: pre-activation networks have no other.)
            guard norms.count == 1, let normGroup = groupStarting[norms[0]],
                case .batchNorm(let bn) = graph.nodes[norms[0]].op,
                groups[normGroup].epilogue.activation == .relu || groups[normGroup].epilogue.activation == .none
            else { continue }
            groups[index].epilogue.preActivation = Program.PreActivation(
                batchNorm: reference(bn), relu: groups[normGroup].epilogue.activation == .relu)
            mergedInto[normGroup] = index
        }

        var program = Program(
            network: graph.network, variant: graph.variant, values: [], steps: [],
            parameters: parameterTable(graph), input: 0, output: 0, macs: 0)
        var valueOf = [Int](repeating: -1, count: graph.nodes.count)
        // A group runs where its last node stood, so every input of every member exists by then.
        func stepName(_ group: Group) -> String {
            group.members.map { graph.nodes[$0].name }.enumerated()
                .map { $0.offset == 0 ? $0.element : String($0.element.split(separator: ".").last ?? "") }.joined(
                    separator: "+")
        }
        let pending = groups.enumerated().filter { mergedInto[$0.offset] == nil }
        let normOf = Dictionary(uniqueKeysWithValues: mergedInto.map { ($1, groups[$0]) })
        for (index, group) in pending.sorted(by: { $0.element.last < $1.element.last }) {
            let first = graph.nodes[group.members[0]], last = graph.nodes[group.last]
            var inputs = first.inputs.map { valueOf[$0.index] }
            let kernel: Program.Kernel
            switch first.op {
            case .input:
                program.values.append(Program.Value(name: "input", shape: graph.inputShape))
                valueOf[first.id.index] = program.values.count - 1
                program.input = valueOf[first.id.index]
                continue
            // (At the output even a one-pixel map: its values are the same, but the output's shape is the vector's.
            // A vector flattens to itself, an alias.)
            case .flatten
            where graph[first.inputs[0]].shape.isImage
                && (graph[first.inputs[0]].shape.elementCount > graph[first.inputs[0]].shape.channels
                    || isOutput(first.id.index))
                && !onlyLinearsRead(first.id.index):
                kernel = .flatten
            case .activation(let activation):
                kernel = .activation(Program.Activation(activation))
            case .squeezeExcite(let se):
                kernel = .squeezeExcite(
                    reduceWeight: se.reduceWeight.index, reduceBias: se.reduceBias.index,
                    expandWeight: se.expandWeight.index, expandBias: se.expandBias.index,
                    activation: Program.Activation(se.activation))
            case .layerNorm(let norm):
                kernel = .layerNorm(scale: norm.scale.index, shift: norm.shift.index, epsilon: norm.epsilon)
            case .layerScale(let scale):
                kernel = .layerScale(weight: scale.weight.index)
            case .flatten, .dropout, .stochasticDepth:
                // No data moves: the same buffer, read under another shape.
                valueOf[first.id.index] = valueOf[first.inputs[0].index]
                continue
            case .conv(let conv):
                if let residual = group.residual { inputs.append(valueOf[residual.index]) }
                kernel = .conv(
                    weight: conv.weight.index, bias: conv.bias?.index, kernel: conv.kernel, stride: conv.stride,
                    padding: conv.padding, groups: conv.groups, epilogue: group.epilogue)
            case .batchNorm(let bn):
                kernel = .scaleShift(reference(bn), activation: group.epilogue.activation)
            case .add:
                kernel = .add(activation: group.epilogue.activation)
            case .relu:
                kernel = .relu
            case .maxPool(let pool):
                kernel = .maxPool(kernel: pool.kernel, stride: pool.stride, padding: pool.padding)
            case .avgPool(let pool):
                kernel = .avgPool(kernel: pool.kernel, stride: pool.stride, padding: pool.padding)
            case .globalAvgPool:
                kernel = .globalAvgPool
            case .linear(let linear):
                kernel = .linear(
                    weight: linear.weight.index, bias: linear.bias?.index, activation: group.epilogue.activation)
            case .subsamplePad(let pad):
                let inputChannels = graph[first.inputs[0]].shape.channels
                kernel = .subsamplePad(stride: pad.stride, padBefore: (pad.outChannels - inputChannels) / 2)
            }
            program.values.append(
                Program.Value(name: last.id == graph.output ? "logits" : last.name, shape: last.shape))
            valueOf[last.id.index] = program.values.count - 1
            var step = Program.Step(
                name: stepName(group), kernel: kernel, inputs: inputs, output: valueOf[last.id.index])
            if let norm = normOf[index] {
                let normLast = graph.nodes[norm.last]
                program.values.append(Program.Value(name: normLast.name, shape: normLast.shape))
                valueOf[norm.last] = program.values.count - 1
                step.preActivationOutput = valueOf[norm.last]
                step.name += "+" + stepName(norm)
            }
            program.steps.append(step)
        }
        program.output = valueOf[graph.output.index]
        // The graph's compute is within 64 bits (cost analysis checked it), and fusion keeps it.
        program.macs = program.checkedTotalMACs() ?? .max
        return program
    }

    private static func reference(_ bn: Op.BatchNorm) -> Program.BatchNormRef {
        Program.BatchNormRef(
            scale: bn.scale.index, shift: bn.shift.index, mean: bn.mean.index, variance: bn.variance.index,
            epsilon: bn.epsilon)
    }

    private static func parameterTable(_ graph: Graph) -> [Program.ParameterInfo] {
        let uses = graph.parameterUseCounts()
        return graph.parameters.map {
            Program.ParameterInfo(name: $0.name, shape: $0.shape, role: $0.role.rawValue, uses: uses[$0.id.index])
        }
    }
}
