import SharesCompiler
import Foundation
let args = CommandLine.arguments
do {
    let c = try Compiler.compile(args[1], options: .init(sequential: args.contains("--sequential"), overrides: args.filter { $0.contains("=") }))
    print(c.report.parameters.total, c.report.parameters.perUse, c.report.macs, c.report.parameters.buffers)
} catch { print(error) }
