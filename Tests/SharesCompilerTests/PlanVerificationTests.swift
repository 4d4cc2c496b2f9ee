import Foundation
import Testing
@testable import SharesCompiler

/// A plan file is verified against its program before anything runs: every field the program
/// determines must be what the compiler derives from it, and a disagreement names the field and both
/// values. (Before, a declared input shape larger than the program's made the executor read past the
/// input, and a larger output shape trapped in `run`.)
struct PlanVerificationTests {
    static func compiled(_ relative: String) throws -> PlanDocument {
        let compilation = try compileShipped(relative)
        let program = ModelLoader.program(for: compilation)
        return PlanDocument(program: program, memory: MemoryPlanner.plan(program, batch: 2), inputShape: compilation.graph.inputShape,
                            outputShape: compilation.graph[compilation.graph.output].shape)
    }

    @Test(arguments: ["cifar/sharesnet-164.yaml", "cifar/sharewrn-40-4.yaml", "imagenet/sharesnet-50.yaml", "imagenet/resnet-18.yaml"])
    func compiledPlansVerify(_ spec: String) throws {
        #expect(PlanFile.validate(try Self.compiled(spec)) == nil)
    }

    /// A batchnorm over a flattened map of several pixels: its plan verifies (it was refused as damaged,
    /// the batchnorm's vectors not matching the map's channels), with a flatten step before it.
    @Test(arguments: ["flatten-batchnorm.yaml", "flatten-output.yaml", "flattening.yaml"])
    func flattenedMapsVerify(_ name: String) throws {
        let compilation = try ExecutorTests.compile(name, sequential: false)
        let program = ModelLoader.program(for: compilation)
        let document = PlanDocument(program: program, memory: MemoryPlanner.plan(program, batch: 1), inputShape: compilation.graph.inputShape,
                                    outputShape: compilation.graph[compilation.graph.output].shape)
        #expect(PlanFile.validate(document) == nil)
        #expect(program.steps.contains { $0.kernel == .flatten } == (name != "flattening.yaml"))  // a linear alone reads NHWC
    }

    @Test func everyDerivedFieldIsChecked() throws {
        let good = try Self.compiled("cifar/sharesnet-164.yaml")
        func problem(_ change: (inout PlanDocument) -> Void) -> String {
            var document = good
            change(&document)
            return PlanFile.validate(document) ?? "(verified)"
        }
        #expect(problem { $0.inputShape = .image(channels: 3, height: 64, width: 64) }
                == "input_shape is 3x64x64, but the program's input 'input' is 3x32x32")
        #expect(problem { $0.outputShape = Shape([100]) } == "output_shape is 100, but the program's output 'logits' is 10")
        #expect(problem { $0.program.macs += 1 } == "program.macs is 244500993, but its steps make 244500992")
        #expect(problem { $0.program.parameters[0].uses = 2 } == "program.parameters 'stem.conv1.weight' has uses 2, but 1 steps read it")
        #expect(problem { $0.memory.buffers[1].offset += 64 }.hasPrefix("memory.buffers[1].offset is "))
        #expect(problem { $0.memory.arenaBytes = 1 } .hasPrefix("memory.arenaBytes is 1, but the program's memory plan has "))
        #expect(problem { $0.memory.bufferOfValue[3] = 0 } .hasPrefix("memory.bufferOfValue[3] is 0, but the program's memory plan has "))
        #expect(problem { $0.memory.buffers.removeLast() } .hasPrefix("memory.buffers.count is "))
        #expect(problem { $0.memory.batch = 0 } == "memory.batch is 0; expected 1 to 4096")
        #expect(problem { $0.memory.batch = 1 << 40 } == "memory.batch is 1099511627776; expected 1 to 4096")
    }

    /// Activations no machine holds: refused by the verifier for a large batch (before the memory
    /// planner's sums could overflow), and for one image an error from the executor, not a crash.
    @Test func impossibleActivations() throws {
        let huge = Shape.image(channels: 1 << 18, height: 1 << 10, width: 1 << 10)  // 2^38 floats
        let program = Program(network: "huge", variant: .shared, values: [.init(name: "input", shape: huge), .init(name: "relu", shape: huge)],
                              steps: [.init(name: "relu", kernel: .relu, inputs: [0], output: 1)], parameters: [], input: 0, output: 1, macs: 0)
        var document = PlanDocument(program: program, memory: MemoryPlanner.plan(program, batch: 4096), inputShape: huge, outputShape: huge)
        #expect(PlanFile.validate(document) == "its activations need more than 1125899906842624 bytes")
        document.memory = MemoryPlanner.plan(program, batch: 1)
        #expect(PlanFile.validate(document) == nil)
        #expect(throws: CompileFailure.self) { try Executor(program: program, weights: WeightStore(values: []), threads: 1, source: "huge.plan") }
        do { _ = try Executor(program: program, weights: WeightStore(values: []), threads: 1, source: "huge.plan") } catch {
            #expect(error.description.hasPrefix("huge.plan:1:1: error: cannot allocate 1099511627776 bytes for the activations"))  // one buffer: the ReLU works in place
        }
    }
}

/// Numbers print whatever their value: `run` formatted logits through `Int`, which trapped from about
/// 9.2e14 and on infinities and NaN.
struct FormatTests {
    @Test func fixedIsTotal() {
        #expect(Format.fixed(3.14159, decimals: 4) == "3.1416")
        #expect(Format.fixed(-0.00001, decimals: 4) == "0.0000")
        #expect(Format.fixed(-2.5, decimals: 0) == "-3")
        #expect(Format.fixed(.nan, decimals: 4) == "nan")
        #expect(Format.fixed(.infinity, decimals: 4) == "inf")
        #expect(Format.fixed(-.infinity, decimals: 2) == "-inf")
        #expect(Format.fixed(9.2e14, decimals: 4) == "9.2000e+14")
        #expect(Format.fixed(-1.23456e300, decimals: 3) == "-1.235e+300")
        #expect(Format.fixed(9.99996e20, decimals: 4) == "1.0000e+21")
        #expect(Format.fixed(Double(Float.greatestFiniteMagnitude), decimals: 4) == "3.4028e+38")
        #expect(Format.fixed(123456789012.5, decimals: 1) == "123456789012.5")
    }
}
