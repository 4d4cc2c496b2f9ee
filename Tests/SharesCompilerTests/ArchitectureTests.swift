import Testing

@testable import SharesCompiler

/// The published parameter counts (torchvision, and Boulch 2018 for the shared variants), exact.
struct ArchitectureTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        var file: String
        var asWritten: Int
        var sequential: Int
        var overrides: [String] = []
        var testDescription: String { file }
    }

    static let table: [Expected] = [
        .init(file: "imagenet/resnet-18.yaml", asWritten: 11_689_512, sequential: 11_689_512),
        .init(file: "imagenet/resnet-34.yaml", asWritten: 21_797_672, sequential: 21_797_672),
        .init(file: "imagenet/resnet-50.yaml", asWritten: 25_557_032, sequential: 25_557_032),
        .init(file: "imagenet/resnet-101.yaml", asWritten: 44_549_160, sequential: 44_549_160),
        .init(file: "imagenet/resnet-152.yaml", asWritten: 60_192_808, sequential: 60_192_808),
        .init(file: "imagenet/wide-resnet-50-2.yaml", asWritten: 68_883_240, sequential: 68_883_240),
        .init(file: "imagenet/sharesnet-34.yaml", asWritten: 13_613_864, sequential: 21_797_672),
        .init(file: "imagenet/sharesnet-50.yaml", asWritten: 20_469_800, sequential: 25_557_032),
        .init(file: "imagenet/sharesnet-101.yaml", asWritten: 29_434_920, sequential: 44_549_160),
        .init(file: "imagenet/sharesnet-152.yaml", asWritten: 36_821_032, sequential: 60_192_808),
        .init(file: "imagenet/sharesnet-152-all.yaml", asWritten: 33_724_456, sequential: 60_192_808),
        .init(file: "cifar/resnet-164.yaml", asWritten: 1_703_258, sequential: 1_703_258),
        .init(file: "cifar/sharesnet-164.yaml", asWritten: 929_114, sequential: 1_703_258),
        .init(file: "cifar/wrn-40-4.yaml", asWritten: 8_949_210, sequential: 8_949_210),
        .init(file: "cifar/sharewrn-40-4.yaml", asWritten: 5_852_634, sequential: 8_949_210),
        .init(
            file: "cifar/sharewrn-28-10.yaml", asWritten: 26_860_084, sequential: 36_536_884, overrides: ["classes=100"]
        ),
        // The original CIFAR ResNet-56 with parameter-free shortcuts: 0.85 M (He et al. 2016, table 6).
        .init(file: "cifar/resnet-56.yaml", asWritten: 853_018, sequential: 853_018),
        // The modern families (torchvision's counts) and their shared variants.
        .init(file: "imagenet/resnext50-32x4d.yaml", asWritten: 25_028_904, sequential: 25_028_904),
        .init(file: "imagenet/mobilenet-v2.yaml", asWritten: 3_504_872, sequential: 3_504_872),
        .init(file: "imagenet/efficientnet-b0.yaml", asWritten: 5_288_548, sequential: 5_288_548),
        .init(file: "imagenet/regnet-y-400mf.yaml", asWritten: 4_344_144, sequential: 4_344_144),
        .init(file: "imagenet/convnext-tiny.yaml", asWritten: 28_589_128, sequential: 28_589_128),
        .init(file: "imagenet/shared-resnext50-32x4d.yaml", asWritten: 24_393_000, sequential: 25_028_904),
        .init(file: "imagenet/shared-mobilenet-v2.yaml", asWritten: 3_482_408, sequential: 3_504_872),
        .init(file: "imagenet/shared-mobilenet-v2-all.yaml", asWritten: 2_954_024, sequential: 3_504_872),
        .init(file: "imagenet/shared-efficientnet-b0.yaml", asWritten: 5_209_828, sequential: 5_288_548),
        .init(file: "imagenet/shared-efficientnet-b0-all.yaml", asWritten: 4_097_764, sequential: 5_288_548),
        .init(file: "imagenet/shared-regnet-y-400mf.yaml", asWritten: 4_150_032, sequential: 4_344_144),
        .init(file: "imagenet/shared-convnext-tiny.yaml", asWritten: 28_329_928, sequential: 28_589_128),
        .init(file: "imagenet/shared-convnext-tiny-all.yaml", asWritten: 8_692_360, sequential: 28_589_128)
    ]

    @Test(arguments: table)
    func parameterCounts(_ expected: Expected) throws {
        let shared = try compileShipped(expected.file, overrides: expected.overrides).report
        let sequential = try compileShipped(expected.file, sequential: true, overrides: expected.overrides).report
        #expect(shared.parameters.total == expected.asWritten)
        #expect(sequential.parameters.total == expected.sequential)
        // What a sharing-unaware counter says is exactly the sequential variant's count.
        #expect(shared.parameters.perUse == expected.sequential)
        #expect(shared.parameters.saved == expected.sequential - expected.asWritten)
        // Sharing saves parameters, never compute.
        #expect(shared.macs == sequential.macs)
        #expect(sequential.variant == .sequential && sequential.ties.isEmpty)
        #expect(shared.variant == (expected.asWritten == expected.sequential ? .untied : .shared))
        // The paper's formula: shared = sequential - sum over ties of (uses - 1) x weight size.
        #expect(shared.ties.reduce(0) { $0 + $1.saved } == shared.parameters.saved)
        #expect(shared.stages.reduce(0) { $0 + $1.parameters } == shared.parameters.total)
        #expect(shared.stages.reduce(0) { $0 + $1.macs } == shared.macs)
    }

    /// torchvision's "GFLOPS" column is MACs of conv and linear layers at 224x224.
    @Test(arguments: [
        ("resnet-18", "1.814"), ("resnet-34", "3.664"), ("resnet-50", "4.089"), ("resnet-101", "7.801"),
        ("resnet-152", "11.514"), ("wide-resnet-50-2", "11.398")
    ])
    func torchvisionMACs(_ network: String, _ gmacs: String) throws {
        let report = try compileShipped("imagenet/\(network).yaml").report
        #expect(Format.fixed(Double(report.macs) / 1e9, decimals: 3) == gmacs)
        #expect(report.flops == 2 * report.macs)
    }

    /// torchvision's MACs of convolutions and linear layers at 224x224 (ConvNeXt's pointwise
    /// convolutions are Linear layers there: the same products). Sharing changes no MAC.
    @Test(arguments: [
        ("resnext50-32x4d", 4_230_479_872), ("mobilenet-v2", 300_774_272), ("efficientnet-b0", 385_814_752),
        ("regnet-y-400mf", 401_842_848), ("convnext-tiny", 4_455_531_264)
    ])
    func modernFamiliesExactMACs(_ network: String, _ macs: Int) throws {
        #expect(try compileShipped("imagenet/\(network).yaml").report.macs == macs)
        #expect(try compileShipped("imagenet/shared-\(network).yaml").report.macs == macs)
    }

    @Test func resnet50ExactMACsAndLayers() throws {
        let report = try compileShipped("imagenet/sharesnet-50.yaml").report
        #expect(report.macs == 4_089_184_256)
        #expect(report.layers.total == 54)
        // 13 tied uses collapse into 4 weights.
        #expect(report.layers.distinct == 54 - 13 + 4)
        #expect(report.parameters.buffers == 53_120)
        #expect(report.weightBytes == 4 * 20_469_800)
        #expect(report.ties.map(\.uses) == [3, 3, 5, 2])
        #expect(
            report.ties.map(\.weight) == [
                "stage1.shared.conv2.weight", "stage2.shared.conv2.weight",
                "stage3.shared.conv2.weight", "stage4.shared.conv2.weight"
            ])
    }

    /// Every shipped graph keeps the IR's invariants, shared and sequential.
    @Test(arguments: table)
    func graphsVerify(_ expected: Expected) throws {
        for sequential in [false, true] {
            let graph = try compileShipped(expected.file, sequential: sequential, overrides: expected.overrides).graph
            #expect(Verifier.problems(in: graph) == [])
        }
    }
}
