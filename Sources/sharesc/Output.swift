import Foundation

/// Diagnostics go to standard error so that standard output holds only the requested document.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Writes a finished document to standard output at once.
func emit(_ text: String) {
    print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
}
