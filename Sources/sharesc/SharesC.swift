import ArgumentParser
import Foundation

@main
struct SharesC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sharesc",
        abstract: "A compiler for residual networks with shared weights, written as YAML.",
        discussion: """
            Examples:
              sharesc compile Architectures/imagenet/sharesnet-50.yaml
              sharesc compare Architectures/imagenet/sharesnet-50.yaml
              sharesc graph Architectures/cifar/sharesnet-164.yaml \\
                | dot -Tsvg > sharesnet-164.svg
            """,
        version: "0.1.0",
        subcommands: [Check.self, Compile.self, Compare.self, Graph.self, Init.self, Export.self, Run.self, Bench.self]
    )

    static func main() {
        // A write past the file size limit (`ulimit -f`) then fails with its reason, and the output file
        // is left whole, where the signal killed the process with its temporary file beside the output.
        signal(SIGXFSZ, SIG_IGN)
        // What swift-argument-parser prints itself (help, the version) is flushed at exit: a failed
        // write there (a full disk, /dev/full) lost it and exited 0.
        atexit {
            guard fflush(nil) != 0 else { return }
            FileHandle.standardError.write(
                Data("error: cannot write to standard output: \(String(cString: strerror(errno)))\n".utf8))
            _exit(1)
        }
        refuseHelpOnUnknownCommands(Array(CommandLine.arguments.dropFirst()))
        main(nil)
    }

    /// `sharesc help NAME` for a NAME that is no command: swift-argument-parser prints the general help
    /// and exits 0, as if it had been asked for; bad usage exits 64, with the commands there are.
    private static func refuseHelpOnUnknownCommands(_ arguments: [String]) {
        guard arguments.first == "help", let name = arguments.dropFirst().first else { return }
        let commands = configuration.subcommands.map { $0._commandName } + ["help"]
        guard !commands.contains(name) else { return }
        FileHandle.standardError.write(
            Data(
                ("Error: 'sharesc help' knows no command '\(name)'; the commands are "
                    + commands.dropLast().joined(separator: ", ") + "\n").utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }
}
