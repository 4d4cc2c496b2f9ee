import Testing

@testable import SharesCompiler

/// Small hand-checked networks: each pass on its own, against numbers worked out by hand.
struct PassTests {
    static let tiny = [
        "spec.yaml": """
        network: tiny
        input: [3, 8, 8]
        blocks:
          pair:
            args: {width: required, stride: 1}
            body:
              - conv: {out: $width, kernel: 3, stride: $stride, pad: 1}
              - batchnorm
              - relu
              - conv: {out: $width, kernel: 3, pad: 1}
            shortcut:
              - conv: {out: $width, kernel: 1, stride: $stride}
        stem: [conv: {out: 4, kernel: 1}]
        stages:
          - {block: pair, width: 4, repeat: 3, share: {conv2: all}}
        head: [global_avgpool, linear: {out: 2}]
        """
    ]

    @Test func tiedWeightIsOneParameterUsedByEveryBlock() throws {
        let graph = try compileInMemory(Self.tiny).graph
        let convs = graph.nodes.compactMap { node -> Op.Convolution? in
            if case .conv(let conv) = node.op, node.name.hasSuffix(".conv2") { return conv }
            return nil
        }
        #expect(convs.count == 3)
        #expect(Set(convs.map(\.weight)).count == 1)
        #expect(graph[convs[0].weight].name == "stage1.shared.conv2.weight")
        #expect(graph.ties.map(\.name) == ["stage1.conv2"])
        #expect(graph.parameterUseCounts()[convs[0].weight.index] == 3)
    }

    @Test func costsByHand() throws {
        let report = try compileInMemory(Self.tiny).report
        // stem 1x1 3->4: 12 weights, 12 x 64 MACs. Each block: conv1 4x4x9 = 144, bn 8, conv2 144.
        // Block 1 keeps the shape (4x8x8), so no projection. Head: linear 4x2 + 2.
        let conv1 = 144, bn = 8, conv2 = 144, linear = 10
        #expect(report.parameters.perUse == 12 + 3 * (conv1 + bn + conv2) + linear)
        #expect(report.parameters.total == 12 + 3 * (conv1 + bn) + conv2 + linear)
        #expect(report.parameters.buffers == 3 * 8)
        #expect(report.macs == 12 * 64 + 3 * 2 * 144 * 64 + 8)
        #expect(report.ties.first?.saved == 2 * conv2)
    }

    @Test func untieGivesEveryUseItsOwnWeight() throws {
        let shared = try compileInMemory(Self.tiny).graph
        let sequential = Untie.run(shared)
        #expect(sequential.ties.isEmpty)
        #expect(sequential.parameters.count == shared.parameters.count + 2)
        #expect(sequential.parameterUseCounts().allSatisfy { $0 == 1 })
        #expect(sequential.parameters.contains { $0.name == "stage1.block3.conv2.weight" })
        #expect(Verifier.problems(in: sequential) == [])
        // Same nodes, same shapes: only parameter identities change.
        #expect(sequential.nodes.map(\.shape) == shared.nodes.map(\.shape))
    }

    @Test func verifierCatchesBrokenInvariants() throws {
        var graph = try compileInMemory(Self.tiny).graph
        #expect(Verifier.problems(in: graph) == [])
        graph.nodes[2].shape = Shape([1, 1, 1])
        graph.nodes[3].inputs = [ValueID(7)]
        let problems = Verifier.problems(in: graph)
        #expect(problems.contains { $0.contains("does not follow") })
        #expect(problems.contains { $0.contains("not defined before use") })
    }

    @Test func projectionOnlyWhenTheShapeChanges() throws {
        var files = Self.tiny
        files["spec.yaml"] = files["spec.yaml"]!.replacingOccurrences(
            of: "repeat: 3, share: {conv2: all}", with: "repeat: 2, stride: 2")
        let graph = try compileInMemory(files).graph
        let projections = graph.nodes.filter { $0.name.contains("shortcut") }.map(\.name)
        #expect(projections == ["stage1.block1.shortcut.conv1"])
        #expect(graph.nodes.last { $0.name.hasSuffix("add") }?.shape == Shape([4, 4, 4]))
    }

    @Test func preActivationFeedsOnlyTheProjection() throws {
        let graph = try compileShipped("cifar/resnet-164.yaml", overrides: ["depth=20"]).graph
        func node(_ name: String) -> GraphNode { graph.nodes.first { $0.name == name }! }
        // First block: the projection reads the pre-activated input (the relu after pre.bn1).
        #expect(node("stage1.block1.shortcut.conv1").inputs == [node("stage1.block1.pre.relu1").id])
        // Later blocks: the identity shortcut is the raw block input, not the pre-activation.
        let add = node("stage1.block2.add")
        #expect(add.inputs[1] == node("stage1.block2.pre.bn1").inputs[0])
    }

    @Test func stageStrideAppliesToTheFirstBlockOnly() throws {
        let graph = try compileShipped("imagenet/resnet-50.yaml").graph
        let strides = graph.nodes.compactMap { node -> Int? in
            guard node.name.hasPrefix("stage2.") && node.name.hasSuffix(".conv2"), case .conv(let conv) = node.op else {
                return nil
            }
            return conv.stride
        }
        #expect(strides == [2, 1, 1, 1])
    }
}
