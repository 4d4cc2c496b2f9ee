import Foundation

/// Writes a command's output file (a plan, weights, an export, an array), or fails with an error at
/// the path that says why: "is a directory" or "no such directory", where Foundation says only that the
/// write failed or that "the file doesn't exist".
public enum OutputFile {
    public static func write(_ bytes: some Sequence<UInt8>, to path: String) throws(CompileFailure) {
        var status = stat()
        let directory = (path as NSString).deletingLastPathComponent
        let reason: String
        if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            reason = "is a directory"
        } else if !directory.isEmpty, stat(directory, &status) != 0 || status.st_mode & S_IFMT != S_IFDIR {
            reason = "no such directory '\(directory)'"
        } else {
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                return
            } catch {
                reason = Paths.reason(error)
            }
        }
        throw CompileFailure(
            Diagnostic(at: Location(file: path, line: 1, column: 1), .cannotWrite(path: path, reason: reason)))
    }
}
