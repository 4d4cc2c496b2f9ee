import ArgumentParser
import Foundation
import SharesCompiler

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
        refuseUnknownCommands(Array(CommandLine.arguments.dropFirst()))
        main(nil)
    }

    /// A first argument that is no command (`sharesc compil x.yaml`), or `sharesc help NAME` for one:
    /// swift-argument-parser says "2 unexpected arguments", or prints the general help and exits 0 as if
    /// it had been asked for. Bad usage exits 64, with the commands there are and the one meant where
    /// the name is close to it.
    private static func refuseUnknownCommands(_ arguments: [String]) {
        let commands = configuration.subcommands.map { $0._commandName }
        let asksHelp = arguments.first == "help"
        guard let name = asksHelp ? arguments.dropFirst().first : arguments.first, !name.hasPrefix("-"),
            !(commands + ["help"]).contains(name)
        else { return }
        let shown = Diagnostic.printable(name)  // (an escape sequence in it would drive the terminal)
        let what = asksHelp ? "'sharesc help' knows no command '\(shown)'" : "'\(shown)' is no command"
        let isSpec = !asksHelp && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
        let hint =
            isSpec ? "; to compile a spec: sharesc compile \(shown)" : Suggestion.clause(for: name, among: commands)
        FileHandle.standardError.write(
            Data("Error: \(what) (the commands are \(commands.joined(separator: ", ")))\(hint)\n".utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }
}
