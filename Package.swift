// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sharesc",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SharesCompiler", targets: ["SharesCompiler"]),
        .executable(name: "sharesc", targets: ["sharesc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        .target(
            name: "SharesCompiler",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "sharesc",
            dependencies: [
                "SharesCompiler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "compare-variants",
            dependencies: ["SharesCompiler"],
            path: "Examples/compare-variants"
        ),
        .testTarget(
            name: "SharesCompilerTests",
            dependencies: ["SharesCompiler"],
            exclude: ["Golden"]
        ),
    ]
)
