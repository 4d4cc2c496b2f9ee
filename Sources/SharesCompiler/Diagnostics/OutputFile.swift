import Foundation

/// Writes a command's output file (a plan, weights, an export, an array), or fails with an error at
/// the path that says why ("is a directory", "no such directory", the system's reason), where
/// Foundation said only that the write failed or that "the file doesn't exist".
///
/// A regular file is written whole or not at all: to a temporary file beside it, then renamed over it,
/// so that a failed write (a full disk) leaves no truncated file and an existing one as it was. A path
/// that names something else (`/dev/stdout`, a pipe) is written in place. `-` is standard output,
/// as in most command-line tools (`sharesc export spec.yaml --format torch -o -`).
public enum OutputFile {
    public static let standardOutputPath = "-"
    /// Whether standard output was closed when the process started (the command-line tool holds its
    /// descriptor on /dev/full then): writing to `-` fails saying so, not with /dev/full's reason.
    nonisolated(unsafe) public static var standardOutputWasClosed = false

    public static func write(_ bytes: some Sequence<UInt8>, to path: String) throws(CompileFailure) {
        let data = Array(bytes)
        try write(to: path) { file throws(CompileFailure) in try file.append(data) }
    }

    /// Where `write(to:by:)` appends its chunks, in order.
    public struct Sink {
        fileprivate let descriptor: Int32
        fileprivate let failure: (String) -> CompileFailure

        /// Appends the elements' bytes as they are in memory (little-endian on x86-64 and arm64).
        public func append<Element: BitwiseCopyable>(_ elements: [Element]) throws(CompileFailure) {
            if let reason = elements.withUnsafeBytes({ writeAll($0, toDescriptor: descriptor) }) {
                throw failure(reason)
            }
        }
    }

    /// Writes the chunks that `produce` appends, without holding them all: a plan's or a weights file's
    /// tensors one at a time (all of them at once, then the file's bytes, needed twice the weights'
    /// memory). A failure of `produce` leaves the path as it was, as a failed write does.
    public static func write(to path: String, by produce: (Sink) throws(CompileFailure) -> Void) throws(CompileFailure)
    {
        func failure(_ reason: String) -> CompileFailure {
            let file = path == standardOutputPath ? "<standard output>" : path
            return CompileFailure(
                Diagnostic(at: Location(file: file, line: 1, column: 1), .cannotWrite(path: path, reason: reason)))
        }
        guard !path.isEmpty else { throw failure("the path is empty; expected a file name") }
        func stream(to descriptor: Int32) throws(CompileFailure) {
            try produce(Sink(descriptor: descriptor, failure: failure))
        }
        if path == standardOutputPath {
            if standardOutputWasClosed { throw failure("it is closed") }
            return try stream(to: STDOUT_FILENO)
        }
        // A symbolic link that names no file yet is written through, making the file it names (as a
        // shell's `>` does), where the file written took the link's place.
        let path = danglingLinkTarget(path) ?? path
        var status = stat(), directoryStatus = stat()
        let directory = split(path).directory
        let exists = stat(path, &status) == 0
        if exists, status.st_mode & S_IFMT == S_IFDIR { throw failure("is a directory") }
        if exists, let input = InputFiles.path(of: status) {
            let which = input == path ? "it is" : "it is the file '\(input)', which is"
            throw failure("\(which) an input of this command; choose another output path")
        }
        if !directory.isEmpty {
            if stat(directory, &directoryStatus) != 0 { throw failure("no such directory '\(directory)'") }
            if directoryStatus.st_mode & S_IFMT != S_IFDIR { throw failure("'\(directory)' is not a directory") }
        }
        // A file its owner may not write is not replaced (renaming over it would), as `cp` would not.
        if exists, status.st_mode & S_IFMT == S_IFREG, access(path, W_OK) != 0 {
            throw failure(String(cString: strerror(errno)))
        }
        /// Opens `path` with `flags` and streams into it; nil where it cannot be opened (with the reason).
        func stream(into path: String, flags: Int32, mode: mode_t = 0o644) throws(CompileFailure) -> String? {
            let descriptor = open(path, flags, mode)
            guard descriptor >= 0 else { return String(cString: strerror(errno)) }
            // (open's mode passes through the umask; an existing file's mode is given back exactly.)
            if mode != 0o644 { fchmod(descriptor, mode) }
            do throws(CompileFailure) { try stream(to: descriptor) } catch {
                close(descriptor)
                throw error
            }
            if close(descriptor) != 0 { throw failure(String(cString: strerror(errno))) }
            return nil
        }
        if exists, status.st_mode & S_IFMT != S_IFREG {
            if let reason = try stream(into: path, flags: O_WRONLY | O_TRUNC) { throw failure(reason) }
            return
        }
        // An existing file keeps its place (a symbolic link is written through, not replaced) and its mode.
        let target = exists ? URL(fileURLWithPath: path).resolvingSymlinksInPath().path : path
        let mode = exists ? mode_t(status.st_mode & 0o7777) : 0o644
        let (targetDirectory, name) = split(target)
        // (A name near the system's 255-byte limit leaves no room for the temporary's own.)
        let temporaryName = name.utf8.count > 200 ? ".sharesc-\(getpid())" : ".\(name).sharesc-\(getpid())"
        let temporary = (targetDirectory.isEmpty ? "" : targetDirectory + "/") + temporaryName
        let temporaryProblem: String?
        unfinished.set(temporary)
        defer { unfinished.set(nil) }
        do throws(CompileFailure) {
            temporaryProblem = try stream(into: temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, mode: mode)
        } catch {
            unlink(temporary)  // a full disk, a size limit, no memory: the file at the path stays as it was
            throw error
        }
        if let reason = temporaryProblem {
            // Where no file can be made beside it (a directory its user may not write), an existing file
            // is not overwritten in place, which a failed write would leave cut short.
            if exists {
                let directory = targetDirectory.isEmpty ? "." : targetDirectory
                throw failure(
                    "no file can be made beside it in '\(directory)' (\(reason)) to replace it whole; it is left as it was"
                )
            }
            // A new file is written at the path itself, and removed if the write fails.
            let problem: String?
            do throws(CompileFailure) { problem = try stream(into: path, flags: O_WRONLY | O_CREAT | O_EXCL) } catch {
                unlink(path)
                throw error
            }
            if let problem { throw failure(problem) }
            return
        }
        guard rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw failure(reason)
        }
    }

    /// The temporary file being written, for `removeUnfinished`.
    nonisolated(unsafe) private static var unfinished = CPath()

    /// Removes the temporary file a write has not finished, if any: for a signal handler (Ctrl-C during
    /// a large plan or weights file left a hidden temporary of hundreds of megabytes beside the output).
    /// Async-signal-safe: it only calls unlink(2).
    public static func removeUnfinished() {
        if let path = unfinished.pointer { unlink(path) }
    }

    /// A path held as a C string that a signal handler can read without allocating.
    private struct CPath {
        var pointer: UnsafeMutablePointer<CChar>?

        mutating func set(_ path: String?) {
            let old = pointer
            pointer = path.map { strdup($0) }
            free(old)
        }
    }

    /// Whether `path` names the file, pipe or terminal that standard output writes to.
    public static func isStandardOutput(_ path: String) -> Bool {
        var file = stat(), output = stat()
        return path == standardOutputPath
            || stat(path, &file) == 0 && fstat(STDOUT_FILENO, &output) == 0 && file.st_dev == output.st_dev
                && file.st_ino == output.st_ino
    }

    /// Where a symbolic link that names nothing yet points (through further links to nothing, up to
    /// 32); nil for any other path, and for a loop of links.
    static func danglingLinkTarget(_ path: String) -> String? {
        var status = stat(), current = path
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK, stat(path, &status) != 0 else {
            return nil
        }
        for _ in 0..<32 {
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
            let count = buffer.withUnsafeMutableBytes { readlink(current, $0.baseAddress!, $0.count) }
            guard count > 0 else { return nil }
            let destination = String(decoding: buffer[..<count], as: UTF8.self), directory = split(current).directory
            current = destination.hasPrefix("/") || directory.isEmpty ? destination : directory + "/" + destination
            guard lstat(current, &status) == 0 else { return current }  // nothing there: the file to make
            guard status.st_mode & S_IFMT == S_IFLNK else { return nil }
        }
        return nil
    }

    /// `path` as the directory before its last '/' ("" where it has none) and the name after it.
    /// (Foundation's `deletingLastPathComponent` traps on a name of one character.)
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (slash == path.startIndex ? "/" : String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// Writes all of `data` to an open descriptor (a file's, standard output's), again where a write is
    /// interrupted or partial; the system's reason on failure.
    public static func writeAll(_ data: [UInt8], toDescriptor descriptor: Int32) -> String? {
        data.withUnsafeBytes { writeAll($0, toDescriptor: descriptor) }
    }

    static func writeAll(_ data: UnsafeRawBufferPointer, toDescriptor descriptor: Int32) -> String? {
        var written = 0
        while written < data.count {
            let count = systemWrite(descriptor, data.baseAddress! + written, data.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            written += count
        }
        return nil
    }
}

/// The system's write(2), which `OutputFile.write` hides inside the enum.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
