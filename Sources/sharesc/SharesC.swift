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
        holdClosedStandardStreams()
        refuseArgumentsThatAreNotUTF8()
        // A write past the file size limit (`ulimit -f`) then fails with its reason, and the output file
        // is left whole, where the signal killed the process with its temporary file beside the output.
        signal(SIGXFSZ, SIG_IGN)
        removeUnfinishedWritesWhenInterrupted()
        // What swift-argument-parser prints itself (help, the version) is flushed at exit: a failed
        // write there (a full disk, /dev/full) lost it and exited 0.
        atexit {
            guard fflush(nil) != 0 else { return }
            let reason = OutputFile.standardOutputWasClosed ? "it is closed" : String(cString: strerror(errno))
            printError("error: cannot write to standard output: \(reason)")
            _exit(1)
        }
        refuseUnknownCommands(Array(CommandLine.arguments.dropFirst()))
        refuseSpecsThatReadAsOptions(Array(CommandLine.arguments.dropFirst()))
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
        printError("Error: \(what) (the commands are \(commands.joined(separator: ", ")))\(hint)")
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// A spec whose name starts with '-' (`check -x.yaml`) was read as short options: -h among them
    /// printed the help and exited 0, as if the spec were valid.
    private static func refuseSpecsThatReadAsOptions(_ arguments: [String]) {
        for argument in arguments.prefix(while: { $0 != "--" })
        where argument.hasPrefix("-") && !argument.hasPrefix("--")
            && (argument.hasSuffix(".yaml") || argument.hasSuffix(".yml"))
        {
            let shown = Diagnostic.printable(argument)
            printError(
                "Error: '\(shown)' would be read as options; to name a spec that starts with '-', write ./\(shown) or put -- before it"
            )
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }

    /// Interrupted, a write takes its unfinished temporary file with it (the output stays as it was; each
    /// Ctrl-C left a hidden file of the output's size). The signals are unblocked too: a parent's thread
    /// that blocks them (a test runner's) passed its mask on, and Ctrl-C then did nothing.
    private static func removeUnfinishedWritesWhenInterrupted() {
        var interruptions = sigset_t()
        sigemptyset(&interruptions)
        for interruption in [SIGINT, SIGTERM, SIGHUP] {
            sigaddset(&interruptions, interruption)
            signal(interruption) { number in
                OutputFile.removeUnfinished()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
        pthread_sigmask(SIG_UNBLOCK, &interruptions, nil)
    }

    /// A closed standard stream's descriptor went to the next file opened, a temporary output whose
    /// bytes a summary or an error line then ended. Each is held on a device instead: standard input on
    /// /dev/null (an empty input), standard output on /dev/full (what is printed fails as an error rather
    /// than being lost), standard error on /dev/null.
    private static func holdClosedStandardStreams() {
        let devices = [
            (STDIN_FILENO, "/dev/null", O_RDONLY), (STDOUT_FILENO, "/dev/full", O_WRONLY),
            (STDERR_FILENO, "/dev/null", O_WRONLY)
        ]
        for (descriptor, device, flags) in devices where fcntl(descriptor, F_GETFD) < 0 {
            if descriptor == STDOUT_FILENO { OutputFile.standardOutputWasClosed = true }
            let opened = open(device, flags)  // (the lowest free descriptor: this one)
            if opened >= 0 && opened != descriptor {
                dup2(opened, descriptor)
                close(opened)
            }
        }
    }

    /// An argument that is not UTF-8 (a file name in Latin-1) reached the command with its bad bytes
    /// replaced by U+FFFD: reading said "no such file" of a file that is there, and -o wrote another name.
    private static func refuseArgumentsThatAreNotUTF8() {
        for index in stride(from: 1, to: Int(CommandLine.argc), by: 1) {  // (argc may be 0)
            guard let argument = CommandLine.unsafeArgv[index] else { continue }
            let bytes = UnsafeRawBufferPointer(start: argument, count: strlen(argument))
            guard String(validating: bytes, as: UTF8.self) == nil else { continue }
            let shown = Diagnostic.printable(String(decoding: bytes, as: UTF8.self))
            printError(
                "Error: argument \(index), '\(shown)', is not UTF-8 (shown with U+FFFD for its bad bytes); "
                    + "sharesc reads paths and names as UTF-8: rename the file")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}
