// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sharesc",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SharesCompiler", targets: ["SharesCompiler"]),
        .executable(name: "sharesc", targets: ["sharesc"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2")
    ],
    targets: [
        .target(
            name: "SharesCompiler",
            dependencies: ["CKernels", .product(name: "Yams", package: "Yams")]
        ),
        // Hot loops with intrinsics and run-time CPU dispatch. Always optimised: debug builds of the
        // tests would otherwise run the kernels at -O0.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        .executableTarget(
            name: "sharesc",
            dependencies: [
                "SharesCompiler",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),
        // Fuzz targets over every reader (see Fuzz/README.md); in an ordinary build it replays inputs.
        .executableTarget(
            name: "sharesc-fuzz",
            dependencies: ["SharesCompiler"]
        ),
        .executableTarget(
            name: "compare-variants",
            dependencies: ["SharesCompiler"],
            path: "Examples/compare-variants"
        ),
        .testTarget(
            name: "SharesCompilerTests",
            dependencies: ["SharesCompiler", "CKernels"],
            exclude: ["Golden"]
        )
    ]
)
