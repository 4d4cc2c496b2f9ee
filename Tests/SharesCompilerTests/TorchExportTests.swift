import Foundation
import Testing

@testable import SharesCompiler

/// The PyTorch generator: its output for a small spec (golden), and what it refuses with a located
/// error. Python itself checks the generated modules in Tests/pytorch.
struct TorchExportTests {
    @Test func tieGroupModule() throws {
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource))
        try expectGolden(try TorchExporter.export(compilation), "2-tie-group.py")
    }

    /// The modern families: an MBConv (residual decided from the shapes, squeeze-and-excitation, stochastic
    /// depth numbered per block) and ConvNeXt with a tied depthwise filter, LayerNorm2d and layer scale.
    @Test(arguments: ["efficientnet-b0", "shared-convnext-tiny"])
    func modernFamilyModule(_ network: String) throws {
        let compilation = try Compiler.compile(
            "Architectures/imagenet/\(network).yaml", options: CompileOptions(source: repositorySource))
        try expectGolden(try TorchExporter.export(compilation), "\(network).py")
    }

    @Test func theResidualOfAnInvertedBlockIsDecidedFromItsArguments() throws {
        let compilation = try Compiler.compile(
            "Architectures/imagenet/mobilenet-v2.yaml", options: CompileOptions(source: repositorySource))
        let source = try TorchExporter.export(compilation)
        // torchvision's use_res_connect; the 3x3 depthwise keeps the size at stride 1 (folded).
        #expect(source.contains("        self.use_res_connect = stride == 1 and width == in_channels\n"))
        #expect(source.contains("        if self.use_res_connect:\n            out = out + x\n        return out\n"))
        #expect(
            source.contains(
                """
                        self.dwconv1 = nn.Conv2d(
                            in_channels * expand, in_channels * expand, 3, stride=stride, padding=1,
                            groups=in_channels * expand, bias=False)
                """
            ))
        #expect(source.contains("self.relu6_1 = nn.ReLU6()"))
    }

    @Test func stochasticDepthWithoutAResidualAndVectorNormalisation() throws {
        let compilation = try Compiler.compile(
            "Tests/pytorch/specs/modern-corners.yaml", options: CompileOptions(source: repositorySource))
        let source = try TorchExporter.export(compilation)
        // A projection used whenever the sum is: built and applied under the same condition.
        #expect(source.contains("        if self.use_res_connect:\n            self.shortcut = nn.Sequential("))
        #expect(source.contains("            out = out + self.shortcut(x)\n"))
        #expect(source.contains("self.drop_path1 = StochasticDepth(rate) if self.use_res_connect else nn.Identity()"))
        #expect(
            source.contains(
                "        # No residual connection: nothing for stochastic depth to drop.\n        self.drop_path1 = nn.Identity()\n"
            ))
        // `$in_channels` and `$block_number` in argument defaults; a padded depthwise convolution with bias.
        #expect(source.contains("def __init__(self, in_channels, width=None, rate=None, block_number=1):"))
        #expect(source.contains("            width = in_channels\n"))
        #expect(source.contains("            rate = 0.1 * block_number\n"))
        #expect(source.contains("*(GatedBlock(8, block_number=n) for n in range(1, 4)),"))
        #expect(source.contains("GatedBlock(16, width=16, block_number=2),"))
        #expect(source.contains("self.dwconv1 = nn.Conv2d(width, width, 3, padding=1, groups=width)"))
        #expect(
            source.contains(
                """
                        self.dwconv1 = nn.Conv2d(
                            in_channels, in_channels, 5, stride=stride, padding=2, groups=in_channels, bias=False)
                """
            ))
        // Over a vector: PyTorch's own LayerNorm; the layer scale's multiplier is a parameter named `weight`.
        #expect(source.contains("ln1=nn.LayerNorm(16),"))
        #expect(source.contains("layer_scale1=LayerScale(16, init=0.5, images=False),"))
        #expect(source.contains("self.weight = nn.Parameter(torch.full((channels,), float(init)))"))
        #expect(source.contains("import torch\n"))
        #expect(source.contains("self.se1 = SqueezeExcitation(width, 4)\n"))
        #expect(source.contains("self.hardswish1 = nn.Hardswish()") && source.contains("self.sigmoid1 = nn.Sigmoid()"))
    }

    /// The docstring calls a classifier's output the logits, and a network without one its feature map.
    @Test func docstringNamesWhatTheOutputIs() throws {
        let map = try TorchExporter.export(
            compileInMemory(["spec.yaml": "input: [4, 15, 13]\nstem: [{conv: {out: 8, kernel: 3, pad: 1}}]\n"]))
        #expect(map.contains("Input N x 4 x 15 x 13 float32; output N x 8 x 15 x 13 (a feature map)."))
        let classifier = try TorchExporter.export(
            compileInMemory([
                "spec.yaml":
                    "input: [4, 5, 5]\nstem: [{conv: {out: 8, kernel: 3}}]\nhead: [global_avgpool, {linear: {out: 3}}]\n"
            ]))
        #expect(classifier.contains("output N x 3 (the logits)."))
    }

    @Test func aResidualThatDependsOnTheImageSizeIsRefused() throws {
        // On a 1 x 1 image a stride-2 convolution padded by 1 keeps the shape, so sharesc sums; the generated
        // block, which knows its arguments but not the image, would not.
        let compilation = try compileInMemory([
            "spec.yaml": """
            input: [4, 1, 1]
            blocks: {b: {body: [conv: {out: 4, kernel: 3, stride: 2, pad: 1}], merge: add-if-same-shape}}
            stages: [{block: b}]
            """
        ])
        do {
            _ = try TorchExporter.export(compilation)
            Issue.record("exported")
        } catch {
            #expect(
                error.description.contains(
                    "spec.yaml:3:10: error: cannot export 'stage1.block1' to PyTorch: whether its body keeps the input's shape, which decides its residual sum, depends on the image size"
                ))
        }
    }

    @Test func optionAShortcutsAndArgumentDefaults() throws {
        let compilation = try Compiler.compile(
            "Tests/pytorch/specs/option-a.yaml",
            options: CompileOptions(overrides: [" drop = 0.25 "], source: repositorySource))
        let source = try TorchExporter.export(compilation)
        // A global read by the template is a keyword argument with its value; a default that reads
        // another argument is computed in the constructor; the stage's arguments are passed as given.
        #expect(
            source.contains(
                "def __init__(self, in_channels, width, stride=1, inner=None, drop=0.25, groups=4, project=False, tied=None):"
            ))
        #expect(source.contains("        if inner is None:\n            inner = width * 2\n"))
        #expect(source.contains("GroupedBlock(8, width=16, stride=2, inner=24, project=True),"))
        #expect(
            source.contains("self.shortcut = nn.Sequential(OrderedDict(subsample1=SubsamplePad(width, stride=stride)))")
        )
        #expect(
            source.contains("generated by `sharesc export` from Tests/pytorch/specs/option-a.yaml --set drop=0.25."))
    }

    /// A default's `/` is Python's `//` between whole numbers only: where a real takes part (a real
    /// global, a real literal, an argument some stage gives as a real), true division (`e // 2` made an
    /// epsilon of 0.5 zero).
    @Test func argumentDefaultsDivideRealsAsReals() throws {
        let compilation = try Compiler.compile(
            "Tests/pytorch/specs/real-division.yaml", options: CompileOptions(source: repositorySource))
        let source = try TorchExporter.export(compilation)
        for line in [
            "eps = e / 2", "rate = drop * block_number / blocks", "half = width // 2", "tiny = 1 / k"
        ] {
            #expect(source.contains("            \(line)\n"), "\(line)")
        }
    }

    @Test func sequentialVariantHasNoTiedConvolutions() throws {
        let compilation = try compileInMemory(PassTests.tiny, sequential: true)
        let source = try TorchExporter.export(compilation)
        #expect(!source.contains("TiedConv2d") && !source.contains("nn.ModuleDict") && !source.contains("shared"))
        #expect(source.contains("*(PairBlock(4, width=4) for _ in range(3)),"))
    }

    @Test(arguments: [
        ("module attribute", "conv: {out: 4, kernel: 1, name: training}", "layer 'training'"),
        ("section name", "conv: {out: 4, kernel: 1, name: shortcut}", "layer 'shortcut'"),
        // The flag of `add-if-same-shape` (a layer of that name replaced it, and forward always added).
        ("block flag", "conv: {out: 4, kernel: 1, name: use_res_connect}", "layer 'use_res_connect'"),
        ("private attribute", "conv: {out: 4, kernel: 1, name: _parameters}", "layer '_parameters'"),
        ("special method", "conv: {out: 4, kernel: 1, name: __class__}", "layer '__class__'")
    ])
    func layerNamesThatCannotBeModules(_ label: String, _ layer: String, _ what: String) throws {
        let spec = """
            input: [4, 8, 8]
            blocks:
              b:
                body:
                  - \(layer)
            stages: [{block: b, repeat: 2}]
            """
        let compilation = try compileInMemory(["spec.yaml": spec])
        #expect(throws: CompileFailure.self) { try TorchExporter.export(compilation) }
        do { _ = try TorchExporter.export(compilation) } catch {
            #expect(error.description.hasPrefix("spec.yaml:5:"))
            #expect(error.description.contains(": error: cannot export \(what) to PyTorch"))
        }
    }

    @Test func namesThatAreNotIdentifiersAreRegisteredByName() throws {
        let compilation = try compileInMemory([
            "spec.yaml": """
            input: [4, 8, 8]
            blocks: {b: {body: [conv: {out: 4, kernel: 1, name: 3x3}, relu], post: [{relu: {name: lambda}}, batchnorm]}}
            stem: [{conv: {out: 4, kernel: 1, name: in}}]
            stages: [{name: stage-1, block: b, repeat: 2}]
            """
        ])
        let source = try TorchExporter.export(compilation)
        #expect(source.contains("self.add_module(\"3x3\", nn.Conv2d(in_channels, 4, 1, bias=False))"))
        #expect(source.contains("out = self.relu1(getattr(self, \"3x3\")(x))"))
        #expect(source.contains("nn.Sequential(OrderedDict([\n            (\"lambda\", nn.ReLU(inplace=True)),\n"))
        #expect(source.contains("self.stem = nn.Sequential(OrderedDict([(\"in\", nn.Conv2d(4, 4, 1, bias=False))]))"))
        #expect(source.contains("self.add_module(\"stage-1\", Stage(\n"))
        #expect(source.contains("        return getattr(self, \"stage-1\")(x)\n"))
    }

    /// A quote or backslash in a name cannot end a docstring early (a network named `a"""b` made the
    /// module a syntax error).
    @Test func docstringsEscapeQuotesAndBackslashes() throws {
        let compilation = try compileInMemory(["spec.yaml": "network: 'a\"\"\"b\\'\ninput: [4, 8, 8]\nstem: [relu]\n"])
        let source = try TorchExporter.export(compilation)
        #expect(source.hasPrefix("\"\"\"a\\\"\\\"\\\"b\\\\ (untied), generated by"))
        #expect(source.contains("    \"\"\"a\\\"\\\"\\\"b\\\\ (untied).\"\"\"\n"))
        #expect(!source.contains("a\"\"\"b"))
    }

    @Test func stageAndGroupNamesThatCannotBeModules() throws {
        let stage = try compileInMemory([
            "spec.yaml": "input: [4, 8, 8]\nblocks: {b: {body: [relu]}}\nstages: [{name: shared, block: b}]\n"
        ])
        #expect(throws: CompileFailure.self) { try TorchExporter.export(stage) }
        // With a tie of its own, the stage is still what is refused, where it is named: its tie
        // (`shared.conv1`) was taken for a tie group.
        let tied = try compileInMemory([
            "spec.yaml": """
            input: [4, 8, 8]
            blocks: {b: {body: [conv: {out: 4, kernel: 1}]}}
            stages: [{name: shared, block: b, repeat: 2, share: {conv1: all}}]
            """
        ])
        do {
            _ = try TorchExporter.export(tied)
            Issue.record("exported a stage named 'shared'")
        } catch {
            #expect(error.description.hasPrefix("spec.yaml:3:17: error: cannot export stage 'shared' to PyTorch"))
        }
        // `__init__` and `_modules` exported, and the module then failed to build ("attribute '__init__'
        // already exists").
        for name in ["values", "__init__", "_modules"] {
            let group = try compileInMemory([
                "spec.yaml": """
                input: [4, 8, 8]
                blocks: {b: {body: [conv: {out: 4, kernel: 1}]}}
                stages: [{block: b, repeat: 2, share: {conv1: {group: \(name)}}}]
                """
            ])
            do {
                _ = try TorchExporter.export(group)
                Issue.record("exported a group named '\(name)'")
            } catch {
                #expect(
                    error.description
                        == "spec.yaml:3:55: error: cannot export tie group '\(name)' to PyTorch: the module tree mirrors sharesc's names, and no module can be registered under this one (a '.' separates module paths, nn.Module has an attribute of that name or keeps its own under a leading '_', or the generated module uses it for its own parts); rename it"
                )
            }
        }
    }

    @Test func aLinearLayerThatNeedsTheImageSizeInsideABlock() throws {
        let compilation = try compileInMemory([
            "spec.yaml": """
            input: [4, 8, 8]
            blocks: {b: {body: [linear: {out: 3}], merge: none}}
            stages: [{block: b}]
            """
        ])
        do {
            _ = try TorchExporter.export(compilation)
            Issue.record("exported")
        } catch {
            #expect(
                error.description.contains(
                    "error: cannot export 'fc1' to PyTorch: its input features depend on the image size"))
        }
        // The same template in a stage that builds no block needs no class: the network exports, as it
        // compiles, runs and exports to ONNX.
        let unused = try compileInMemory([
            "spec.yaml": """
            input: [4, 8, 8]
            blocks: {b: {body: [linear: {out: 3}], merge: none}}
            stages: [{block: b, repeat: 0}]
            head: [global_avgpool, flatten, linear: {out: 2}]
            """
        ])
        let source = try TorchExporter.export(unused)
        #expect(!source.contains("class BBlock") && source.contains("        self.stage1 = Stage()\n"), "\(source)")
    }

    /// A flatten inside a block exports (nn.Flatten; the next blocks get the feature count, see
    /// Tests/pytorch/specs/flatten-in-block.yaml), and only a layer after it in the same block that needs
    /// the features it cannot know refuses.
    @Test func aFlattenInsideABlockRefusesOnlyWhereItsFeaturesAreNeeded() throws {
        func export(_ body: String) throws -> String {
            let compilation = try compileInMemory([
                "spec.yaml": "input: [4, 8, 8]\nblocks: {b: {body: \(body), merge: none}}\nstages: [{block: b}]\n"
                    + "head: [linear: {out: 3}]\n"
            ])
            do { return try TorchExporter.export(compilation) } catch { return error.description }
        }
        #expect(try export("[flatten, relu]").contains("        self.flatten1 = nn.Flatten()\n"))
        #expect(
            try export("[flatten, batchnorm]")
                == "spec.yaml:2:30: error: cannot export 'bn1' to PyTorch: its input features come from a 'flatten' inside the block template, where they depend on the image size; flatten at the end of the block, or after a global_avgpool"
        )
    }

    @Test func expressionsKeepOnlyTheParenthesesPythonNeeds() throws {
        func printed(_ text: String, whole: Bool = true) throws -> String {
            let compilation = try compileInMemory([
                "spec.yaml": "input: [1, 1, 1]\nvars: {a: 2, b: 4, c: 2, x: \(text)}\nstem: [relu]\n"
            ])
            return PythonSource.expression(compilation.spec.variables["x"]!.value.value, names: [:], whole: whole)
        }
        #expect(try printed("$a - ($b - $c)") == "a - (b - c)")
        #expect(try printed("($a - $b) - $c") == "a - b - c")
        #expect(try printed("($a + $b) * $c") == "(a + b) * c")
        #expect(try printed("$a * ($b // $c)") == "a * (b // c)")
        #expect(try printed("-($a + $b) % $c") == "-(a + b) % c")
        #expect(try printed("($a + $b) / 2") == "(a + b) // 2")
        #expect(try printed("($a + $b) / 2", whole: false) == "(a + b) / 2")
    }
}

/// `export` to a Python file through the binary: the format from the extension or --format.
struct TorchExportCLITests {
    @Test func formatFromTheExtensionOrTheOption() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sharesc-torch-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("m.py").path
        let compilation = try Compiler.compile(
            "Examples/2-tie-group.yaml", options: CompileOptions(source: repositorySource))
        let exported = try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", model])
        #expect(exported.status == 0)
        #expect(
            exported.stdout
                == "\(model): PyTorch module isotropic-trunk (shared), 270,538 parameters, 1 tied\n"
        )
        #expect(compilation.report.parameters.total == 270_538)
        let source = try String(contentsOfFile: model, encoding: .utf8)
        let expected = try TorchExporter.export(compilation)
        #expect(source == expected)
        let other = directory.appendingPathComponent("model.txt").path
        #expect(try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", other, "--format", "torch"]).status == 0)
        #expect(try String(contentsOfFile: other, encoding: .utf8) == expected)
        let unknown = try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", other])
        #expect(unknown.status == 64 && unknown.stderr.contains("cannot tell the format from"))
        // A name that says another kind of file is refused even with --format (it wrote Python over a spec).
        let spec = directory.appendingPathComponent("other.yaml").path
        let refused = try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", spec, "--format", "torch"])
        #expect(
            refused.status == 64
                && refused.stderr.hasPrefix(
                    "Error: -o writes PyTorch source; '.yaml' names another kind of file (a spec): name it .py")
        )
        #expect(!FileManager.default.fileExists(atPath: spec))
        let seed = try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", model, "--seed", "3"])
        #expect(seed.status == 64 && seed.stderr.contains("a PyTorch export holds no weights"))
        // A weights file is checked against the module: one that fits is named, one that does not is an error.
        let weights = directory.appendingPathComponent("w.safetensors").path
        #expect(try CLITests.run(["init", "Examples/2-tie-group.yaml", "-o", weights]).status == 0)
        let fits = try CLITests.run(["export", "Examples/2-tie-group.yaml", "-o", model, "--weights", weights])
        #expect(fits.status == 0 && fits.stdout.hasSuffix("; \(weights) fits it (load_state_dict)\n"))
        let misfit = try CLITests.run([
            "export", "Examples/2-tie-group.yaml", "--sequential", "-o", model, "--weights", weights
        ])
        #expect(misfit.status == 1 && misfit.stderr.contains("error: missing tensor 'stage1.block1.conv2.weight'"))
    }
}
