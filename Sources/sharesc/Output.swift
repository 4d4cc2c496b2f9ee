import Foundation

/// Diagnostics go to standard error so that standard output holds only the requested document.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Writes a finished document to standard output at once. A failed write (a full disk, a closed
/// standard output) is an error, not a success with the document lost.
func emit(_ text: String) {
    var bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)[...]
    while !bytes.isEmpty {
        let count = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            printError("error: cannot write to standard output: \(String(cString: strerror(errno)))")
            exit(1)
        }
        bytes = bytes.dropFirst(count)
    }
}
