import ArgumentParser
import Foundation
import SharesCompiler

/// Diagnostics go to standard error so that standard output holds only the requested document. A
/// standard error that cannot be written (/dev/full, closed) loses them, not the command, whose exit
/// status still tells (FileHandle's write trapped).
func printError(_ text: String) {
    _ = OutputFile.writeAll(Array((text.hasSuffix("\n") ? text : text + "\n").utf8), toDescriptor: STDERR_FILENO)
}

/// A written file's one-line summary: on standard output, but on standard error where the file is
/// standard output itself (`-o /dev/stdout`), whose bytes the line would otherwise end.
func emitSummary(_ summary: String, of path: String) {
    if OutputFile.isStandardOutput(path) { printError(summary) } else { emit(summary) }
}

/// An output path as a summary names it: `-` is standard output.
func outputName(_ path: String) -> String {
    path == OutputFile.standardOutputPath ? "standard output" : path
}

/// Writes a finished document to standard output at once. A failed write (a full disk, a closed
/// standard output) is an error, not a success with the document lost.
func emit(_ text: String) {
    let bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
    if let reason = OutputFile.writeAll(bytes, toDescriptor: STDOUT_FILENO) {
        printError(
            "error: cannot write to standard output: \(OutputFile.standardOutputWasClosed ? "it is closed" : reason)")
        exit(1)
    }
}

/// Files other commands write, by extension, and the command that writes each: an output named for one
/// of them is refused where a command writes another kind (`compile -o model.onnx` wrote a plan).
private let writtenElsewhere: [String: String] = [
    "onnx": "sharesc export writes ONNX", "py": "sharesc export writes PyTorch source",
    "safetensors": "sharesc init writes weights", "npy": "sharesc run --output writes outputs",
    "plan": "sharesc compile -o writes plans", "yaml": "a spec", "yml": "a spec",
    "json": "--format json prints JSON", "dot": "sharesc graph draws pictures", "svg": "sharesc graph draws pictures",
    "png": "sharesc graph draws pictures", "pdf": "sharesc graph draws pictures", "txt": "a text file",
    "pt": "a PyTorch checkpoint", "pth": "a PyTorch checkpoint"
]

/// Refuses an output whose extension names another kind of file than `kind` (whose own is `own`, and
/// which may also be named by the extensions `alike`).
func refuseOtherKind(of path: String, option: String, writes kind: String, own: String, alike: Set<String> = [])
    throws
{
    let ext = (path as NSString).pathExtension.lowercased()
    guard ext != own, !alike.contains(ext), let other = writtenElsewhere[ext] else { return }
    throw ValidationError("\(option) writes \(kind); '.\(ext)' names another kind of file (\(other)): name it .\(own)")
}
