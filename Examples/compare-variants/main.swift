// Tutorial step 4: the library API. Compiles ShaResNet at several depths, with and without sharing,
// and prints how many parameters sharing saves at each depth, then one full comparison.
// Run: swift run compare-variants [path/to/Architectures]
import SharesCompiler

let architectures = CommandLine.arguments.dropFirst().first ?? "Architectures"

func run() throws(CompileFailure) {
    print("network".padding(14), "shared".leftPadding(10), "sequential".leftPadding(11), "saved".leftPadding(6))
    for depth in ["50", "101", "152"] {
        let path = "\(architectures)/imagenet/sharesnet-\(depth).yaml"
        let shared = try Compiler.compile(path).report
        let sequential = try Compiler.compile(path, options: CompileOptions(sequential: true)).report
        let saved = 100 * Double(shared.parameters.saved) / Double(sequential.parameters.total)
        print("sharesnet-\(depth)".padding(14), String(shared.parameters.total).leftPadding(10),
              String(sequential.parameters.total).leftPadding(11), (String(Int(saved.rounded())) + "%").leftPadding(6))
    }
    // Any two specs compare the same way: here, also sharing the stride-2 transition 3x3s.
    let a = try Compiler.compile("\(architectures)/imagenet/sharesnet-152.yaml").report
    let b = try Compiler.compile("\(architectures)/imagenet/sharesnet-152-all.yaml").report
    print()
    print(Comparison(a, b).rendered(as: .markdown), terminator: "")
}

do {
    try run()
} catch {
    print(error.description)
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
