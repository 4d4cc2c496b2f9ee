import Foundation

/// Where spec files come from: the disk, or a dictionary in tests.
public struct SpecSource: Sendable {
    public var read: @Sendable (_ path: String) throws -> String
    /// What names one file by whatever path it is reached (symbolic and hard links): its device and
    /// inode on disk; nil where there is no such file. Without it, a file's (normalised) path names it.
    public var identity: (@Sendable (_ path: String) -> String?)?

    public init(
        read: @escaping @Sendable (_ path: String) throws -> String,
        identity: (@Sendable (_ path: String) -> String?)? = nil
    ) {
        self.read = read
        self.identity = identity
    }

    public static let disk = SpecSource(
        read: { path in
            let bytes = try InputFiles.readAll(path)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                if let kind = Self.binaryKind(bytes, path: path) { throw UnreadableFile(kind) }
                let position = InputFiles.firstInvalidUTF8(bytes)
                throw UnreadableFile("the bytes here are not UTF-8 text", at: position)
            }
            return text
        },
        identity: { path in
            // (None for a path with a NUL, which stat would cut short: reading it then says why.)
            var status = stat()
            guard !path.utf8.contains(0), stat(path, &status) == 0 else { return nil }
            return "\(status.st_dev):\(status.st_ino)"
        })

    /// What a binary file handed over as a spec is, and where it goes instead, for the files of the
    /// workflow (its "not UTF-8 text" at some byte said nothing of what to do).
    static func binaryKind(_ bytes: [UInt8], path: String) -> String? {
        let network = "sharesc reads a network from a spec (.yaml) or a plan (compile -o)"
        switch InputFiles.kind(of: bytes, path: path) {
        case .safetensors:
            return
                "a plan or weights file (safetensors), not a spec; `run` and `bench` take plans, --weights takes weights"
        case .numpy: return "a NumPy array (.npy), not a spec; `run --input` takes images as one"
        case .zip: return "a zip archive (as torch.save writes), not a spec; \(network)"
        case .onnx: return "an ONNX model, not a spec; \(network)"
        case .pickle, .text, nil: return nil
        }
    }

    public static func memory(_ files: [String: String]) -> SpecSource {
        SpecSource { path in
            guard let text = files[Paths.normalize(path)] else { throw UnreadableFile("no such file") }
            return text
        }
    }
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
        if let error = error as? UnreadableFile { return error.description }
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
