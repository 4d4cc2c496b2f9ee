/// Checks the invariants every pass must keep. A failure is a bug in sharesc, not in the spec.
public enum Verifier {
    public static func problems(in graph: Graph) -> [String] {
        var problems: [String] = []
        var uses = [Int](repeating: 0, count: graph.parameters.count)
        for (index, node) in graph.nodes.enumerated() {
            // Made only for a problem: building it for every node was most of the verifier's time.
            func place() -> String { "node \(index) (\(node.name))" }
            if node.id.index != index { problems.append("\(place()): id \(node.id) out of place") }
            if node.inputs.count != ShapeRules.arity(of: node.op) {
                problems.append("\(place()): wrong number of inputs")
            }
            if node.inputs.contains(where: { $0.index < 0 || $0.index >= index }) {
                problems.append("\(place()): input not defined before use")
                continue
            }
            let inputShapes = node.op == .input ? [graph.inputShape] : node.inputs.map { graph[$0].shape }
            if case .success(let shape) = ShapeRules.output(of: node.op, inputs: inputShapes, name: node.name),
                shape == node.shape
            {
            } else {
                problems.append("\(place()): shape \(node.shape) does not follow from its inputs")
            }
            let expected = inputShapes.first.map { ShapeRules.parameterShapes(of: node.op, input: $0) } ?? []
            for (parameter, shape) in zip(node.op.parameters, expected) {
                guard graph.parameters.indices.contains(parameter.index) else {
                    problems.append("\(place()): unknown parameter \(parameter)")
                    continue
                }
                uses[parameter.index] += 1
                if graph[parameter].shape != shape {
                    problems.append(
                        "\(place()): parameter \(graph[parameter].name) has shape \(graph[parameter].shape), expected \(shape)"
                    )
                }
            }
        }
        for (parameter, count) in zip(graph.parameters, uses) {
            if count == 0 { problems.append("parameter \(parameter.name) is used by no node") }
            if parameter.tie == nil && count > 1 {
                problems.append("parameter \(parameter.name) is used \(count) times but belongs to no tie")
            }
        }
        for tie in graph.ties where uses[tie.weight.index] < 2 {
            problems.append("tie \(tie.name) has fewer than two uses")
        }
        if Set(graph.parameters.map(\.name)).count != graph.parameters.count {
            problems.append("parameter names are not unique")
        }
        return problems
    }
}
