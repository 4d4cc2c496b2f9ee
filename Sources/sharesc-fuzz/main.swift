// Fuzz targets, one per reader of outside bytes. In the sanitized build (Fuzz/build.sh, for Fuzz/fuzz.sh),
// `sharesc-fuzz TARGET ...` hands the target to libFuzzer's driver. In an ordinary build,
// `sharesc-fuzz TARGET FILE...` feeds each file to the target once: how a finding is reproduced (and
// debugged) without the sanitizers.
import Foundation
import SharesCompiler

/// One reader: it must return normally, or throw a located `CompileFailure`, on any bytes; never trap,
/// hang or touch memory it does not own.
enum Target: String, CaseIterable {
    case spec, safetensors, npy, plan, planjson

    func run(_ bytes: [UInt8]) {
        switch self {
        case .spec: Self.spec(bytes)
        case .safetensors: _ = try? Safetensors.decode(bytes, path: "fuzz.safetensors")
        case .npy: _ = try? NumPyFile.decode(bytes, path: "fuzz.npy")
        case .plan: Self.plan(bytes)
        case .planjson: Self.planJSON(bytes)
        }
    }

    /// The spec language, with the shipped block library to include (the fuzzer's specs can extend it).
    static let library = (try? String(contentsOfFile: "Architectures/blocks.yaml", encoding: .utf8)) ?? ""

    static func spec(_ bytes: [UInt8]) {
        let source = SpecSource.memory(["spec.yaml": String(decoding: bytes, as: UTF8.self), "blocks.yaml": library])
        for sequential in [false, true] {
            guard
                let compilation = try? Compiler.compile(
                    "spec.yaml", options: CompileOptions(sequential: sequential, source: source))
            else { return }
            _ = compilation.report.rendered(as: .json)
        }
    }

    /// A plan file as it comes: read, verified, and run on one image when it is small enough.
    static func plan(_ bytes: [UInt8]) {
        guard FileManager.default.createFile(atPath: scratchFile, contents: Data(bytes)) else {
            fatalError("cannot write \(scratchFile)")
        }
        load()
    }

    /// Reads and verifies the plan in the scratch file, then runs one image of it if its activations and
    /// compute are small (the fuzzer's memory limit is its own: a large plan is the verifier's business,
    /// and allocating its arena is checked by the tests).
    static func load() {
        guard let (document, reader) = try? PlanFile.read(scratchFile) else { return }
        let program = document.program
        // (At most two threads: a plan's pieces, however many, run on them as they would on more.)
        guard document.memory.arenaBytes <= 64 << 20, program.macs <= 50_000_000, document.schedule.threads <= 2,
            let executor = try? Executor(plan: document.plan, weights: reader)
        else { return }
        let output = executor.run(RandomInput.images(program.values[program.input].elements, seed: 1), batch: 1)
        guard output.count == program.values[program.output].elements else { fatalError("\(output.count) outputs") }
    }

    /// A plan document as JSON, wrapped into a plan file with seeded weights of the shapes it declares:
    /// reaches the verifier and the executor with far fewer wasted inputs than raw plan bytes.
    static func planJSON(_ bytes: [UInt8]) {
        guard let document = try? JSONDecoder().decode(PlanDocument.self, from: Data(bytes)) else { return }
        var weights: [[Float]] = [], floats = 0
        for (index, parameter) in document.program.parameters.enumerated() {
            guard parameter.shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }),
                let count = Shape.checkedProduct(parameter.shape), count <= 1 << 18, floats + count <= 1 << 20
            else { return }
            floats += count
            weights.append(RandomInput.images(count, seed: UInt64(index)))
        }
        guard (try? PlanFile.write(document, weights: WeightStore(values: weights), to: scratchFile)) != nil else {
            return
        }
        load()
    }

    /// A file of this process's own in the RAM disk, overwritten by every input.
    static let scratchFile =
        (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
        + "/sharesc-fuzz-\(getpid()).plan"
}

// libFuzzer's driver, present in the sanitized build (Fuzz/build.sh links it and exports it to dlsym
// with --export-dynamic); absent from an ordinary build, which then replays files.
typealias Driver =
    @convention(c) (
        UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
nonisolated(unsafe) var fuzzTarget = Target.spec

/// One input from libFuzzer's driver.
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let target = Target(rawValue: name) else {
    FileHandle.standardError.write(
        Data(
            """
            usage: sharesc-fuzz TARGET [libFuzzer options and corpus folders]   (a fuzzing build: Fuzz/fuzz.sh)
                   sharesc-fuzz TARGET FILE...                                 (an ordinary build: replays the files)
            targets: \(Target.allCases.map(\.rawValue).joined(separator: ", "))

            """.utf8))
    exit(64)
}
fuzzTarget = target

if let symbol = dlsym(nil, "LLVMFuzzerRunDriver") {  // nil: RTLD_DEFAULT, every loaded object
    let driver = unsafeBitCast(symbol, to: Driver.self)
    // libFuzzer reads its own options and corpus folders: the arguments after the target's name.
    var argv = ([CommandLine.arguments[0]] + arguments.dropFirst()).map { strdup($0) } + [nil]
    var argc = CInt(argv.count - 1)
    let status = argv.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress
        return driver(&argc, &base) { data, size in fuzzOneInput(data, size) }
    }
    exit(status)
}

for path in arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("sharesc-fuzz: cannot read \(path)\n".utf8))
        exit(1)
    }
    target.run([UInt8](data))
}
print("sharesc-fuzz \(name): \(arguments.count - 1) inputs, no crash")
