import CKernels
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
func compileInMemory(
    _ files: [String: String], main: String = "spec.yaml", sequential: Bool = false,
    overrides: [String] = []
) throws(CompileFailure) -> Compilation {
    try Compiler.compile(
        main,
        options: CompileOptions(
            sequential: sequential, overrides: overrides.map { CommandLineSetting($0) }, source: .memory(files)))
}

/// The rendered diagnostics of a spec that must fail to compile.
func diagnostics(
    _ files: [String: String], main: String = "spec.yaml", sequential: Bool = false,
    overrides: [String] = []
) -> String {
    do {
        _ = try compileInMemory(files, main: main, sequential: sequential, overrides: overrides)
        return "(compiled without errors)"
    } catch {
        return error.description
    }
}

/// Reads specs under the repository root while keeping the paths in reports relative, so golden
/// files do not depend on where the repository is checked out.
let repositorySource = SpecSource { path in
    try SpecSource.disk.read(path.hasPrefix("/") ? path : repositoryRoot + "/" + path)
}

func compileShipped(_ relative: String, sequential: Bool = false, overrides: [String] = []) throws -> Compilation {
    try Compiler.compile(
        "Architectures/" + relative,
        options: CompileOptions(
            sequential: sequential, overrides: overrides.map { CommandLineSetting($0) }, source: repositorySource))
}

/// A shipped architecture's fused program.
func shippedProgram(_ file: String, sequential: Bool = false, overrides: [String] = []) throws -> Program {
    Fusion.run(try compileShipped(file, sequential: sequential, overrides: overrides).graph)
}

/// Compares `actual` with `Golden/<name>`; with SHARESC_RECORD_GOLDEN=1 in the environment, rewrites it
/// instead and fails, so that a recording run can never pass for a checking one.
func expectGolden(_ actual: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let path = repositoryRoot + "/Tests/SharesCompilerTests/Golden/" + name
    if ProcessInfo.processInfo.environment["SHARESC_RECORD_GOLDEN"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        Issue.record(
            "recorded \(name); run again without SHARESC_RECORD_GOLDEN to check it", sourceLocation: sourceLocation)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record(
            "missing golden file \(name); run with SHARESC_RECORD_GOLDEN=1 to record it", sourceLocation: sourceLocation
        )
        return
    }
    if actual != expected {
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let first =
            zip(actualLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(actualLines.count, expectedLines.count)
        let got = first < actualLines.count ? String(actualLines[first]) : "(end)"
        let want = first < expectedLines.count ? String(expectedLines[first]) : "(end)"
        Issue.record(
            "\(name) differs at line \(first + 1):\n  expected: \(want)\n  actual:   \(got)\n(SHARESC_RECORD_GOLDEN=1 re-records)",
            sourceLocation: sourceLocation)
    }
}

/// The machine's python3, for the tests that check against NumPy and ONNX Runtime (CI installs them;
/// without them those tests are skipped with the reason).
enum Python {
    /// Whether `python3 -c "import <modules>"` succeeds.
    static func has(_ modules: String) -> Bool { (try? run("import \(modules)").status) == 0 }

    /// Runs a script; returns its exit status and standard error.
    static func run(_ script: String) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, message)
    }

    static let hasNumPy = has("numpy")
    static let hasONNXRuntime = has("onnx, onnxruntime, numpy")
}

/// The kernels' instruction-set level is process-wide: tests that force it take this lock, so that
/// each really exercises the level it asked for while other suites run in parallel.
let kernelLevelLock = NSLock()

/// Runs `body` at every level the CPU supports (portable, AVX2, AVX-512), then restores the level.
func atEveryKernelLevel(_ body: (Int32) throws -> Void) rethrows {
    kernelLevelLock.lock()
    defer { kernelLevelLock.unlock() }
    let saved = sc_level()
    defer { sc_force_level(saved) }
    for level in [SC_LEVEL_PORTABLE, SC_LEVEL_AVX2, SC_LEVEL_AVX512].map(Int32.init) {
        guard sc_force_level(level) == level else { continue }  // the CPU lacks it
        try body(level)
    }
}

/// The executor `sharesc run` builds for a fused program: planned, fitted to its weights, loaded.
func makeExecutor(_ program: Program, weights: some WeightProvider, threads: Int) throws -> Executor {
    try ModelLoader.executor(program, weights: weights, threads: threads).0
}

extension Executor {
    /// Conv steps that run by Winograd, by output tile size (2 or 4).
    var winogradStepsByTile: [Int: Int] {
        plan.schedule.steps.reduce(into: [:]) { counts, step in
            if let tile = step.algorithm.winogradTile { counts[tile, default: 0] += 1 }
        }
    }
    var winogradSteps: Int { winogradStepsByTile.values.reduce(0, +) }
}

/// The largest |a - b| over two arrays, NaN where a NaN is at any position: Swift's `max()` skips a NaN
/// that is not first, and `>`-based loops lose one that is not last, so an output left unwritten
/// (NaN-filled) could compare as close.
func largestDifference<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ a: some Collection<A>, _ b: some Collection<B>
) -> Double {
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let difference = abs(Double(x) - Double(y))
        if difference.isNaN { return .nan }
        worst = max(worst, difference)
    }
    return worst
}

// The same for whole arrays, by index over their buffers: debug builds run generic code unspecialised,
// and the loop over `zip` above took half the time of the kernel tests, which compare many outputs.
func largestDifference(_ a: [Float], _ b: [Float]) -> Double {
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            largestDifference(count: min(a.count, b.count)) { Double(a[$0]) - Double(b[$0]) }
        }
    }
}

func largestDifference(_ a: [Float], _ b: [Double]) -> Double {
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in largestDifference(count: min(a.count, b.count)) { Double(a[$0]) - b[$0] } }
    }
}

private func largestDifference(count: Int, _ difference: (Int) -> Double) -> Double {
    var worst = 0.0
    var index = 0
    while index < count {
        let d = abs(difference(index))
        if d.isNaN { return .nan }
        if d > worst { worst = d }
        index += 1
    }
    return worst
}

/// The largest |value|, NaNs skipped (0 for none): the scale of a relative error.
func largestMagnitude(_ values: [Double]) -> Double {
    values.withUnsafeBufferPointer { v in largestDifference(count: v.count) { v[$0].isNaN ? 0 : v[$0] } }
}

func largestMagnitude(_ values: [Float]) -> Double {
    values.withUnsafeBufferPointer { v in largestDifference(count: v.count) { v[$0].isNaN ? 0 : Double(v[$0]) } }
}
