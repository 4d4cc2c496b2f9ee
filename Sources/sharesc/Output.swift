import Foundation
import SharesCompiler

/// Diagnostics go to standard error so that standard output holds only the requested document.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
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
        printError("error: cannot write to standard output: \(reason)")
        exit(1)
    }
}
