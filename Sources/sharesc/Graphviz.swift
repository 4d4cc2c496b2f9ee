import Foundation
import SharesCompiler

/// Renders DOT to SVG or PNG with Graphviz's `dot`, run as a child process: sharesc draws no pixels itself.
enum Graphviz {
    /// `dot` on the PATH, or nil when Graphviz is not installed.
    static var executable: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("dot") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Writes `dot` as `format` to `path`; a missing Graphviz or a failed run is a diagnostic.
    static func render(_ dot: String, format: DOTRendering.FileFormat, to path: String) throws(CompileFailure) {
        let location = Location.commandLine("-o \(path)")
        guard let executable else { throw CompileFailure(Diagnostic(at: location, .graphvizMissing(path: path))) }
        // The DOT goes through a temporary file: a pipe could fill both ways at once and stall the two processes.
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-\(UUID().uuidString).dot")
        defer { try? FileManager.default.removeItem(at: source) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-T\(format.rawValue)", "-o", path, source.path]
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do {
            try Data(dot.utf8).write(to: source)
            try process.run()
        } catch {
            throw CompileFailure(Diagnostic(at: location, .graphvizFailed(path: path, detail: "\(error)")))
        }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = message.trimmingCharacters(in: .whitespacesAndNewlines)
            throw CompileFailure(
                Diagnostic(
                    at: location,
                    .graphvizFailed(
                        path: path, detail: detail.isEmpty ? "exit status \(process.terminationStatus)" : detail)))
        }
    }
}
