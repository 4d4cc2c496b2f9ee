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
        guard let executable else {
            throw CompileFailure(Diagnostic(at: .commandLine("-o \(path)"), .graphvizMissing(path: path)))
        }
        func failed(_ detail: String) -> CompileFailure {
            CompileFailure(
                Diagnostic(at: Location(file: path, line: 1, column: 1), .graphvizFailed(path: path, detail: detail)))
        }
        // dot reads, writes and complains into temporary files (pipes could fill both ways at once and
        // stall the two processes); the picture then goes to `path` as every output does: whole or not at
        // all, and never over a file the command read (dot's own -o truncated a spec linked to it).
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-\(UUID().uuidString)")
        let source = scratch.path + ".dot", picture = scratch.path + "." + format.rawValue, log = scratch.path + ".log"
        defer { for file in [source, picture, log] { unlink(file) } }
        try OutputFile.write(Array(dot.utf8), to: source)
        let status = run(executable.path, ["-T\(format.rawValue)", "-o", picture, source], errorsTo: log)
        if let reason = status.failedStart { throw failed("cannot start '\(executable.path)': \(reason)") }
        guard status.code == 0 else {
            let message = (FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw failed(
                message.isEmpty
                    ? status.code > 0 ? "exit status \(status.code)" : "killed by signal \(-status.code)" : message)
        }
        guard let bytes = FileManager.default.contents(atPath: picture) else {
            throw failed("it exited 0 but wrote no '\(picture)'")
        }
        try OutputFile.write(bytes, to: path)
    }

    /// Runs `program` with `arguments`, its standard error into the file `log`: its exit status, or minus
    /// the signal that killed it, or why it could not start. posix_spawn rather than Foundation's Process,
    /// which trapped where few file descriptors were left (`ulimit -n 8`).
    private static func run(_ program: String, _ arguments: [String], errorsTo log: String) -> (
        code: Int32, failedStart: String?
    ) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child = pid_t()
        let started = posix_spawn(&child, program, &actions, nil, argv, environ)
        guard started == 0 else { return (-1, String(cString: strerror(started))) }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        // (WIFEXITED and WEXITSTATUS are macros Swift does not import.)
        return (status & 0x7f == 0 ? (status >> 8) & 0xff : -(status & 0x7f), nil)
    }
}
