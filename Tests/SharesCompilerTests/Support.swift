import Foundation
import Testing
@testable import SharesCompiler

/// The repository root, found from this file's path, for tests that read shipped specs.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

func architecture(_ relative: String) -> String { repositoryRoot + "/Architectures/" + relative }

/// Compiles in-memory files; `main` names the spec to compile.
func compileInMemory(_ files: [String: String], main: String = "spec.yaml", sequential: Bool = false,
                     overrides: [String] = []) throws(CompileFailure) -> Compilation {
    try Compiler.compile(main, options: CompileOptions(sequential: sequential, overrides: overrides, source: .memory(files)))
}

/// The rendered diagnostics of a spec that must fail to compile.
func diagnostics(_ files: [String: String], main: String = "spec.yaml", sequential: Bool = false,
                 overrides: [String] = []) -> String {
    do {
        _ = try compileInMemory(files, main: main, sequential: sequential, overrides: overrides)
        return "(compiled without errors)"
    } catch {
        return error.description
    }
}
