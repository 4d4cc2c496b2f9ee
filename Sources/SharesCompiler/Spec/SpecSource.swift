import Foundation

/// Where spec files come from: the disk, or a dictionary in tests.
public struct SpecSource: Sendable {
    public var read: @Sendable (_ path: String) throws -> String

    public init(read: @escaping @Sendable (_ path: String) throws -> String) { self.read = read }

    public static let disk = SpecSource { path in
        // What the path names, through symbolic links: only a regular file is read (a device such as
        // /dev/zero never ends, and a pipe may never open).
        var status = stat()
        guard stat(path, &status) == 0 else { throw SpecSourceError(errno: errno) }
        switch status.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw SpecSourceError("is a directory")
        default: throw SpecSourceError("is not a regular file (a device, pipe or socket)")
        }
        InputFiles.note(path)
        guard let text = String(data: try readAll(path), encoding: .utf8) else {
            throw SpecSourceError("not UTF-8 text")
        }
        return text
    }

    /// The file's bytes, read with the system's calls so that a failure says why (Foundation's reader
    /// gave "NSCocoaErrorDomain error 256" for /proc/self/mem and for a loop of symbolic links).
    private static func readAll(_ path: String) throws -> Data {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw SpecSourceError(errno: errno) }
        defer { close(descriptor) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw SpecSourceError(errno: errno)
            }
            data.append(contentsOf: buffer[..<count])
        }
    }

    public static func memory(_ files: [String: String]) -> SpecSource {
        SpecSource { path in
            guard let text = files[Paths.normalize(path)] else { throw SpecSourceError("no such file") }
            return text
        }
    }
}

/// The system's read(2), which `SpecSource.read` hides inside the struct.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

struct SpecSourceError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
    init(errno code: Int32) { description = code == ENOENT ? "no such file" : String(cString: strerror(code)) }
}

/// Lexical path handling: `a/b/../c` -> `a/c`, relative paths resolved against the including file.
enum Paths {
    static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part == "..", absolute {
                continue
            } else {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return normalize(
            directory.isEmpty ? path : (file.hasPrefix("/") && directory.isEmpty ? "/" : directory) + "/" + path)
    }

    /// Error-free description of why a file could not be read.
    static func reason(_ error: any Error) -> String {
        if let error = error as? SpecSourceError { return error.description }
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let code = POSIXErrorCode(rawValue: Int32(underlying.code))
        {
            return String(cString: strerror(code.rawValue))
        }
        return nsError.localizedDescription
    }
}
