import Foundation
import Testing

@testable import SharesCompiler

/// A plan file is verified against its program before anything runs: every field the program
/// determines must be what the compiler derives from it, and a disagreement names the field and both
/// values. (Before, a declared input shape larger than the program's made the executor read past the
/// input, and a larger output shape trapped in `run`.)
struct PlanVerificationTests {
    static func compiled(_ relative: String) throws -> PlanDocument {
        PlanDocument(Compiler.plan(try compileShipped(relative), threads: 2))
    }

    @Test(arguments: [
        "cifar/sharesnet-164.yaml", "cifar/sharewrn-40-4.yaml", "imagenet/sharesnet-50.yaml", "imagenet/resnet-18.yaml"
    ])
    func compiledPlansVerify(_ spec: String) throws {
        #expect(PlanFile.validate(try Self.compiled(spec)) == nil)
    }

    /// A batchnorm over a flattened map of several pixels: its plan verifies (it was refused as damaged,
    /// the batchnorm's vectors not matching the map's channels), with a flatten step before it; so do
    /// elementwise steps after a flatten of a one-pixel map, which needs no step, and a flatten of a vector.
    @Test(arguments: [
        "flatten-batchnorm.yaml", "flatten-output.yaml", "flattening.yaml", "flatten-pixel.yaml", "flatten-vector.yaml"
    ])
    func flattenedMapsVerify(_ name: String) throws {
        let compilation = try ExecutorTests.compile(name, sequential: false)
        let program = Compiler.program(compilation)
        let document = PlanDocument(Compiler.plan(program, threads: 1))
        #expect(PlanFile.validate(document) == nil)
        // A linear layer alone reads NHWC, and a one-pixel map is its flattening: no flatten step. A vector
        // flattens to itself; the image before it, read by a flatten, is flattened once.
        #expect(
            program.steps.filter { $0.kernel == .flatten }.count
                == (name == "flattening.yaml" || name == "flatten-pixel.yaml" ? 0 : 1))
    }

    @Test func everyDerivedFieldIsChecked() throws {
        let good = try Self.compiled("cifar/sharesnet-164.yaml")
        func problem(_ change: (inout PlanDocument) -> Void) -> String {
            var document = good
            change(&document)
            return PlanFile.validate(document) ?? "(verified)"
        }
        #expect(
            problem { $0.inputShape = .image(channels: 3, height: 64, width: 64) }
                == "input_shape is 3x64x64, but the program's input 'input' is 3x32x32")
        #expect(
            problem { $0.outputShape = Shape([100]) } == "output_shape is 100, but the program's output 'logits' is 10")
        #expect(problem { $0.program.macs += 1 } == "program.macs is 244500993, but its steps make 244500992")
        #expect(
            problem { $0.program.parameters[0].uses = 2 }
                == "program.parameters 'stem.conv1.weight' has uses 2, but 1 steps read it")
        #expect(problem { $0.memory.buffers[1].offset += 64 }.hasPrefix("memory.buffers[1].offset is "))
        #expect(
            problem { $0.memory.arenaBytes = 1 }.hasPrefix("memory.arenaBytes is 1, but the program's memory plan has ")
        )
        #expect(
            problem { $0.memory.bufferOfValue[3] = 0 }.hasPrefix(
                "memory.bufferOfValue[3] is 0, but the program's memory plan has "))
        #expect(problem { $0.memory.buffers.removeLast() }.hasPrefix("memory.buffers.count is "))
        #expect(problem { $0.memory.batch = 0 } == "memory.batch is 0; a plan's arena holds one image (1)")
        // An output no step writes (with the memory plan edited to match: it has no buffer) ran into the
        // executor, which trapped on its buffer.
        #expect(
            problem {
                $0.program.values.append(.init(name: "ghost", shape: .image(channels: 1, height: 1, width: 1)))
                $0.program.output = $0.program.values.count - 1
                $0.outputShape = .image(channels: 1, height: 1, width: 1)
                $0.memory.bufferOfValue.append(-1)
            } == "program.output 'ghost' is never written by any step")
        #expect(
            problem { $0.memory.batch = 1 << 40 } == "memory.batch is 1099511627776; a plan's arena holds one image (1)"
        )
    }

    /// Geometry whose arithmetic would overflow an Int (a padding of 2^62, a stride of Int.max), or
    /// that the kernels cannot take as 32-bit integers (a stride of 2^31), is refused, where it trapped.
    @Test func overflowingGeometryIsRefused() throws {
        let good = try Self.compiled("cifar/resnet-56.yaml")
        func problem(_ change: (inout Program.Kernel) -> Void, at step: Int) -> String {
            var document = good
            change(&document.program.steps[step].kernel)
            return PlanFile.validate(document) ?? "(verified)"
        }
        let stem = good.program.steps[0].name
        for (padding, stride) in [(1 << 62, 1), (Int.max, 1), (1 << 31, 1), (1, 1 << 31), (1, 1 << 40)] {
            #expect(
                problem(
                    {
                        guard case .conv(let weight, let bias, let kernel, _, _, let groups, let epilogue) = $0
                        else { return }
                        $0 = .conv(
                            weight: weight, bias: bias, kernel: kernel, stride: stride, padding: padding,
                            groups: groups,
                            epilogue: epilogue)
                    }, at: 0)
                    == "step '\(stem)': impossible convolution geometry: kernel 3, stride \(stride), padding \(padding), "
                    + "groups 1 (kernel, stride and groups from 1, padding from 0, each at most 2147483647)")
        }
        let subsample = try #require(
            good.program.steps.firstIndex {
                if case .subsamplePad = $0.kernel { true } else { false }
            })
        #expect(
            problem(
                {
                    guard case .subsamplePad(_, let padBefore) = $0 else { return }
                    $0 = .subsamplePad(stride: Int.max, padBefore: padBefore)
                }, at: subsample)
                == "step '\(good.program.steps[subsample].name)': impossible padding")
        // A value whose dimensions are each in range but whose product overflows (it trapped).
        var huge = good
        huge.program.values[1].shape = Shape([1 << 40, 1 << 40, 1 << 40])
        #expect(
            PlanFile.validate(huge)
                == "value '\(huge.program.values[1].name)' has an impossible shape 1099511627776x1099511627776x1099511627776"
        )
        // A dimension beyond the kernels' 32-bit integers.
        huge = good
        huge.program.values[1].shape = Shape([1 << 31, 1, 1])
        #expect(
            PlanFile.validate(huge) == "value '\(huge.program.values[1].name)' has an impossible shape 2147483648x1x1")
    }

    /// A convolution's groups edited by hand name the weight shape they would need (the message gave the
    /// weight's shape alone, which read as if the weight were at fault).
    @Test func editedGroupsNameTheWeightTheyNeed() throws {
        var document = try Self.compiled("cifar/resnet-56.yaml")
        let step = document.program.steps[1]
        guard case .conv(let w, let b, let k, let s, let p, _, let epilogue) = step.kernel else { return }
        document.program.steps[1].kernel = .conv(
            weight: w, bias: b, kernel: k, stride: s, padding: p, groups: 2, epilogue: epilogue)
        #expect(
            PlanFile.validate(document)
                == "step '\(step.name)': weight shape [16, 16, 3, 3], where 16 -> 16 channels in 2 groups need [16, 8, 3, 3]"
        )
    }

    /// A plan edited by hand is told what is wrong in the plan's own terms: the field, and the value
    /// (a negative epsilon was "parameters do not match 8 channels"; a decoding error the decoder's text).
    @Test func handEditedPlansAreNamedInTheirOwnTerms() throws {
        var good = try Self.compiled("cifar/resnet-56.yaml")
        let step = try #require(
            good.program.steps.firstIndex {
                if case .conv(_, _, _, _, _, _, let epilogue) = $0.kernel { epilogue.batchNorm != nil } else { false }
            })
        guard case .conv(let w, let b, let k, let s, let p, let g, var epilogue) = good.program.steps[step].kernel
        else {
            return
        }
        epilogue.batchNorm?.epsilon = -1
        good.program.steps[step].kernel = .conv(
            weight: w, bias: b, kernel: k, stride: s, padding: p, groups: g, epilogue: epilogue)
        #expect(
            PlanFile.validate(good)
                == "step '\(good.program.steps[step].name)': batchnorm epsilon -1.0 is not greater than 0")
        struct Probe: Decodable { var activation: Program.Activation }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Probe.self, from: Data(#"{"activation": "tanh"}"#.utf8))
        }
        do { _ = try JSONDecoder().decode(Probe.self, from: Data(#"{"activation": "tanh"}"#.utf8)) } catch {
            #expect(
                PlanFile.describe(error)
                    == "activation: expected one of none, relu, relu6, silu, hardswish, gelu, sigmoid, found 'tanh'")
        }
        // A misspelt value gets the one meant (it said "cannot initialize Split from invalid String value pixel").
        struct Split: Decodable { var split: StepSchedule.Split }
        do { _ = try JSONDecoder().decode(Split.self, from: Data(#"{"split": "pixel"}"#.utf8)) } catch {
            #expect(
                PlanFile.describe(error)
                    == "split: expected one of pixels, panels, rows, values, whole, found 'pixel'; did you mean 'pixels'?"
            )
        }
        do { _ = try JSONDecoder().decode(Probe.self, from: Data("{}".utf8)) } catch {
            #expect(PlanFile.describe(error) == "the plan: key 'activation' is missing")
        }
    }

    /// An epsilon follows the spec's rule: finite and greater than 0 as the 32-bit float the kernels
    /// compute with (1e300 was accepted and ran as infinity).
    @Test func epsilonsFollowTheSpecRule() throws {
        var good = try Self.compiled("cifar/resnet-56.yaml")
        let name = good.program.steps[0].name
        guard case .conv(let w, let b, let k, let s, let p, let g, var epilogue) = good.program.steps[0].kernel else {
            Issue.record("the stem is no convolution")
            return
        }
        func problem(_ epsilon: Double) -> String {
            epilogue.batchNorm?.epsilon = epsilon
            good.program.steps[0].kernel = .conv(
                weight: w, bias: b, kernel: k, stride: s, padding: p, groups: g, epilogue: epilogue)
            return PlanFile.validate(good) ?? "(verified)"
        }
        #expect(
            problem(1e300)
                == "step '\(name)': batchnorm epsilon 1e+300 is not within 32-bit float range (at most 3.4e38 in size)")
        #expect(problem(1e-50) == "step '\(name)': batchnorm epsilon 1e-50 is not greater than 0 as a 32-bit float")
        #expect(problem(0) == "step '\(name)': batchnorm epsilon 0.0 is not greater than 0")
        #expect(problem(1e-5) == "(verified)")
        #expect(
            ProgramVerifier.epsilonProblem(-1e39, of: "layer norm")
                == "layer norm epsilon -1e+39 is not within 32-bit float range (at most 3.4e38 in size)")
    }

    /// Names are printed by profiles and reports, so a plan's may not hold control characters, which
    /// the spec refuses too (an escape sequence in the network's name recolored the terminal).
    @Test func namesWithControlCharactersAreRefused() throws {
        let good = try Self.compiled("cifar/resnet-56.yaml")
        func problem(_ change: (inout Program) -> Void) -> String {
            var document = good
            change(&document.program)
            return PlanFile.validate(document) ?? "(verified)"
        }
        #expect(
            problem { $0.network = "x\u{1b}[31mred" }
                == "program.network 'x\u{1b}[31mred' contains a control character, or an invisible or direction-changing one"
        )
        #expect(
            problem { $0.steps[2].name = "a\u{0}\nb" }
                == "program.steps[2].name 'a\u{0}\nb' contains a control character, or an invisible or direction-changing one"
        )
        #expect(problem { $0.values[1].name += "\t" }.hasPrefix("program.values[1].name '"))
        #expect(problem { $0.parameters[3].name += "\u{7f}" }.hasPrefix("program.parameters[3].name '"))
        #expect(problem { $0.network = "ünïcode ok" } == "(verified)")
    }

    /// A field holding a value of the wrong kind is named with what it should hold: the decoder itself
    /// says only "the given data was not valid JSON" for a fraction or 1e30 where an integer belongs.
    @Test func wronglyTypedFieldsAreNamed() throws {
        let good = try Self.compiled("cifar/resnet-56.yaml")
        func problem(_ change: (inout [String: Any]) -> Void) throws -> String {
            var object = try #require(
                try JSONSerialization.jsonObject(with: try JSONEncoder().encode(good)) as? [String: Any])
            change(&object)
            let json = try JSONSerialization.data(withJSONObject: object)
            do { _ = try JSONDecoder().decode(PlanDocument.self, from: json) } catch {
                return PlanFile.describe(error, json: json)
            }
            return "(decoded)"
        }
        func set(_ object: inout [String: Any], _ path: [String], _ value: Any) {
            guard let key = path.first else { return }
            if path.count == 1 {
                object[key] = value
                return
            }
            var inner = object[key] as? [String: Any] ?? [:]
            set(&inner, Array(path.dropFirst()), value)
            object[key] = inner
        }
        #expect(
            try problem { set(&$0, ["schedule", "threads"], 2.5) }
                == "schedule.threads: expected a 64-bit integer, found 2.5"
        )
        #expect(
            try problem { set(&$0, ["program", "output"], 1e30) }
                == "program.output: expected a 64-bit integer, found 1e+30")
        #expect(
            try problem {
                var program = $0["program"] as! [String: Any], steps = program["steps"] as! [[String: Any]]
                steps[12]["inputs"] = [1e30]
                program["steps"] = steps
                $0["program"] = program
            } == "program.steps[12].inputs[0]: expected a 64-bit integer, found 1e+30")
        #expect(
            try problem { set(&$0, ["schedule", "threads"], "2") }
                == "schedule.threads: expected an integer, found a string")
        #expect(
            try problem { set(&$0, ["schedule", "threads"], true) }
                == "schedule.threads: expected an integer, found a boolean")
        // A key the reader does not know, which the decoder passes over (a misspelt `bias` was then a
        // parameter that no step reads).
        func unknown(_ change: (inout [String: Any]) -> Void) throws -> String {
            var object = try #require(
                try JSONSerialization.jsonObject(with: try JSONEncoder().encode(good)) as? [String: Any])
            change(&object)
            let json = try JSONSerialization.data(withJSONObject: object)
            return PlanFile.unknownKey(in: json, decoded: try JSONDecoder().decode(PlanDocument.self, from: json))
                ?? "(none)"
        }
        #expect(try unknown { _ in } == "(none)")
        #expect(try unknown { $0["netwrok"] = "x" } == "the plan: unknown key 'netwrok'")
        #expect(
            try unknown { set(&$0, ["schedule", "Threads"], 2) }
                == "schedule: unknown key 'Threads'; did you mean 'threads'?")
        // Beyond 64 bits as an integer literal too; an epsilon is the one number that may be a fraction.
        #expect(
            PlanFile.nonInteger(in: Data(#"{"a":[1,1000000000000000000000000000000]}"#.utf8))
                == "a[1]: expected a 64-bit integer, found 1000000000000000000000000000000")
        #expect(
            PlanFile.nonInteger(in: Data(#"{"epsilon":1e-05,"b":{"c":2.5}}"#.utf8))
                == "b.c: expected a 64-bit integer, found 2.5")
        // An index out of range names the field and the value (it said "input or output value out of range").
        var outside = good
        outside.program.output = 1_000_000
        #expect(
            PlanFile.validate(outside)
                == "program.output is 1000000, but the program has \(good.program.values.count) values")
        // So does a step's (it named neither), and a step reading its own output says so.
        var stepOutside = good, ownOutput = good
        stepOutside.program.steps[3].inputs[0] = 99_999
        ownOutput.program.steps[3].inputs[0] = good.program.steps[3].output
        let step = good.program.steps[3], written = good.program.values[step.output].name
        #expect(
            PlanFile.validate(stepOutside)
                == "step '\(step.name)' refers to value 99999, but the program has \(good.program.values.count) values")
        #expect(
            PlanFile.validate(ownOutput)
                == "step '\(step.name)' reads its own output '\(written)' before any step writes it")
    }

    /// The schedule is the executor's to follow, so it is checked as strictly: a convolution may run by
    /// any algorithm its geometry allows (each computes the same values), nothing else may.
    @Test func everyScheduleEntryIsChecked() throws {
        let good = try Self.compiled("imagenet/resnet-50.yaml")
        let steps = good.program.steps
        func problem(_ change: (inout PlanDocument) -> Void) -> String {
            var document = good
            change(&document)
            return PlanFile.validate(document) ?? "(verified)"
        }
        func index(_ name: String) -> Int { steps.firstIndex { $0.name.hasPrefix(name) }! }
        let winograd = index("stage1.block1.conv2"), pointwise = index("stage1.block1.conv1"),
            pool = index("stem.maxpool")
        #expect(good.schedule.steps[winograd].algorithm == .winogradF4)
        #expect(problem { $0.schedule.steps[winograd].algorithm = .igemm } == "(verified)")
        #expect(problem { $0.schedule.steps[winograd].algorithm = .winogradF2 } == "(verified)")
        #expect(
            problem { $0.schedule.steps[pointwise].algorithm = .winogradF4 }
                == "schedule: step '\(steps[pointwise].name)' cannot run by 'winograd-f4x4'")
        #expect(
            problem { $0.schedule.steps[winograd].algorithm = .depthwise }
                == "schedule: step '\(steps[winograd].name)' cannot run by 'depthwise'")
        #expect(
            problem { $0.schedule.steps[winograd].algorithm = .kernel }
                == "schedule: step '\(steps[winograd].name)' cannot run by 'kernel'")
        #expect(
            problem { $0.schedule.steps[pool].algorithm = .igemm }
                == "schedule: step '\(steps[pool].name)' is not a convolution, so it runs by its kernel")
        #expect(
            problem { $0.schedule.steps[pool].split = .panels }
                == "schedule: step '\(steps[pool].name)' cannot split by panels")
        #expect(
            problem { $0.schedule.steps[winograd].split = .rows }
                == "schedule: step '\(steps[winograd].name)' cannot split by rows")
        // Any step but a convolution may run whole, in one piece (as plans made before its kernel
        // could be cut say of the classifier).
        let classifier = index("head.fc1")
        #expect(good.schedule.steps[classifier].split == .values && good.schedule.steps[classifier].pieces == 2)
        #expect(
            problem {
                $0.schedule.steps[classifier].split = .whole
                $0.schedule.steps[classifier].pieces = 1
            } == "(verified)")
        #expect(
            problem {
                $0.schedule.steps[classifier].split = .whole
                $0.schedule.steps[classifier].pieces = 2
            } == "schedule: step '\(steps[classifier].name)' is split whole, so into 1 piece, not 2")
        // Nor more pieces for a step that is always whole (they were taken without a word).
        let pooling = index("head.gap")
        #expect(good.schedule.steps[pooling].split == .whole)
        #expect(
            problem { $0.schedule.steps[pooling].pieces = 7 }
                == "schedule: step '\(steps[pooling].name)' is split whole, so into 1 piece, not 7")
        #expect(
            problem { $0.schedule.steps[winograd].split = .whole }
                == "schedule: step '\(steps[winograd].name)' cannot split by whole")
        #expect(
            problem { $0.schedule.steps[0].pieces = 65537 }
                == "schedule: step '\(steps[0].name)' has 65537 pieces; expected 1 to 65536")
        #expect(problem { $0.schedule.threads = 0 } == "schedule: threads is 0; expected 1 to 256")
        #expect(
            problem { $0.schedule.steps.removeLast() }
                == "schedule: it has \(steps.count - 1) steps, but the program has \(steps.count)")
    }

    /// Activations no machine holds: refused by the verifier (before the memory planner's sums could
    /// overflow), and where one image's fit the verifier but not the kernels' 32-bit indices, an error
    /// from the executor before it allocates anything, not a crash.
    @Test func impossibleActivations() throws {
        let huge = Shape.image(channels: 1 << 18, height: 1 << 10, width: 1 << 10)  // 2^38 floats
        func chain(_ steps: Int) -> Program {
            Program(
                network: "huge", variant: .shared, values: (0...steps).map { .init(name: "v\($0)", shape: huge) },
                steps: (0..<steps).map { .init(name: "relu\($0)", kernel: .relu, inputs: [$0], output: $0 + 1) },
                parameters: [], input: 0, output: steps, macs: 0)
        }
        // 2^40 bytes a value: 1,100 values make more than 2^50.
        #expect(
            PlanFile.validate(PlanDocument(Compiler.plan(chain(1100), threads: 1)))
                == "its activations need more than 1125899906842624 bytes")
        let plan = Compiler.plan(chain(1), threads: 1)
        #expect(PlanFile.validate(PlanDocument(plan)) == nil)
        do {
            _ = try Executor(plan: plan, weights: WeightStore(values: []), source: "huge.plan")
            Issue.record("a value of 2^38 floats was taken to run")
        } catch {
            #expect(
                error.description
                    == "huge.plan:1:1: error: 'v0' holds 274877906944 values per image; the CPU kernels run tensors of at most 2147483647 (32-bit indices)"
            )
        }
    }
}
