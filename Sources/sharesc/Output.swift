import Foundation
import SharesCompiler

/// Diagnostics go to standard error so that standard output holds only the requested document.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
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
