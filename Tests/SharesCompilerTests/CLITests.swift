import Foundation
import Testing

@testable import SharesCompiler

/// The built `sharesc` binary, end to end: exit codes, what goes to stdout and what to stderr.
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Executables are built next to the test bundle (`swift build --build-tests` builds every product).
    static func executable(_ name: String) -> URL {
        (Bundle.main.executableURL ?? Bundle.main.bundleURL).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Runs `body` with a new empty directory under the system's temporary one, removed afterwards.
    static func withScratchDirectory(_ prefix: String = "cli", _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    /// `environment` replaces variables of this process's environment (a PATH without Graphviz, say).
    /// `directory`: where it runs (the repository's root unless given).
    static func run(
        _ arguments: [String], executable name: String = "sharesc", environment: [String: String] = [:],
        in directory: String = repositoryRoot
    ) throws -> Run {
        let process = Process()
        process.executableURL = name.hasPrefix("/") ? URL(fileURLWithPath: name) : executable(name)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a large report cannot fill a pipe and block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func compilePrintsTheReport() throws {
        let result = try Self.run(["compile", "Architectures/imagenet/sharesnet-50.yaml"])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.stdout.contains("parameters (distinct, trainable)            20,469,800"))
        #expect(result.stdout.contains("saved by sharing                             5,087,232  19.9%"))
    }

    @Test func jsonHasTheDocumentedKeys() throws {
        let result = try Self.run([
            "compile", "Architectures/cifar/sharewrn-28-10.yaml", "--set", "classes=100", "--format", "json"
        ])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let parameters = try #require(json["parameters"] as? [String: Any])
        let layers = try #require(json["layers"] as? [String: Any])
        #expect(json["network"] as? String == "sharewrn-28-10")
        #expect(json["variant"] as? String == "shared")
        #expect(parameters["total"] as? Int == 26_860_084)
        #expect(parameters["per_use"] as? Int == 36_536_884)
        #expect(parameters["saved"] as? Int == 36_536_884 - 26_860_084)
        #expect(parameters["buffers"] as? Int != nil)
        #expect(json["macs"] as? Int != nil)
        // Stem conv, 3 x 4 blocks x 2 convs, 3 projections, the classifier; 3 ties of 3 uses each.
        #expect(layers["total"] as? Int == 29)
        #expect(layers["distinct"] as? Int == 29 - 3 * 3 + 3)
        #expect((json["stages"] as? [Any])?.count == 5)
        #expect((json["ties"] as? [Any])?.count == 3)
    }

    @Test func sequentialFlag() throws {
        let result = try Self.run([
            "compile", "Architectures/cifar/sharesnet-164.yaml", "--sequential", "--format", "json"
        ])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["variant"] as? String == "sequential")
        #expect((json["parameters"] as? [String: Any])?["total"] as? Int == 1_703_258)
    }

    @Test func outputIsDeterministic() throws {
        let first = try Self.run(["compile", "Architectures/imagenet/sharesnet-152.yaml", "--format", "json"])
        let second = try Self.run(["compile", "Architectures/imagenet/sharesnet-152.yaml", "--format", "json"])
        #expect(first.stdout == second.stdout && !first.stdout.isEmpty)
    }

    @Test func compareWithOneAndTwoSpecs() throws {
        let one = try Self.run(["compare", "Architectures/imagenet/sharesnet-50.yaml"])
        #expect(one.status == 0)
        #expect(
            one.stdout.contains(
                "B has 5,087,232 more parameters than A (+24.9%), at the same compute (4.089 GMACs per image)."))
        let two = try Self.run([
            "compare", "Architectures/imagenet/resnet-50.yaml", "Architectures/imagenet/wide-resnet-50-2.yaml",
            "--format", "markdown"
        ])
        #expect(two.status == 0)
        #expect(two.stdout.hasPrefix("# resnet-50 (untied) vs wide-resnet-50-2 (untied)"))
        #expect(two.stdout.contains("| MACs | 4,089,184,256 | 11,398,021,120 | +7,308,836,864 | +178.7% |"))
        // Two settings of one spec: --set-b sets B alone, after --set (which sets both).
        let depths = try Self.run([
            "compare", "Architectures/cifar/resnet-164.yaml", "Architectures/cifar/resnet-164.yaml", "--set",
            "classes=100", "--set-b", "depth=110"
        ])
        #expect(depths.status == 0)
        #expect(
            depths.stdout.hasPrefix(
                "resnet-164 (untied) --set classes=100 vs resnet-164 (untied) --set classes=100 --set depth=110\n"))
        #expect(depths.stdout.contains("  total         54        36  "))
        let missing = try Self.run(["compare", "Examples/2-tie-group.yaml", "--set-a", "depth"])
        #expect(missing.status == 64 && missing.stderr.contains("--set-a expects name=value"))
        // A side's setting is named by the option that gave it, not as --set.
        let misspelt = try Self.run(["compare", "Architectures/cifar/resnet-164.yaml", "--set-a", "depht=110"])
        #expect(
            misspelt.status == 1
                && misspelt.stderr.hasPrefix(
                    "<command line: --set-a depht=110>:1:9: error: --set-a names unknown variable 'depht'")
        )
        let inexact = try Self.run([
            "compare", "Architectures/cifar/resnet-164.yaml", "Architectures/cifar/resnet-164.yaml", "--set-b",
            "depth=111"
        ])
        #expect(
            inexact.stderr.contains("<command line: --set-b depth=111>:1:1: note: 'depth' is 111 here, set by --set-b"))
        // Each side is named by the settings that hold for it, each name once (a side's --set-a after a
        // --set of the same name read as two values, the first of which did not hold).
        let both = try Self.run([
            "compare", "Architectures/cifar/resnet-56.yaml", "Architectures/cifar/resnet-56.yaml", "--set", "depth=20",
            "--set-a", "depth= 32", "--set-b", "classes=3"
        ])
        #expect(
            both.stdout.hasPrefix(
                "resnet-56 (untied) --set depth=32 vs resnet-56 (untied) --set depth=20 --set classes=3\n"))
    }

    /// When both sides fail, both sides' errors print (only A's did), each once.
    @Test func compareReportsBothSidesErrors() throws {
        try Self.withScratchDirectory { directory in
            try "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernal: 3}}]\n".write(
                toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
            try "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 0}}]\n".write(
                toFile: directory + "/b.yaml", atomically: true, encoding: .utf8)
            let both = try Self.run(["compare", "a.yaml", "b.yaml"], in: directory)
            #expect(both.status == 1 && both.stdout.isEmpty)
            let lines = both.stderr.split(separator: "\n")
            #expect(lines.count == 2 && lines[0].hasPrefix("a.yaml:2:24: error:") && lines[1].hasPrefix("b.yaml:2:"))
            let same = try Self.run(["compare", "a.yaml", "a.yaml", "--set-b", "x=1"], in: directory)
            #expect(same.status == 1 && same.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func graphIsDOT() throws {
        let result = try Self.run(["graph", "Architectures/imagenet/sharesnet-34.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("digraph \"sharesnet-34\" {"))
        // One weight node per tie; collapsed, one dashed edge per run of alike blocks: stage 1 is one run
        // of 3 (no projection there), stages 2-4 a first block and the rest.
        #expect(result.stdout.components(separatedBy: "shape=cylinder").count - 1 == 4)
        #expect(result.stdout.components(separatedBy: "style=dashed").count - 1 == 7)
        // Expanded, one per use: 3 + 4 + 6 + 3 blocks.
        let expanded = try Self.run(["graph", "Architectures/imagenet/sharesnet-34.yaml", "--expand"])
        #expect(expanded.stdout.components(separatedBy: "style=dashed").count - 1 == 16)
        // `-o -` is standard output, as for every command: the same DOT, what was written said on stderr.
        let piped = try Self.run(["graph", "Architectures/imagenet/sharesnet-34.yaml", "-o", "-"])
        #expect(piped.status == 0 && piped.stdout == result.stdout)
        #expect(piped.stderr == "standard output: sharesnet-34 (shared), identical blocks collapsed\n")
    }

    @Test func emitGraph() throws {
        let result = try Self.run(["compile", "Architectures/cifar/resnet-56.yaml", "--emit", "graph"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("graph \"resnet-56\" untied input 3x32x32\n"))
        #expect(result.stdout.contains("subsample_pad %"))
    }

    /// `-` as an input says that it names standard output only (it said "no such file").
    @Test func dashIsNoInput() throws {
        for arguments in [["compile", "-"], ["run", "-"], ["run", "Examples/2-tie-group.yaml", "--input", "-"]] {
            let result = try Self.run(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(
                result.stderr
                    == "-:1:1: error: cannot read '-': '-' is standard output for -o and --output only; inputs are read from files\n",
                "\(arguments)")
        }
    }

    @Test func checkSaysOk() throws {
        let result = try Self.run(["check", "Architectures/cifar/wrn-40-4.yaml", "--set", "depth=28", "--set", "k=10"])
        #expect(result.status == 0)
        #expect(
            result.stdout == "Architectures/cifar/wrn-40-4.yaml: ok: wrn-40-4, 36,479,194 parameters, 0 tied weights\n")
        // Several specs: each checked, whichever fails; the status says whether any did.
        let several = try Self.run([
            "check", "Examples/1-custom-block.yaml", "Examples/3-deliberate-error.yaml", "Examples/2-tie-group.yaml"
        ])
        #expect(several.status == 1)
        #expect(
            several.stdout == """
                Examples/1-custom-block.yaml: ok: resnext-cifar, 136,122 parameters, 2 tied weights
                Examples/2-tie-group.yaml: ok: isotropic-trunk, 270,538 parameters, 1 tied weight

                """)
        #expect(several.stderr.hasPrefix("Examples/3-deliberate-error.yaml:12:69: error: "))
    }

    @Test func invalidSpecPrintsLocatedErrorsOnlyToStderr() throws {
        let result = try Self.run(["compile", "Examples/3-deliberate-error.yaml"])
        #expect(result.status == 1)
        #expect(result.stdout == "")
        #expect(
            result.stderr.hasPrefix(
                "Examples/3-deliberate-error.yaml:12:69: error: tied convolutions must have identical weight shapes"))
    }

    @Test func missingFileAndUnknownVariable() throws {
        let missing = try Self.run(["compile", "no/such/spec.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "no/such/spec.yaml:1:1: error: cannot read 'no/such/spec.yaml': no such file\n")
        // Only a regular file is read: a device (/dev/zero would never end) or a directory is named as such.
        for (path, reason) in [
            ("/dev/null", "is not a regular file (a device, pipe or socket)"), ("Examples", "is a directory")
        ] {
            let special = try Self.run(["check", path])
            #expect(special.status == 1)
            #expect(special.stderr == "\(path):1:1: error: cannot read '\(path)': \(reason)\n")
        }
        // An output path that cannot be a file says why.
        for (path, reason) in [
            ("Examples", "is a directory"), ("no/such/x.plan", "no such directory 'no/such'"),
            ("README.md/x.plan", "'README.md' is not a directory")
        ] {
            let unwritable = try Self.run(["compile", "Examples/1-custom-block.yaml", "-o", path])
            #expect(unwritable.status == 1)
            #expect(unwritable.stderr == "\(path):1:1: error: cannot write '\(path)': \(reason)\n")
        }
        let empty = try Self.run(["compile", "Examples/1-custom-block.yaml", "-o", ""])
        #expect(empty.status == 1)
        #expect(
            empty.stderr == "<command line: ''>:1:1: error: cannot write '': the path is empty; expected a file name\n")
        // The system's reason, where Foundation said "NSCocoaErrorDomain error 256".
        try Self.withScratchDirectory { directory in
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/loop.yaml", withDestinationPath: "loop.yaml")
            let loop = try Self.run(["check", directory + "/loop.yaml"])
            #expect(loop.status == 1)
            #expect(loop.stderr.hasSuffix("loop.yaml': Too many levels of symbolic links\n"))
            let unknown = try Self.run(["compile", "Architectures/imagenet/resnet-18.yaml", "--set", "clases=100"])
            #expect(unknown.status == 1)
            #expect(
                unknown.stderr.hasPrefix(
                    "<command line: --set clases=100>:1:7: error: --set names unknown variable 'clases'"))
        }
    }

    /// A document that cannot be written to standard output (a full disk) is an error, not exit 0: a
    /// report, and what swift-argument-parser prints itself (help and the version were lost, exit 0).
    /// (A file written to standard output, `-o -`, says so as every output file does, at a location.)
    @Test(arguments: [
        ["compile", "Examples/1-custom-block.yaml"], ["--version"], ["help", "compile"],
        ["export", "Examples/1-custom-block.yaml", "--format", "torch", "-o", "-"]
    ])
    func failedWritesToStandardOutputAreErrors(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = Self.executable("sharesc")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        process.standardOutput = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(
            String(decoding: stderr, as: UTF8.self)
                == (arguments.contains("-o") ? "<standard output>:1:1: " : "")
                + "error: cannot write to standard output: No space left on device\n")
    }

    /// Standard streams that cannot be written or are closed: a warning or an error lost on a full
    /// standard error is no crash (FileHandle's write trapped, exit 132), and a closed standard output's
    /// descriptor is not given to an output file whose bytes the summary line would then end.
    @Test func unwritableOrClosedStandardStreams() throws {
        try Self.withScratchDirectory { directory in
            try
                "input: [3, 8, 8]\nblocks: {b: {body: [{conv: {out: 3, kernel: 1}}]}}\nstages: [{block: b, share: {conv1: all}}]\n"
                .write(toFile: directory + "/spec.yaml", atomically: true, encoding: .utf8)
            func shell(_ command: String) throws -> Int32 {
                try Self.run(["-c", command, Self.executable("sharesc").path], executable: "/bin/sh", in: directory)
                    .status
            }
            #expect(try shell("exec \"$0\" check missing.yaml 2>/dev/full") == 1)
            #expect(try shell("exec \"$0\" compile spec.yaml 2>/dev/full >/dev/null") == 0)  // (only a warning)
            #expect(try shell("exec \"$0\" check spec.yaml >&- 2>&-") == 1)
            #expect(try shell("exec \"$0\" export spec.yaml -o whole.onnx --seed 1 2>/dev/null") == 0)
            let closed = try Self.run(
                ["-c", "exec \"$0\" export spec.yaml -o closed.onnx --seed 1 >&-", Self.executable("sharesc").path],
                executable: "/bin/sh", in: directory)
            #expect(
                closed.status == 1 && closed.stderr.hasSuffix("error: cannot write to standard output: it is closed\n"))
            let dash = try Self.run(
                ["-c", "exec \"$0\" export spec.yaml --format torch -o - >&-", Self.executable("sharesc").path],
                executable: "/bin/sh", in: directory)
            #expect(
                dash.status == 1
                    && dash.stderr.hasSuffix(
                        "<standard output>:1:1: error: cannot write to standard output: it is closed\n")
            )
            let whole = try Data(contentsOf: URL(fileURLWithPath: directory + "/whole.onnx"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/closed.onnx")) == whole)
        }
    }

    /// An argument that is not UTF-8 is refused, where its bytes became U+FFFD: "no such file" for a file
    /// that is there, and -o wrote a file of another name.
    @Test func argumentsThatAreNotUTF8AreRefused() throws {
        try Self.withScratchDirectory { directory in
            let result = try Self.run(
                [
                    "-c", "exec \"$0\" export \"$1\" -o \"$(printf 'bad\\377.onnx')\"", Self.executable("sharesc").path,
                    repositoryRoot + "/Examples/1-custom-block.yaml"
                ], executable: "/bin/sh", in: directory)
            #expect(result.status == 64)
            #expect(
                result.stderr
                    == "Error: argument 4, 'bad\u{FFFD}.onnx', is not UTF-8 (shown with U+FFFD for its bad bytes); sharesc reads paths and names as UTF-8: rename the file\n"
            )
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    /// A spec named with a leading '-' is refused with the way to name it (it was read as short options,
    /// and the -h among them printed the help with exit status 0).
    @Test func specsThatReadAsOptionsAreRefused() throws {
        let dashed = try Self.run(["check", "-dash.yaml"])
        #expect(dashed.status == 64 && dashed.stdout.isEmpty)
        #expect(
            dashed.stderr
                == "Error: '-dash.yaml' would be read as options; to name a spec that starts with '-', write ./-dash.yaml or put -- before it\n"
        )
        let separated = try Self.run(["check", "--", "-dash.yaml"])
        #expect(separated.status == 1 && separated.stderr.contains("cannot read '-dash.yaml': no such file"))
    }

    /// Interrupted while it writes, a command removes its unfinished temporary file (Ctrl-C left a hidden
    /// one of the output's size beside it each time) and dies of the signal.
    @Test func interruptedWritesLeaveNoTemporaryFile() throws {
        try Self.withScratchDirectory { directory in
            let process = Process()
            process.executableURL = Self.executable("sharesc")
            process.arguments = [
                "init", repositoryRoot + "/Architectures/imagenet/resnet-50.yaml", "-o", directory + "/w.safetensors"
            ]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var writing = false
            for _ in 0..<6000 where process.isRunning {
                if try !FileManager.default.contentsOfDirectory(atPath: directory).isEmpty {
                    writing = true
                    break
                }
                usleep(5000)
            }
            try #require(writing, "init finished before its temporary file was seen")
            process.interrupt()
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGINT)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    /// A write past the file size limit (`ulimit -f`) is an error with its reason: the file at the path
    /// stays as it was and no temporary is left beside it (SIGXFSZ killed the process, leaving its
    /// temporary file).
    @Test func writesPastTheFileSizeLimitFailWhole() throws {
        try Self.withScratchDirectory("limit") { directory in
            let plan = directory + "/x.plan"
            try Data("old".utf8).write(to: URL(fileURLWithPath: plan))
            let command = "ulimit -f 4; exec \"$0\" compile Examples/1-custom-block.yaml -o \"$1\""
            let result = try Self.run(["-c", command, Self.executable("sharesc").path, plan], executable: "/bin/bash")
            #expect(result.status == 1)
            #expect(result.stderr == "\(plan):1:1: error: cannot write '\(plan)': File too large\n")
            #expect(try String(contentsOfFile: plan, encoding: .utf8) == "old")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["x.plan"])
        }
    }

    /// An output file is replaced whole, through a symbolic link that names it, keeping its mode.
    @Test func outputsReplaceFilesWholeThroughLinks() throws {
        try Self.withScratchDirectory("out") { directory in
            let target = directory + "/target.bin", link = directory + "/link.bin"
            try Data("old".utf8).write(to: URL(fileURLWithPath: target))
            chmod(target, 0o600)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target.bin")
            try OutputFile.write(Array("new".utf8), to: link)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target.bin")
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
            let attributes = try FileManager.default.attributesOfItem(atPath: target)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["link.bin", "target.bin"])
        }
    }

    /// A symbolic link to a file not yet made is written through (as a shell's `>` does), making the
    /// file it names, where the output took the link's place; through a chain of links too.
    @Test func outputsMakeTheFileADanglingLinkNames() throws {
        try Self.withScratchDirectory("out") { directory in
            try FileManager.default.createDirectory(atPath: directory + "/runs", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/latest.bin", withDestinationPath: "last.bin")
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/last.bin", withDestinationPath: "runs/7.bin")
            try OutputFile.write(Array("new".utf8), to: directory + "/latest.bin")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/latest.bin") == "last.bin")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/last.bin") == "runs/7.bin")
            #expect(try String(contentsOfFile: directory + "/runs/7.bin", encoding: .utf8) == "new")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/runs") == ["7.bin"])
            // A link into a directory that does not exist fails, naming the directory, and stays a link.
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/lost.bin", withDestinationPath: "gone/x.bin")
            #expect(throws: CompileFailure.self) {
                try OutputFile.write(Array("new".utf8), to: directory + "/lost.bin")
            }
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/lost.bin") == "gone/x.bin")
        }
    }

    /// Names of one character (Foundation's path functions trapped on them, SIGILL) and names near the
    /// 255-byte limit (which leave no room for the temporary file's own) are written like any other.
    @Test func shortAndLongOutputNames() throws {
        try Self.withScratchDirectory("out") { directory in
            let spec = repositoryRoot + "/Examples/1-custom-block.yaml"
            for name in ["a", "./-"] {  // (`-` alone is standard output)
                let result = try Self.run(["compile", spec, "-o", name], in: directory)
                #expect(result.status == 0, "\(name): \(result.stderr)")
                #expect(FileManager.default.fileExists(atPath: directory + "/" + name))
            }
            let long = directory + "/" + String(repeating: "x", count: 250)
            try OutputFile.write(Array("new".utf8), to: long)
            #expect(try String(contentsOfFile: long, encoding: .utf8) == "new")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count == 3)
        }
    }

    /// A write that fails part-way (a full disk; here a limit on file size) leaves the file at the path as
    /// it was, and no temporary file: the path itself used to be written again, in place, and truncated.
    @Test func failedWritesLeaveTheOldFile() throws {
        try Self.withScratchDirectory("out") { directory in
            let plan = directory + "/good.plan", old = "the plan that was there"
            try old.write(toFile: plan, atomically: true, encoding: .utf8)
            // (SIGXFSZ ignored, so that the write past the limit fails with EFBIG instead of killing.)
            let limited = "trap '' XFSZ; ulimit -f 2; exec \"$0\" compile \"$1\" -o \"$2\""
            let result = try Self.run(
                [
                    "-c", limited, Self.executable("sharesc").path, repositoryRoot + "/Examples/1-custom-block.yaml",
                    plan
                ],
                executable: "/bin/sh")
            #expect(result.status == 1)
            #expect(result.stderr == "\(plan):1:1: error: cannot write '\(plan)': File too large\n")
            #expect(try String(contentsOfFile: plan, encoding: .utf8) == old)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["good.plan"])
        }
    }

    /// An included file is one file by whatever path reaches it: two links to the library's own folder
    /// made each spelling `d/e/d/.../lib.yaml` a new file to read, 2^40 of them (the command never ended).
    @Test func includesThroughSymbolicLinksAreOneFile() throws {
        try Self.withScratchDirectory { directory in
            for link in ["d", "e"] {
                try FileManager.default.createSymbolicLink(atPath: directory + "/" + link, withDestinationPath: ".")
            }
            let files = [
                "lib.yaml": "include: [d/lib.yaml, e/lib.yaml]\nvars: {a: 1}\n",
                "cycle.yaml": "include: lib.yaml\ninput: [3, 8, 8]\nstem: [relu]\n",
                "blocks.yaml": "blocks:\n  b:\n    body: [relu]\n",
                "twice.yaml": "include: [blocks.yaml, d/blocks.yaml, d/e/blocks.yaml]\ninput: [3, 8, 8]\nstem: [relu]\n"
            ]
            for (name, text) in files {
                try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            }
            let cycle = try Self.run(["check", "cycle.yaml"], in: directory)
            #expect(cycle.status == 1)
            #expect(
                cycle.stderr
                    == "lib.yaml:1:11: error: include cycle: lib.yaml -> d/lib.yaml\n"
                    + "lib.yaml:1:23: error: include cycle: lib.yaml -> e/lib.yaml\n")
            // Read once: the block is defined once, not three times.
            let twice = try Self.run(["check", "twice.yaml"], in: directory)
            #expect(twice.status == 0, "\(twice.stderr)")
        }
    }

    /// A path with a NUL (`"lib.yaml\0 x"`, a YAML escape) is refused: the system would read it only up
    /// to the NUL, another file than the one named.
    @Test func pathsWithANulAreRefused() throws {
        try Self.withScratchDirectory { directory in
            let files = [
                "lib.yaml": "vars: {a: 1}\n",
                "spec.yaml": "include: [lib.yaml, \"lib.yaml\\0 x\"]\ninput: [3, 8, 8]\nstem: [relu]\n",
                "child.yaml": "extends: \"spec.yaml\\0.bak\"\n"
            ]
            for (name, text) in files {
                try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            }
            let include = try Self.run(["check", "spec.yaml"], in: directory)
            #expect(include.status == 1)
            #expect(
                include.stderr
                    == "spec.yaml:1:21: error: cannot read 'lib.yaml\\u{0} x': the path contains a NUL character\n")
            let extends = try Self.run(["check", "child.yaml"], in: directory)
            #expect(
                extends.stderr
                    == "child.yaml:1:10: error: cannot read 'spec.yaml\\u{0}.bak': the path contains a NUL character\n")
        }
    }

    /// An output on standard output itself (`-o /dev/stdout` into a pipe, or `-o -`) gets only the
    /// file's bytes there, its summary on standard error; a file its owner may not write is not replaced.
    @Test func outputFilesKeepTheirBytesAndPermissions() throws {
        let weights = try Self.run(["init", "Examples/2-tie-group.yaml", "-o", "/dev/stdout"])
        #expect(weights.status == 0)
        #expect(weights.stderr.hasPrefix("/dev/stdout: ") && !weights.stdout.contains("/dev/stdout"))
        // The extension in any case, as graph takes x.SVG.
        try Self.withScratchDirectory { directory in
            for name in ["m.onnx", "M.ONNX", "m.py", "M.Py"] {
                let export = try Self.run(["export", "Examples/2-tie-group.yaml", "-o", directory + "/" + name])
                #expect(export.status == 0, "\(name)")
            }
            let bytes = { (name: String) in FileManager.default.contents(atPath: directory + "/" + name) }
            #expect(bytes("M.ONNX") == bytes("m.onnx") && bytes("M.Py") == bytes("m.py"))
            // `-` is standard output, as in most tools: the same bytes, no file named '-'.
            let torch = try Self.run(["export", "Examples/2-tie-group.yaml", "--format", "torch", "-o", "-"])
            #expect(torch.status == 0 && Data(torch.stdout.utf8) == bytes("m.py"))
            #expect(torch.stderr.hasPrefix("standard output: PyTorch module isotropic-trunk"))
            #expect(!FileManager.default.fileExists(atPath: repositoryRoot + "/-"))
        }
        try Self.withScratchDirectory { directory in
            // Root may write any file: there the binary runs as nobody, from a directory anyone may use.
            let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            let root = getuid() == 0
            if root, !FileManager.default.isExecutableFile(atPath: asNobody[0]) { return }
            let binary = directory + "/sharesc"
            try FileManager.default.copyItem(atPath: Self.executable("sharesc").path, toPath: binary)
            try "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 3}}]\n".write(
                toFile: directory + "/spec.yaml", atomically: true, encoding: .utf8)
            try "kept\n".write(toFile: directory + "/model.onnx", atomically: true, encoding: .utf8)
            chmod(directory + "/model.onnx", 0o444)
            chmod(directory, 0o777)
            let command = [binary, "export", "spec.yaml", "-o", "model.onnx"]
            let export = try Self.run(
                root ? asNobody.dropFirst() + command : Array(command.dropFirst()),
                executable: root ? asNobody[0] : binary, in: directory)
            #expect(export.status == 1)
            #expect(export.stderr == "model.onnx:1:1: error: cannot write 'model.onnx': Permission denied\n")
            #expect(try String(contentsOfFile: directory + "/model.onnx", encoding: .utf8) == "kept\n")
        }
    }

    /// Every command that compiles a spec prints its warnings, each once (`compare A A` compiles it twice).
    @Test func everyCommandPrintsTheSpecsWarningsOnce() throws {
        try Self.withScratchDirectory { directory in
            try
                "input: [3, 8, 8]\nblocks: {b: {body: [{conv: {out: 3, kernel: 1}}]}}\nstages: [{block: b, share: {conv1: all}}]\n"
                .write(toFile: directory + "/spec.yaml", atomically: true, encoding: .utf8)
            let warning =
                "spec.yaml:3:36: warning: sharing 'conv1' in stage 'stage1' reaches fewer than two convolutions, so nothing is shared\n"
            for command in [
                ["check"], ["compile"], ["graph"], ["compare"], ["compare", "spec.yaml"],
                ["init", "-o", "w.safetensors"],
                ["export", "-o", "m.onnx"], ["run"], ["bench", "--runs", "1", "--warmup", "0"]
            ] {
                let run = try Self.run([command[0], "spec.yaml"] + command.dropFirst(), in: directory)
                #expect(run.status == 0 && run.stderr == warning, "\(command)")
            }
            // JSON carries it too, a comparison on each side.
            let json = try Self.run(["compare", "spec.yaml", "spec.yaml", "--format", "json"], in: directory)
            #expect(json.stdout.components(separatedBy: "fewer than two convolutions").count == 3)
        }
    }

    /// A spec that is not UTF-8 is located where its bytes go wrong (columns in characters: the 'é' is
    /// one), and an included one also where it is named.
    @Test func invalidUTF8IsLocated() throws {
        try Self.withScratchDirectory { directory in
            let bytes = Array("network: d\ninput: [3, 8, 8]\n# é ".utf8) + [0xC3, 0x28] + Array("\nstem: [relu]\n".utf8)
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/spec.yaml"))
            try "include: spec.yaml\n".write(toFile: directory + "/main.yaml", atomically: true, encoding: .utf8)
            let result = try Self.run(["check", "spec.yaml"], in: directory)
            let message = "error: cannot read 'spec.yaml': the bytes here are not UTF-8 text"
            #expect(result.status == 1)
            #expect(result.stderr == "spec.yaml:3:5: \(message)\n")
            let included = try Self.run(["check", "main.yaml"], in: directory)
            #expect(included.status == 1)
            #expect(included.stderr == "spec.yaml:3:5: \(message)\nmain.yaml:1:10: note: 'spec.yaml' is named here\n")
        }
    }

    /// No output replaces a file the command read: `init spec.yaml -o spec.yaml` wrote weights over the spec.
    @Test func outputsNeverReplaceInputs() throws {
        try Self.withScratchDirectory { directory in
            // (Named without an extension: `init -o x.yaml` is refused by its name before this.)
            let spec = directory + "/spec", text = "input: [3, 8, 8]\nstem: [{conv: {out: 4, kernel: 3}}, relu]\n"
            try text.write(toFile: spec, atomically: true, encoding: .utf8)
            for arguments in [["init", spec, "-o", spec], ["export", spec, "-o", spec, "--format", "torch"]] {
                let result = try Self.run(arguments)
                #expect(result.status == 1)
                #expect(
                    result.stderr
                        == "\(spec):1:1: error: cannot write '\(spec)': it is an input of this command; choose another output path\n"
                )
                #expect(try String(contentsOfFile: spec, encoding: .utf8) == text)
            }
            // (Named without an extension: `.safetensors` is refused as a name for outputs before this.)
            #expect(try Self.run(["init", spec, "-o", directory + "/weights"]).status == 0)
            let again = try Self.run([
                "run", spec, "--weights", directory + "/weights", "--output", directory + "/weights"
            ])
            #expect(again.status == 1)
            #expect(again.stderr.hasSuffix("it is an input of this command; choose another output path\n"))
        }
    }

    /// A file read and then deleted is no longer an input, though a new file may take its inode: the
    /// suite's own in-process reads once made an unrelated output "an input of this command".
    @Test func deletedInputsFreeTheirInodes() throws {
        try Self.withScratchDirectory { directory in
            func inode(_ path: String) -> UInt64 {
                var status = stat()
                return stat(path, &status) == 0 ? UInt64(status.st_ino) : 0
            }
            let input = directory + "/input.bin", output = directory + "/output.bin"
            var reused = false
            // The file system usually hands the freed inode to the next file at once (ext4, tmpfs).
            for _ in 0..<20 where !reused {
                try Data("read".utf8).write(to: URL(fileURLWithPath: input))
                _ = try InputFiles.readAll(input)
                let freed = inode(input)
                unlink(input)
                try Data("old".utf8).write(to: URL(fileURLWithPath: output))
                reused = inode(output) == freed
                if !reused { unlink(output) }
            }
            try OutputFile.write(Array("new".utf8), to: output)
            #expect(try String(contentsOfFile: output, encoding: .utf8) == "new")
            // The input itself, still there, is refused.
            try Data("read".utf8).write(to: URL(fileURLWithPath: input))
            _ = try InputFiles.readAll(input)
            #expect(throws: CompileFailure.self) { try OutputFile.write(Array("new".utf8), to: input) }
        }
    }

    /// Every reader (spec, weights, plan, input array) refuses what is not a regular file, in the same
    /// words: a pipe as weights or plan once blocked the command for good, and a directory as weights
    /// was "the file is 9223372036854775807 bytes".
    @Test func readersRefuseWhatIsNotARegularFile() throws {
        try Self.withScratchDirectory { directory in
            let pipe = directory + "/pipe", folder = directory + "/folder.npy"
            #expect(mkfifo(pipe, 0o600) == 0)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            let spec = "Examples/1-custom-block.yaml"
            for (path, reason) in [
                (pipe, "is not a regular file (a device, pipe or socket)"),
                ("/dev/zero", "is not a regular file (a device, pipe or socket)"),
                (folder, "is a directory"), (directory + "/none.npy", "no such file"),
                ("", "the path is empty; expected a file name")
            ] {
                for arguments in [
                    ["check", path], ["run", spec, "--weights", path], ["run", path], ["bench", path],
                    ["run", spec, "--input", path]
                ] {
                    let result = try Self.run(arguments)
                    #expect(result.status == 1, "\(arguments)")
                    let at = path.isEmpty ? "<command line: ''>" : path
                    #expect(result.stderr == "\(at):1:1: error: cannot read '\(path)': \(reason)\n", "\(arguments)")
                }
            }
        }
    }

    /// A batch whose images and outputs do not fit in memory is refused before they are made (16384 x
    /// 16384 x 3 at a batch of 4096, 26 TB): the allocation aborted `run` and `bench`.
    @Test func batchesBeyondMemoryAreRefused() throws {
        try Self.withScratchDirectory { directory in
            let spec = directory + "/big.yaml"
            try "network: big\ninput: [3, 16384, 16384]\nstem: [relu]\n".write(
                toFile: spec, atomically: true, encoding: .utf8)
            for command in [["run", spec], ["bench", spec, "--runs", "1", "--warmup", "0"]] {
                let result = try Self.run(command + ["--batch", "4096"])
                #expect(result.status == 1, "\(command)")
                #expect(
                    result.stderr
                        == "\(spec):1:1: error: cannot allocate 26388279066624 bytes for the images and outputs of a batch of 4096; this machine has too little free memory\n"
                )
            }
        }
    }

    /// A tensor the 32-bit kernels cannot index is refused before anything is allocated, where it
    /// would have trapped after allocating (a 50000 x 50000 input: 2.5e9 values), at the layer that
    /// makes it (it was at 1:1).
    @Test func tensorsBeyondTheKernelsAreRefused() throws {
        try Self.withScratchDirectory { directory in
            let spec = directory + "/huge.yaml", padded = directory + "/padded.yaml"
            try "input: [1, 50000, 50000]\nstem: [{conv: {out: 1, kernel: 1}}]\n".write(
                toFile: spec, atomically: true, encoding: .utf8)
            try
                "input: [1, 45000, 45000]\nstem:\n  - relu\n  - conv: {out: 1, kernel: 1, pad: 1024}\n  - maxpool: {kernel: 2}\n"
                .write(
                    toFile: padded, atomically: true, encoding: .utf8)
            for command in ["run", "bench"] {
                let result = try Self.run([command, spec])
                #expect(result.status == 1)
                #expect(
                    result.stderr
                        == "\(spec):1:8: error: 'input' holds 2500000000 values per image; the CPU kernels run tensors of at most 2147483647 (32-bit indices)\n"
                )
                let layer = try Self.run([command, padded])
                #expect(layer.status == 1)
                #expect(
                    layer.stderr
                        == "\(padded):4:5: error: 'stem.conv1' holds 2213514304 values per image; the CPU kernels run tensors of at most 2147483647 (32-bit indices)\n"
                )
            }
        }
    }

    @Test func badUsageExitsLikeArgumentParser() throws {
        let malformed = try Self.run(["compile", "Architectures/imagenet/resnet-18.yaml", "--set", "classes"])
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("--set expects name=value"))
        let format = try Self.run(["compile", "Architectures/imagenet/resnet-18.yaml", "--format", "yaml"])
        #expect(format.status == 64)
        let noSpec = try Self.run(["compile"])
        #expect(noSpec.status == 64)
        // A negative number is a value out of range, not a missing one; a count has an upper bound.
        for (arguments, message) in [
            (["run", "Examples/1-custom-block.yaml", "--threads", "-1"], "--threads must be between 1 and 256"),
            (
                ["bench", "Examples/1-custom-block.yaml", "--runs", "100000000000"],
                "--runs must be between 1 and 1000000"
            ),
            (["bench", "Examples/1-custom-block.yaml", "--warmup", "-2"], "--warmup must be between 0 and 1000000"),
            // (swift-argument-parser printed the general help and exited 0.)
            (
                ["help", "compil"],
                "'sharesc help' knows no command 'compil' (the commands are check, compile, compare, graph, init, export, run, bench); did you mean 'compile'?"
            ),
            // An output named for another kind of file (a plan was written as `model.onnx`).
            (
                ["compile", "Examples/1-custom-block.yaml", "-o", "/tmp/never.onnx"],
                "-o writes an executable plan; '.onnx' names another kind of file (sharesc export writes ONNX): name it .plan"
            ),
            (
                ["init", "Examples/1-custom-block.yaml", "-o", "/tmp/never.yaml"],
                "-o writes a weights file; '.yaml' names another kind of file (a spec): name it .safetensors"
            ),
            (
                ["run", "Examples/1-custom-block.yaml", "--output", "/tmp/never.TXT"],
                "--output writes a NumPy file; '.txt' names another kind of file (a text file): name it .npy"
            ),
            // (It said "2 unexpected arguments: 'compil', 'x.yaml'".)
            (
                ["compil", "x.yaml"],
                "'compil' is no command (the commands are check, compile, compare, graph, init, export, run, bench); did you mean 'compile'?"
            ),
            (
                ["x.yaml"],
                "'x.yaml' is no command (the commands are check, compile, compare, graph, init, export, run, bench); to compile a spec: sharesc compile x.yaml"
            )
        ] {
            let outOfRange = try Self.run(arguments)
            #expect(outOfRange.status == 64)
            #expect(outOfRange.stderr.hasPrefix("Error: \(message)\n"), "\(arguments)")
        }
        let help = try Self.run(["compare", "--help"])
        #expect(help.status == 0 && help.stdout.contains("Examples:"))
    }

    @Test func perLayerTable() throws {
        let text = try Self.run(["compile", "Examples/2-tie-group.yaml", "--per-layer"])
        #expect(text.status == 0 && text.stderr == "")
        #expect(text.stdout.contains("\nPer layer\n"))
        #expect(
            text.stdout.contains(
                "  stage1.block2.conv2           conv            64x32x32           0   36,864   37,748,736  trunk"))
        let json = try Self.run([
            "compile", "Examples/2-tie-group.yaml", "--per-layer", "--per-layer-depth", "2", "--format", "json"
        ])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let table = try #require(report["per_layer"] as? [String: Any])
        #expect(table["depth"] as? Int == 2)
        #expect(
            (table["rows"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.prefix(4) == [
                "stem.conv1", "stem.bn1", "stem.relu1", "stage1.block1"
            ])
        // Refused where nothing would print it, and at a depth that does not exist.
        let refused = [
            (["--per-layer-depth", "2"], "--per-layer-depth applies to --per-layer"),
            (
                ["--per-layer", "--emit", "graph"],
                "--per-layer adds a table to the report; --emit graph prints no report"
            ),
            (["--per-layer", "-o", "/tmp/unused.plan"], "--per-layer adds a table to the report; -o writes a plan"),
            (["--per-layer", "--per-layer-depth", "4"], "Please provide one of '1', '2' or '3'")
        ]
        for (arguments, message) in refused {
            let result = try Self.run(["compile", "Examples/2-tie-group.yaml"] + arguments)
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments)")
        }
    }

    @Test func memoryAtABatch() throws {
        let text = try Self.run(["compile", "Examples/2-tie-group.yaml", "--batch", "4"])
        #expect(text.status == 0 && text.stderr == "")
        #expect(text.stdout.contains("\nMemory at batch 4 (float32)\n"))
        let json = try Self.run(["compile", "Examples/2-tie-group.yaml", "--batch", "4", "--format", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let memory = try #require(report["memory"] as? [String: Any])
        #expect(memory["batch"] as? Int == 4)
        let plain = try Self.run(["compile", "Examples/2-tie-group.yaml", "--format", "json"])
        #expect(plain.status == 0 && !plain.stdout.contains("\"memory\""))
        // Refused where nothing would print it, and outside its range.
        let refused = [
            (["--batch", "4", "--emit", "memory"], "--batch adds memory to the report; --emit memory prints no report"),
            (["--batch", "4", "-o", "/tmp/unused.plan"], "--batch adds memory to the report; -o writes a plan"),
            (["--batch", "0"], "--batch must be between 1 and 1048576")
        ]
        for (arguments, message) in refused {
            let result = try Self.run(["compile", "Examples/2-tie-group.yaml"] + arguments)
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments)")
        }
    }

    /// Every `--format` value that a command's help lists works for that command, and every option's help
    /// states its default at most once.
    @Test func helpListsWhatWorks() throws {
        let spec = "Architectures/cifar/resnet-56.yaml"
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-format-\(getpid()).out")
            .path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let runs: [String: [String]] = [
            "compile": ["compile", spec], "compare": ["compare", spec],
            "bench": ["bench", spec, "--set", "depth=8", "--runs", "1", "--warmup", "0"],
            "export": ["export", spec, "-o", output]
        ]
        for command in ["check", "compile", "compare", "graph", "init", "export", "run", "bench"] {
            let help = try Self.run(["help", command])
            #expect(help.status == 0, "\(command)")
            // Options start a line with "  -"; their help continues on the lines indented under them.
            let options = help.stdout.components(separatedBy: "\n  -").dropFirst().map {
                $0.components(separatedBy: "\n\n")[0].split(whereSeparator: \.isWhitespace).joined(separator: " ")
            }
            for option in options {
                #expect(option.components(separatedBy: "default").count <= 2, "\(command): \(option)")
            }
            guard let format = options.first(where: { $0.hasPrefix("-format") }) else {
                #expect(runs[command] == nil, "\(command) has no --format")
                continue
            }
            let values = try #require(format.firstMatch(of: /values: ([a-z, ]+)/)?.1)
            for value in values.split(separator: ", ") {
                let result = try Self.run(try #require(runs[command]) + ["--format", String(value)])
                #expect(result.status == 0, "\(command) --format \(value): \(result.stderr)")
            }
        }
    }

    /// Help printed to a pipe wraps at 80 columns, and an example wrapped by the printer would paste as a
    /// broken command: each example fits, or goes on over lines that end in a backslash.
    @Test func helpExamplesFitEightyColumns() throws {
        for command in ["", "check", "compile", "compare", "graph", "init", "export", "run", "bench"] {
            let help = try Self.run(command.isEmpty ? ["help"] : ["help", command])
            let examples = try #require(help.stdout.components(separatedBy: "Examples:\n").dropFirst().first)
            let lines = examples.components(separatedBy: "\n\n")[0].split(separator: "\n")
            #expect(!lines.isEmpty, "\(command)")
            for (index, line) in lines.enumerated() {
                let continued = index > 0 && lines[index - 1].hasSuffix(" \\")
                #expect(line.hasPrefix(continued ? "    " : "  sharesc "), "\(command): \(line)")
                #expect(line.count <= 80, "\(command): \(line)")
            }
        }
    }

    @Test func compareVariantsExampleRuns() throws {
        let result = try Self.run(["Architectures"], executable: "compare-variants")
        #expect(result.status == 0)
        #expect(result.stdout.contains("sharesnet-152    36821032    60192808    39%"))
        #expect(result.stdout.contains("B has 3,096,576 fewer parameters than A"))
    }
}

/// `init` and `export` through the binary.
struct WeightCLITests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "sharesc-cli-\(getpid())-\(UUID().uuidString)")

    @Test func initThenExportFromTheFile() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("w.safetensors").path
        let model = directory.appendingPathComponent("m.onnx").path
        let initialized = try CLITests.run([
            "init", "Architectures/cifar/sharesnet-164.yaml", "--set", "depth=29", "-o", weights, "--seed", "4"
        ])
        #expect(initialized.status == 0)
        // 312,218 sequential (worked out by hand) less 9 x (16² + 32² + 64²) for the three two-use ties.
        #expect(initialized.stdout == "\(weights): 142 tensors, 263,834 parameters + 4,064 buffers, 3 tied\n")
        let exported = try CLITests.run([
            "export", "Architectures/cifar/sharesnet-164.yaml", "--set", "depth=29", "-o", model, "--weights", weights
        ])
        #expect(exported.status == 0)
        #expect(exported.stdout == "\(model): 142 initializers (3 tied), 263,834 parameters, opset 17\n")
        // The shared weights do not fit the sequential variant: every missing per-use tensor is named.
        let mismatch = try CLITests.run([
            "export", "Architectures/cifar/sharesnet-164.yaml", "--set", "depth=29", "--sequential",
            "-o", model, "--weights", weights
        ])
        #expect(mismatch.status == 1)
        // First, what the file holds and what to do (the file's metadata says which network sharesc wrote it for).
        #expect(
            mismatch.stderr.hasPrefix(
                "\(weights):1:1: error: the file holds the weights of the shared variant of 'sharesnet-164', and this is its sequential variant; leave out --sequential\n"
            ))
        #expect(
            mismatch.stderr.contains(
                "\(weights):1:1: error: missing tensor 'stage1.block2.conv2.weight' of shape [16, 16, 3, 3]"))
        #expect(
            mismatch.stderr.contains(
                "\(weights):1:1: error: tensor 'stage1.shared.conv2.weight' is not a parameter of this network"))
    }

    /// Weights sharesc wrote for another network say so first: which network and variant the file holds.
    @Test func weightsOfAnotherNetworkSaySo() throws {
        let weights = NSTemporaryDirectory() + "other-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: weights) }
        #expect(try CLITests.run(["init", "Examples/1-custom-block.yaml", "-o", weights]).status == 0)
        let run = try CLITests.run(["run", "Examples/2-tie-group.yaml", "--weights", weights])
        #expect(run.status == 1)
        #expect(
            run.stderr.hasPrefix(
                "\(weights):1:1: error: the file holds the weights of 'resnext-cifar' (shared), not of 'isotropic-trunk'\n"
            ))
        let sequential = try CLITests.run(["init", "Examples/2-tie-group.yaml", "--sequential", "-o", weights])
        #expect(sequential.status == 0)
        let shared = try CLITests.run(["run", "Examples/2-tie-group.yaml", "--weights", weights])
        #expect(
            shared.stderr.hasPrefix(
                "\(weights):1:1: error: the file holds the weights of the sequential variant of 'isotropic-trunk', and this is its shared variant; add --sequential\n"
            ))
    }

    @Test func weightErrorsAndUsage() throws {
        let missing = try CLITests.run([
            "export", "Architectures/cifar/resnet-56.yaml", "-o", "/tmp/never.onnx", "--weights", "/no/such.safetensors"
        ])
        #expect(missing.status == 1)
        #expect(missing.stderr == "/no/such.safetensors:1:1: error: cannot read '/no/such.safetensors': no such file\n")
        let both = try CLITests.run([
            "export", "Architectures/cifar/resnet-56.yaml", "-o", "/tmp/never.onnx", "--weights", "w", "--seed", "1"
        ])
        #expect(both.status == 64)
        let noOutput = try CLITests.run(["init", "Architectures/cifar/resnet-56.yaml"])
        #expect(noOutput.status == 64)
        let unwritable = try CLITests.run([
            "init", "Architectures/cifar/resnet-56.yaml", "-o", "/no/such/dir/w.safetensors"
        ])
        #expect(unwritable.status == 1)
        #expect(
            unwritable.stderr.hasPrefix(
                "/no/such/dir/w.safetensors:1:1: error: cannot write '/no/such/dir/w.safetensors'"))
    }
}

/// `compile -o`, `run` and `bench` through the binary, on a small network.
struct RunCLITests {
    let spec = "Architectures/cifar/resnet-56.yaml"
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "sharesc-run-\(getpid())-\(UUID().uuidString)")

    @Test func runPrintsTopFiveAndWritesNumPy() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let printed = try CLITests.run(["run", spec, "--set", "depth=8", "--batch", "2", "--threads", "2"])
        #expect(printed.status == 0)
        let lines = printed.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("image 0: ") && lines[0].split(separator: ",").count == 5)

        // The same input through a plan file gives the same outputs, on the threads it was scheduled for
        // and on others.
        let plan = directory.appendingPathComponent("r8.plan").path
        let compiled = try CLITests.run(["compile", spec, "--set", "depth=8", "-o", plan, "--threads", "2"])
        #expect(compiled.status == 0 && compiled.stdout.hasPrefix("\(plan): 13 steps, "))
        for threads in [[], ["--threads", "1"], ["--threads", "3"]] {
            let fromPlan = try CLITests.run(["run", plan, "--batch", "2"] + threads)
            #expect(fromPlan.stdout == printed.stdout, "\(threads)")
        }

        let output = directory.appendingPathComponent("y.npy").path
        let written = try CLITests.run(["run", plan, "--batch", "3", "--output", output])
        #expect(written.stdout == "\(output): 3 x 10 float32\n")
        let (shape, values) = try NumPyFile.read(output)
        #expect(shape == [3, 10] && values.allSatisfy(\.isFinite))
    }

    /// Specs and plans are told apart by name (.yaml, .yml, .plan), else by content: a spec under
    /// another name runs as a spec, a plan under another name as a plan, and `compile` given a plan
    /// says what it is. Outputs without a classifier are written and reported in their real shape.
    @Test func specsAndPlansAreRecognisedByContent() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = directory.appendingPathComponent("net.txt").path
        try "network: z\ninput: [1, 5, 7]\nstem: [relu]\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("z.npy").path
        let ran = try CLITests.run(["run", spec, "--output", output])
        #expect(ran.status == 0 && ran.stdout == "\(output): 1 x 1 x 5 x 7 float32\n", "\(ran)")
        #expect(try NumPyFile.read(output).shape == [1, 1, 5, 7])
        // Printed, such an output names its largest values by channel, row and column, not by their
        // index in the flattened map.
        let values = try NumPyFile.read(output).values
        let largest = try #require(values.indices.max { values[$0] < values[$1] })
        let printed = try CLITests.run(["run", spec])
        #expect(
            printed.stdout.hasPrefix(
                "largest values of each image's 1 x 5 x 7 output, at [channel, row, column]\n"
                    + "image 0: [0, \(largest / 7), \(largest % 7)] ("))

        let plan = directory.appendingPathComponent("net.bin").path
        #expect(try CLITests.run(["compile", spec, "-o", plan]).status == 0)
        let fromPlan = try CLITests.run(["run", plan, "--output", output])
        #expect(fromPlan.status == 0 && fromPlan.stdout == ran.stdout, "\(fromPlan)")
        // Whatever its name says: a plan named .yaml was read as a spec, and refused as a plan.
        let misnamed = directory.appendingPathComponent("net.yaml").path
        try FileManager.default.copyItem(atPath: plan, toPath: misnamed)
        let fromMisnamed = try CLITests.run(["run", misnamed, "--output", output])
        #expect(fromMisnamed.status == 0 && fromMisnamed.stdout == ran.stdout, "\(fromMisnamed)")
        let compiled = try CLITests.run(["compile", plan])
        #expect(compiled.status != 0)
        #expect(
            compiled.stderr.contains(
                "cannot read '\(plan)': a plan or weights file (safetensors), not a spec; `run` and `bench` take plans"
            ), "\(compiled.stderr)")
        // The outputs and an ONNX export, handed over as the network, are named (they were "not UTF-8 text"
        // at some byte).
        let onnx = directory.appendingPathComponent("net.onnx").path
        #expect(try CLITests.run(["export", spec, "-o", onnx]).status == 0)
        for (file, kind) in [
            (output, "a NumPy array (.npy), not a spec; `run --input` takes images as one"),
            (onnx, "an ONNX model, not a spec; sharesc reads a network from a spec (.yaml) or a plan (compile -o)")
        ] {
            let misused = try CLITests.run(["run", file])
            #expect(misused.status == 1 && misused.stderr == "\(file):1:1: error: cannot read '\(file)': \(kind)\n")
        }
    }

    /// The four findings of the run-path fuzzing, end to end: a plan whose declared shapes disagree with
    /// its program is refused (it read past the input, or trapped on the output); logits of any size,
    /// infinite or NaN print (formatting trapped from about 9.2e14); NaN in the input comes out as NaN
    /// (ReLU and max dropped it), with a warning on standard error and exit status 0.
    @Test func runSurvivesHostilePlansAndNonFiniteValues() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let plan = directory.appendingPathComponent("r8.plan").path,
            bad = directory.appendingPathComponent("bad.plan").path
        #expect(try CLITests.run(["compile", spec, "--set", "depth=8", "-o", plan]).status == 0)
        let (document, reader) = try PlanFile.read(plan)
        for (field, change) in [
            (
                "input_shape is 3x64x64",
                { (d: inout PlanDocument) in d.inputShape = .image(channels: 3, height: 64, width: 64) }
            ),
            ("output_shape is 1000", { (d: inout PlanDocument) in d.outputShape = Shape([1000]) })
        ] {
            var damaged = document
            change(&damaged)
            try PlanFile.write(damaged, weights: reader, to: bad)
            let refused = try CLITests.run(["run", bad, "--output", directory.appendingPathComponent("y.npy").path])
            #expect(refused.status == 1 && refused.stdout.isEmpty)
            #expect(
                refused.stderr.hasPrefix("\(bad):1:1: error: damaged plan: \(field), but the program's "),
                "\(refused.stderr)")
        }

        // Logits of 1e20, +inf and NaN, through the classifier's bias.
        let graph = try compileShipped("cifar/resnet-56.yaml", overrides: ["depth=8"]).graph
        var weights = WeightInitializer.initialize(graph)
        let bias = graph.parameters.first { $0.name == "head.fc1.bias" }!
        weights[bias.id][0...2] = [1e20, .infinity, .nan]
        let weightsPath = directory.appendingPathComponent("w.safetensors").path
        try WeightFile.write(graph, weights, to: weightsPath)
        let huge = try CLITests.run(["run", spec, "--set", "depth=8", "--weights", weightsPath, "--batch", "2"])
        #expect(huge.status == 0)
        #expect(huge.stdout.hasPrefix("image 0: 2 (nan), 1 (inf), 0 (1.0000e+20), "), "\(huge.stdout)")
        #expect(
            huge.stderr
                == "warning: 2 NaN and 2 infinite of 20 output values, in images 0, 1 of 2: the weights or the input hold NaN or infinity, or the activations overflowed\n"
        )

        let input = directory.appendingPathComponent("x.npy").path,
            output = directory.appendingPathComponent("y.npy").path
        var images = [Float](repeating: 0.5, count: 2 * 3 * 32 * 32)
        images[3 * 32 * 32 + 100] = .nan  // one pixel of image 1
        try NumPyFile.write(images, shape: [2, 3, 32, 32], to: input)
        let nan = try CLITests.run(["run", plan, "--input", input, "--output", output])
        #expect(
            nan.status == 0 && nan.stderr.contains("10 NaN and 0 infinite of 20 output values, in image 1 of 2"),
            "\(nan.stderr)")
        let (_, logits) = try NumPyFile.read(output)
        #expect(logits[0..<10].allSatisfy(\.isFinite) && logits[10..<20].allSatisfy(\.isNaN))
    }

    @Test func runErrors() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("x.npy").path
        try NumPyFile.write([Float](repeating: 0, count: 2 * 3 * 16 * 16), shape: [2, 3, 16, 16], to: input)
        let wrongShape = try CLITests.run(["run", spec, "--set", "depth=8", "--input", input])
        #expect(wrongShape.status == 1)
        #expect(
            wrongShape.stderr
                == "\(input):1:1: error: input has shape [2, 3, 16, 16]; the network expects [N, 3, 32, 32] with N >= 1, or [3, 32, 32]\n"
        )
        // A file named .plan is read as a plan; one named otherwise, that does not open like a plan, as a spec.
        let notAPlan = directory.appendingPathComponent("notes.plan").path
        try "network: z\n".write(toFile: notAPlan, atomically: true, encoding: .utf8)
        let plan = try CLITests.run(["run", notAPlan])
        #expect(plan.status == 1 && plan.stderr.hasPrefix("\(notAPlan):1:1: error: not a valid safetensors file"))
        let markdown = try CLITests.run(["run", "README.md"])
        #expect(markdown.status == 1 && markdown.stderr.hasPrefix("README.md:"))
        #expect(markdown.stderr.contains(": error: YAML syntax error"))
        let planWithSeed = try CLITests.run(["run", "some.plan", "--seed", "3"])
        #expect(planWithSeed.status == 64)
        // What would be ignored is refused: a plan's batchnorm is its own; a listing needs the profile.
        let planWithBatchNorm = try CLITests.run(["bench", "some.plan", "--randomize-bn"])
        #expect(planWithBatchNorm.status == 64 && planWithBatchNorm.stderr.contains("--randomize-bn"))
        let stepsUnprofiled = try CLITests.run(["bench", spec, "--profile-steps", "3"])
        #expect(
            stepsUnprofiled.status == 64
                && stepsUnprofiled.stderr.contains("--profile-steps lists the steps --profile times"))
        let zeroThreads = try CLITests.run(["bench", spec, "--threads", "0"])
        #expect(zeroThreads.status == 64)
        // The input file sets the batch (--batch was ignored).
        let batchWithInput = try CLITests.run(["run", spec, "--input", "x.npy", "--batch", "4"])
        #expect(
            batchWithInput.status == 64
                && batchWithInput.stderr.contains("--batch sizes the generated input; with --input, the file's"))
    }

    @Test func benchReportsTheDocumentedKeys() throws {
        let result = try CLITests.run([
            "bench", spec, "--set", "depth=8", "--runs", "2", "--warmup", "1", "--format", "json"
        ])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in [
            "median_ms", "min_ms", "max_ms", "gflops", "arena_bytes", "packed_weight_bytes", "peak_rss_bytes",
            "images_per_second"
        ] {
            #expect(json[key] != nil, "\(key)")
        }
        #expect((json["arena_bytes"] as? Int ?? 0) >= (json["arena_lower_bound_bytes"] as? Int ?? .max))
    }

    @Test func benchProfileListsSteps() throws {
        let result = try CLITests.run(["bench", spec, "--set", "depth=8", "--runs", "2", "--profile"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.hasPrefix("steps by time") })
        let algorithms = try #require(lines.firstIndex { $0 == "by algorithm:" })
        // All 13 steps of resnet-56 at depth 8, the slowest first; convolutions carry their GFLOP/s.
        #expect(algorithms - header - 1 == 13)
        #expect(
            lines[(header + 1)..<algorithms].contains {
                $0.contains("GFLOP/s") && $0.contains("conv.igemm-3x3/1+bn+relu")
                    && $0.contains("stage1.block1.conv1+bn1+relu1")
            })
        // Then the time per algorithm, every step counted once: "  1.234 ms  56.7%  2 x winograd-f4x4",
        // as many of each as the plan has.
        let counts = lines[(algorithms + 1)...].map { line -> (String, Int) in
            let fields = line.split(separator: " ")
            return (String(fields[fields.count - 1]), Int(fields[fields.count - 3]) ?? 0)
        }
        let plan = try CLITests.run(["compile", spec, "--set", "depth=8", "--emit", "plan", "--format", "json"])
        let planned = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let steps = try #require(planned["steps"] as? [[String: Any]])
        let plannedCounts = Dictionary(steps.map { ($0["algorithm"] as? String ?? "?", 1) }, uniquingKeysWith: +)
        #expect(Dictionary(counts, uniquingKeysWith: +) == plannedCounts)
        #expect(
            plannedCounts["igemm"] == 5 && plannedCounts["winograd-f4x4"] == 1 && plannedCounts["winograd-f2x2"] == 1)

        // --profile-steps limits the listing to the slowest few; a negative count is refused.
        let three = try CLITests.run([
            "bench", spec, "--set", "depth=8", "--runs", "1", "--profile", "--profile-steps", "3"
        ])
        let threeLines = three.stdout.split(separator: "\n")
        let threeHeader = try #require(threeLines.firstIndex { $0.hasPrefix("steps by time") })
        #expect(threeLines.firstIndex { $0 == "by algorithm:" } == threeHeader + 4)
        let negative = try CLITests.run(["bench", spec, "--profile", "--profile-steps", "-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--profile-steps"))
    }

    /// What `compile --emit plan` says each step runs by is what `bench --profile` timed it running by,
    /// step by step (each profiled step is named as the plan names it).
    @Test func profileRunsWhatThePlanSays() throws {
        func steps(_ arguments: [String]) throws -> [[String]] {
            let result = try CLITests.run(arguments + ["--set", "depth=8", "--threads", "2", "--format", "json"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let steps = try #require(json["steps"] as? [[String: Any]])
            return steps.map { step in ["name", "algorithm", "kernel", "split"].map { step[$0] as? String ?? "?" } }
        }
        let planned = try steps(["compile", spec, "--emit", "plan"])
        #expect(planned.count == 13)
        #expect(try steps(["bench", spec, "--runs", "1", "--warmup", "0", "--profile"]) == planned)
    }

    /// Every stage prints as text and as JSON; markdown is the report's alone, and asking for it
    /// elsewhere is an error, not silently text.
    @Test func emitStages() throws {
        let prefixes = [
            "spec": "# resolved from Architectures/cifar/resnet-56.yaml", "graph": "graph \"resnet-56\"",
            "fused": "program \"resnet-56\"",
            "memory": "memory for batch 1", "plan": "plan \"resnet-56\" untied, 2 threads", "report": "resnet-56"
        ]
        for (stage, prefix) in prefixes.sorted(by: { $0.key < $1.key }) {
            let threads = stage == "plan" ? ["--threads", "2"] : []
            let text = try CLITests.run(["compile", spec, "--set", "depth=8", "--emit", stage] + threads)
            #expect(text.status == 0 && text.stdout.hasPrefix(prefix) && !text.stdout.isEmpty, "\(stage)")
            let json = try CLITests.run(
                ["compile", spec, "--set", "depth=8", "--emit", stage, "--format", "json"] + threads)
            #expect(json.status == 0, "\(stage) json")
            #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) is [String: Any], "\(stage) json")
            let markdown = try CLITests.run([
                "compile", spec, "--set", "depth=8", "--emit", stage, "--format", "markdown"
            ])
            if stage == "report" {
                #expect(markdown.status == 0)
            } else {
                #expect(
                    markdown.status != 0
                        && markdown.stderr.contains("--emit \(stage) prints text or json, not markdown"))
            }
        }
        // Flags that what is asked for would not use are refused, each with what it applies to.
        let refused = [
            (
                ["-o", "/tmp/unused.plan", "--format", "json"],
                "-o writes a plan file; --emit and --format choose what to print"
            ),
            (["--emit", "graph", "--threads", "2"], "--threads applies to --emit plan and -o"),
            (["--seed", "3"], "--weights, --seed and --randomize-bn give the weights of a plan file (-o)")
        ]
        for (arguments, message) in refused {
            let result = try CLITests.run(["compile", spec] + arguments)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments)")
        }
    }
}
