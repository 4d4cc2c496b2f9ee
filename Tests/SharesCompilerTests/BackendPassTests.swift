import CKernels
import Foundation
import Testing

@testable import SharesCompiler

/// Fusion and memory planning on their own, and the plan file: no kernels run here.
struct BackendPassTests {
    /// Autograd saves nothing for layers that read only the image, before any weight (the activation and
    /// the pool here, which were counted); the convolution saves its input, 3 x 16 x 16 floats, for its
    /// weight's gradient, and the activation after it its output. (The PyTorch suite measures the same.)
    @Test func layersBeforeTheFirstWeightSaveNothing() throws {
        let spec =
            "input: [3, 32, 32]\nstem: [relu, {avgpool: {kernel: 2}}, {conv: {out: 8, kernel: 3, pad: 1}}, relu]\n"
        let graph = try compileInMemory(["spec.yaml": spec]).graph
        #expect(TrainingMemory.savedActivations(graph) == .init(perImage: (3 + 8) * 16 * 16 * 4, perBatch: 0))
    }

    @Test(arguments: ArchitectureTests.table)
    func everyShippedProgramVerifiesAndItsArenaHasNoOverlap(_ expected: ArchitectureTests.Expected) throws {
        for sequential in [false, true] {
            let program = try shippedProgram(expected.file, sequential: sequential, overrides: expected.overrides)
            #expect(ProgramVerifier.problems(in: program) == [])
            for batch in [1, 3] {
                let plan = MemoryPlanner.plan(program, batch: batch)
                #expect(plan.conflicts().isEmpty)
                #expect(plan.arenaBytes >= plan.lowerBoundBytes)
                // Every value has a buffer big enough for the batch.
                for (value, buffer) in plan.bufferOfValue.enumerated() {
                    #expect(plan.buffers[buffer].bytes >= program.values[value].elements * batch * 4)
                }
            }
        }
    }

    /// A plan names every field of its steps: Swift's `_0` for an unlabelled value reached the file.
    @Test func planStepsNameEveryField() throws {
        let graph = try compileInMemory([
            "spec.yaml": "input: [4, 8, 8]\nstem: [batchnorm, relu, {conv: {out: 8, kernel: 3, pad: 1}}, relu, relu6]\n"
        ]).graph
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Fusion.run(graph))) as? [String: Any]
        let kernels = try #require(json?["steps"] as? [[String: Any]]).map { $0["kernel"] as? [String: Any] }
        let scaleShift = try #require(kernels.first??["scaleShift"] as? [String: Any])
        #expect(
            scaleShift.keys.sorted() == ["activation", "batchNorm"] && scaleShift["activation"] as? String == "relu")
        #expect((kernels.last??["activation"] as? [String: String]) == ["activation": "relu6"])
    }

    @Test func bottleneckFusesBatchnormResidualAndReLUIntoConvolutions() throws {
        let program = try shippedProgram("imagenet/sharesnet-50.yaml")
        let convs = program.steps.filter { if case .conv = $0.kernel { return true } else { return false } }
        // 53 convs, one maxpool, global pool, linear: nothing else survives fusion.
        #expect(convs.count == 53)
        #expect(program.steps.count == 53 + 3)
        let names = program.steps.map(\.name)
        // Identity blocks: conv3 takes bn3, the add and the ReLU. Projection blocks: the shortcut conv does.
        #expect(names.contains("stage1.block2.conv3+bn3+add+relu1"))
        #expect(names.contains("stage1.block1.shortcut.conv1+bn1+add+relu1"))
        #expect(names.contains("stage1.block1.conv3+bn3"))
        // The tied 3x3 is one parameter read by every use's step, each with its own batchnorm.
        let tied = program.parameters.firstIndex { $0.name == "stage3.shared.conv2.weight" }!
        let uses = program.steps.compactMap { step -> Program.BatchNormRef? in
            guard case .conv(let weight, _, _, _, _, _, let epilogue) = step.kernel, weight == tied else { return nil }
            return epilogue.batchNorm
        }
        #expect(uses.count == 5 && Set(uses.map(\.scale)).count == 5)
    }

    /// The kernels of a shipped network's plan (one thread), by step name.
    func kernels(_ spec: String) throws -> [String: String] {
        let plan = Compiler.plan(try shippedProgram(spec), threads: 1)
        return Dictionary(uniqueKeysWithValues: ProgramPrinter.steps(of: plan).map { ($0.name, $0.kernel) })
    }

    @Test func convNeXtBlockIsThreeConvolutionsAndALayerNorm() throws {
        let program = try shippedProgram("imagenet/convnext-tiny.yaml")
        let kernels = try kernels("imagenet/convnext-tiny.yaml")
        // Depthwise 7x7 with its bias; LayerNorm; 1x1 + bias + GELU; 1x1 + bias + layer scale, with
        // stochastic depth (an alias) and the residual sum: one step.
        #expect(kernels["stage1.block1.dwconv1"] == "conv.depthwise-7x7/1.g96")
        #expect(kernels["stage1.block1.ln1"] == "layer_norm")
        #expect(kernels["stage1.block1.conv1+gelu1"] == "conv.gemm-1x1+gelu")
        #expect(kernels["stage1.block1.conv2+layer_scale1+drop_path1+add"] == "conv.gemm-1x1+layer_scale+add")
        // 18 blocks of 4 steps, the stem's conv and LayerNorm, 3 downsamplings of 2, the head's 3.
        #expect(program.steps.count == 18 * 4 + 2 + 3 * 2 + 3)
    }

    @Test func invertedResidualsFuseBatchnormAndActivationIntoEveryConvolution() throws {
        let mobilenet = try kernels("imagenet/mobilenet-v2.yaml")
        #expect(mobilenet["stage2.block1.dwconv1+bn2+relu6_2"] == "conv.depthwise-3x3/2.g96+bn+relu6")
        #expect(mobilenet["stage2.block2.conv2+bn3+add"] == "conv.gemm-1x1+bn+add")
        // No residual where the block changes the shape (add-if-same-shape).
        #expect(mobilenet["stage2.block1.conv2+bn3"] == "conv.gemm-1x1+bn")
        let efficientnet = try kernels("imagenet/efficientnet-b0.yaml")
        #expect(efficientnet["stage3.block1.dwconv1+bn2+silu2"] == "conv.depthwise-5x5/2.g144+bn+silu")
        #expect(efficientnet["stage3.block1.se1"] == "squeeze_excite.silu")
        #expect(efficientnet["stage3.block2.conv2+bn3+drop_path1+add"] == "conv.gemm-1x1+bn+add")
        // Nothing is left as a step of its own but the squeeze-and-excitations, pooling and the head.
        let program = try shippedProgram("imagenet/efficientnet-b0.yaml")
        #expect(
            Set(program.steps.map(\.kernel.kind)) == ["conv", "squeeze_excite", "global_avg_pool", "linear"])
    }

    @Test func preActivationBatchnormsBecomeSecondOutputs() throws {
        // A pre-activation block's sum is read by the next block's batchnorm-ReLU (and kept for its
        // residual): the convolution writing the sum writes the normalized copy too, so no
        // scale-and-shift step is left, the head's included.
        let program = try shippedProgram("cifar/sharesnet-164.yaml")
        #expect(!program.steps.contains { $0.kernel.kind == "scale_shift" })
        let seconds = program.steps.filter { $0.preActivationOutput != nil }
        #expect(seconds.count == 54)
        #expect(program.steps.count == 166 + 2)  // 166 convolutions, the pool and the linear layer
        #expect(seconds.contains { $0.name == "stage1.block1.shortcut.conv1+add+stage1.block2.pre.bn1+relu1" })
        #expect(seconds.contains { $0.name == "stage3.block18.conv3+add+head.bn1+relu1" })
        #expect(ProgramVerifier.problems(in: program).isEmpty)
        // The next block's first convolution reads the second output; its residual add reads the first.
        let second = try #require(seconds.first).preActivationOutput!
        #expect(program.steps.contains { $0.inputs == [second] })
        // Post-activation networks have nothing to take in.
        #expect(try shippedProgram("imagenet/sharesnet-50.yaml").steps.allSatisfy { $0.preActivationOutput == nil })
    }

    @Test func verifierRefusesAHalfDeclaredSecondOutput() throws {
        let program = try shippedProgram("cifar/sharesnet-164.yaml", overrides: ["depth=20"])
        let index = try #require(program.steps.firstIndex { $0.preActivationOutput != nil })
        var missing = program
        missing.steps[index].preActivationOutput = nil
        #expect(
            ProgramVerifier.problems(in: missing).contains {
                $0.hasSuffix("a pre-activation needs exactly one second output")
            })
        var twice = program
        twice.steps[index].preActivationOutput = twice.steps[index].output
        #expect(ProgramVerifier.problems(in: twice).contains { $0.contains("twice") })
        var misshapen = program
        misshapen.steps[index].preActivationOutput = program.steps[index].inputs[0]
        #expect(!ProgramVerifier.problems(in: misshapen).isEmpty)
    }

    @Test func inPlaceSteps() throws {
        // The plain ResNet-56's identity blocks leave a separate add-ReLU, which writes over its input;
        // resnet-50's bottlenecks end in a convolution that writes over its residual.
        for (spec, overrides, kernels) in [
            ("cifar/resnet-56.yaml", ["depth=20"], ["add"]), ("imagenet/resnet-50.yaml", [], ["conv"])
        ] {
            let program = try shippedProgram(spec, overrides: overrides)
            let plan = MemoryPlanner.plan(program, batch: 2)
            let shared = plan.buffers.filter { $0.values.count > 1 }
            #expect(!shared.isEmpty)
            var kinds = Set<String>()
            for buffer in shared {
                for (previous, value) in zip(buffer.values, buffer.values.dropFirst()) {
                    // Each value written over the one before it, by a step allowed to and reading it once.
                    let step = program.steps.first { $0.output == value }!
                    let overwritten = step.kernel.overwritableInputs.map { step.inputs[$0] }
                    #expect(overwritten.contains(previous), "\(step.name)")
                    #expect(step.inputs.filter { $0 == previous }.count == 1, "\(step.name)")
                    kinds.insert(step.kernel.kind)
                }
            }
            #expect(kinds.isSuperset(of: kernels), "\(spec): \(kinds.sorted())")
        }
    }

    @Test func goldenStages() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource))
        let plan = Compiler.plan(compilation, threads: 2)
        try expectGolden(ProgramPrinter.fused(plan.program), "2-tie-group.fused.txt")
        try expectGolden(ProgramPrinter.memory(plan.program, plan.memory), "2-tie-group.memory.txt")
        try expectGolden(ProgramPrinter.plan(plan), "2-tie-group.plan.txt")
    }

    // MARK: Scheduling

    @Test func piecesAreReckonedAsTheExecutorCutsAndClaimsThem() {
        // Three pieces of 4 units on two threads: one thread takes two of them.
        #expect(Scheduling.busiestLoad(pieces: 3, threads: 2) { _ in 4 } == 8)
        #expect(Scheduling.busiestLoad(pieces: 5, threads: 2) { [9, 1, 1, 1, 1][$0] } == 9)
        // 24 output channels: a panel of 16 and one of 8, which costs half as much.
        let geometry = sc_conv_geometry(
            in_channels: 144, in_height: 56, in_width: 56, out_channels: 24, out_height: 56, out_width: 56,
            kernel: 1, stride: 1, pad: 0, groups: 1, algorithm: Algorithm.gemm1x1.kernelCode)
        let work = Scheduling.ConvolutionWork(geometry)
        #expect(work.panelCosts == [2, 1])
        #expect(work.rowTiles == (56 * 56 + 5) / 6)
        #expect(work.ofPanels(0, of: 2) == 2 * work.rowTiles)
        #expect((0..<4).map { work.ofRows($0, of: 4) }.reduce(0, +) >= 3 * work.rowTiles)
    }

    @Test func twoThreadsShareEveryLargeConvolutionEvenly() throws {
        // MobileNetV2's 16 -> 96 expansion at 112 x 112 once went in 3 pieces of 2 panels: one thread
        // did two thirds of it, and two threads ran it no faster than one.
        let program = try shippedProgram("imagenet/mobilenet-v2.yaml")
        let algorithms = AlgorithmSelection.run(program)
        let schedule = Scheduling.run(program, algorithms: algorithms, threads: 2)
        for (index, step) in program.steps.enumerated() {
            guard let geometry = program.convGeometry(of: step, algorithm: algorithms[index]) else { continue }
            let work = Scheduling.ConvolutionWork(geometry), entry = schedule.steps[index]
            guard work.rowTiles >= 128 else { continue }
            let total = work.rowTiles * work.panelCosts.reduce(0, +)
            let busiest = Scheduling.busiestLoad(pieces: entry.pieces, threads: 2) {
                entry.split == .panels ? work.ofPanels($0, of: entry.pieces) : work.ofRows($0, of: entry.pieces)
            }
            #expect(Double(busiest) <= 0.52 * Double(total), "\(step.name): \(entry.pieces) x \(entry.split)")
        }
    }

    @Test func winogradCutsItsPanelsOnlyWhenItsTilesAreTooFewAndItsWeightsLarge() throws {
        // sharewrn-40-4 at batch 1: 64 tiles of 32 x 32 go by tiles; 16 of 16 x 16 or 8 x 8, with 2.3
        // and 4 MiB of weights, by panels, one piece per thread (each piece transforms every tile).
        var seen: Set<String> = []
        for (step, geometry, entry) in try winogradSchedules("cifar/sharewrn-40-4.yaml") {
            let tiles = geometry.rows
            if tiles > 16 {
                #expect(entry.split == .pixels, "\(step): \(tiles) tiles")
            } else {
                #expect(entry.split == .panels && entry.pieces == 2, "\(step): \(entry.pieces) x \(entry.split)")
            }
            seen.insert(tiles > 16 ? "tiles" : "panels")
        }
        #expect(seen == ["tiles", "panels"])
        // sharesnet-164's maps of 16 tiles, with 144 and 256 KiB of weights, which every thread may read
        // whole: by tiles, 8 to each thread.
        let small = try winogradSchedules("cifar/sharesnet-164.yaml")
        #expect(!small.isEmpty)
        for (step, geometry, entry) in small {
            let work = Scheduling.ConvolutionWork(geometry)
            #expect(geometry.rows == 16 && entry.split == .pixels && entry.pieces == 2, "\(step)")
            #expect(work.ofRows(0, of: 2) == work.ofRows(1, of: 2), "\(step)")
        }
    }

    func winogradSchedules(_ spec: String) throws -> [(String, sc_conv_geometry, StepSchedule)] {
        let program = try shippedProgram(spec)
        let algorithms = AlgorithmSelection.run(program)
        let schedule = Scheduling.run(program, algorithms: algorithms, threads: 2)
        return program.steps.indices.compactMap { index in
            guard let geometry = program.convGeometry(of: program.steps[index], algorithm: algorithms[index]),
                geometry.isWinograd
            else { return nil }
            return (program.steps[index].name, geometry, schedule.steps[index])
        }
    }

    @Test func aTiedThreeByThreeTakesTheLargerWinogradTile() throws {
        // The same 256-channel 3x3 at 14 x 14: tied across sharesnet-50's stage 3 (held transformed once,
        // 9 MiB), untied in each of resnet-50's blocks.
        let name = "stage3.block3.conv2+bn2+relu2"
        for (spec, algorithm) in [
            ("imagenet/sharesnet-50.yaml", Algorithm.winogradF4), ("imagenet/resnet-50.yaml", .winogradF2)
        ] {
            let program = try shippedProgram(spec)
            let index = try #require(program.steps.firstIndex { $0.name == name }, "\(spec): \(name)")
            #expect(AlgorithmSelection.run(program)[index] == algorithm, "\(spec)")
        }
    }

    @Test func nearTiesGoToTheCutThatMovesLessData() throws {
        // Loads 2-3% apart both. sharesnet-164's 16 x 16 1x1s read 128 and 160 KiB of inputs and 16 KiB
        // of weights: pixels (each thread keeps its own pixels in its cache). resnet-50's 14 x 14
        // 256 -> 1024 reads 1 MiB of weights and 1 MiB of inputs: panels (each streams half the weights).
        let cases = [
            ("cifar/sharesnet-164.yaml", "stage2.block3.conv1+bn1+relu1", StepSchedule.Split.pixels),
            ("cifar/sharesnet-164.yaml", "stage2.block3.conv3+add+stage2.block4.pre.bn1+relu1", .pixels),
            ("imagenet/resnet-50.yaml", "stage3.block2.conv3+bn3+add+relu1", .panels)
        ]
        for (spec, name, split) in cases {
            let program = try shippedProgram(spec)
            let algorithms = AlgorithmSelection.run(program)
            let schedule = Scheduling.run(program, algorithms: algorithms, threads: 2)
            let index = try #require(program.steps.firstIndex { $0.name == name }, "\(name)")
            let pieces = schedule.steps[index].pieces
            #expect(schedule.steps[index].split == split, "\(name): \(pieces) x \(schedule.steps[index].split)")
        }
    }

    // MARK: Plan files

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "sharesc-\(getpid())-\(UUID().uuidString)-\(name)"
        ).path
    }

    func document(_ graph: Graph) -> PlanDocument {
        PlanDocument(Compiler.plan(Fusion.run(graph), threads: 1))
    }

    func readError(_ path: String) -> String {
        do {
            _ = try PlanFile.read(path)
            return "(read)"
        } catch { return error.description }
    }

    @Test func planRoundTripStoresTiedWeightsOnce() throws {
        let graph = try compileInMemory(PassTests.tiny).graph
        let path = temporary("tiny.plan")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let weights = WeightInitializer.initialize(graph, options: InitOptions(seed: 9))
        try PlanFile.write(document(graph), weights: weights, to: path)
        let (read, reader) = try PlanFile.read(path)
        #expect(read.program == document(graph).program)
        #expect(reader.header.entries.filter { $0.name.contains("shared") }.count == 1)
        for index in graph.parameters.indices { #expect(try reader.values(of: index) == weights.values[index]) }
    }

    @Test func refusedPlans() throws {
        let graph = try compileInMemory(PassTests.tiny).graph
        let weights = WeightInitializer.initialize(graph)
        let path = temporary("bad.plan")
        defer { try? FileManager.default.removeItem(atPath: path) }

        try WeightFile.write(graph, weights, to: path)
        let notAPlan = "\(path):1:1: error: not a sharesc plan: its metadata needs sharesc.format 'plan'"
        #expect(readError(path).hasPrefix(notAPlan))

        var newer = document(graph)
        let current = PlanDocument.formatVersion
        newer.formatVersion = current + 1
        let json = String(decoding: try JSONEncoder().encode(newer), as: UTF8.self)
        let tensors = graph.parameters.map {
            Safetensors.Tensor(name: $0.name, shape: $0.shape, values: weights[$0.id])
        }
        func write(version: String, document: String, format: String = "plan") throws {
            let metadata = [("sharesc.format", format), ("sharesc.plan.version", version), ("sharesc.plan", document)]
            try Data(Safetensors.encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path))
        }
        // A plan's document in a file that calls itself weights is not read as a plan.
        try write(
            version: "\(current)", document: String(decoding: try JSONEncoder().encode(document(graph)), as: UTF8.self))
        #expect(readError(path) == "(read)")
        try write(version: "\(current)", document: json, format: "1")
        #expect(readError(path).hasPrefix(notAPlan))
        for version in [current + 1, current - 1] {
            try write(version: "\(version)", document: json)
            #expect(
                readError(path)
                    == "\(path):1:1: error: plan written in format version \(version); this sharesc reads version \(current);"
                    + " compile the spec again with 'sharesc compile -o'")
        }
        // A document of another version than its metadata's is damaged, and says which it is.
        try write(version: "\(current)", document: json)
        #expect(
            readError(path)
                == "\(path):1:1: error: damaged plan: format_version is \(current + 1) inside the document, unlike its metadata; this sharesc reads version \(current)"
        )

        // Without its version, a plan is a damaged plan (it was "not a plan", beside the keys that say it is).
        try Data(
            Safetensors.encode(tensors, metadata: [("sharesc.format", "plan"), ("sharesc.plan", json)])
        ).write(to: URL(fileURLWithPath: path))
        #expect(readError(path) == "\(path):1:1: error: damaged plan: its metadata has no 'sharesc.plan.version'")

        try write(version: "\(current)", document: "{\"program\": 3}")
        #expect(readError(path).hasPrefix("\(path):1:1: error: damaged plan: "))

        // A well-formed document whose step reads a value that does not exist.
        var broken = document(graph)
        broken.program.steps[1].inputs = [999]
        let brokenJSON = String(decoding: try JSONEncoder().encode(broken), as: UTF8.self)
        try write(version: "\(current)", document: brokenJSON)
        #expect(readError(path).contains("damaged plan: step '"))

        // A key given twice in the document: the decoder kept one value silently.
        let good = String(decoding: try JSONEncoder().encode(document(graph)), as: UTF8.self)
        let twice = good.replacingOccurrences(of: #""schedule":{"#, with: #""schedule":{"threads":7,"#)
        #expect(twice != good)
        try write(version: "\(current)", document: twice)
        #expect(readError(path) == "\(path):1:1: error: damaged plan: key 'threads' appears twice in 'schedule'")

        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(readError(path).contains("not a valid safetensors file"))
    }
}
