import CKernels
import Foundation

/// The regular files this process has read (specs, weights, plans, arrays), so that no output replaces
/// one of them: `sharesc init spec.yaml -o spec.yaml` would have written weights over the spec. Every
/// reader opens its file here, so that each refuses what is not a regular file in the same words.
public enum InputFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var read: [FileIdentity: String] = [:]

    private struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ status: stat) { (device, inode) = (UInt64(status.st_dev), UInt64(status.st_ino)) }
    }

    /// The path it was read by, if the file `status` describes was read and that path still names it.
    /// (A file read and then deleted frees its inode for the next new file, which is not an input.)
    static func path(of status: stat) -> String? {
        let identity = FileIdentity(status)
        guard let path = lock.withLock({ read[identity] }) else { return nil }
        var now = stat()
        return stat(path, &now) == 0 && FileIdentity(now) == identity ? path : nil
    }

    /// Where UTF-8 text first goes wrong, as an editor counts: line and column (columns in characters,
    /// as in every location); nil where the bytes are all UTF-8.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> (line: Int, column: Int)? {
        var parser = Unicode.UTF8.ForwardParser(), iterator = bytes.makeIterator()
        var line = 1, column = 1
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                if scalar.count == 1 && scalar.first == UInt8(ascii: "\n") {
                    (line, column) = (line + 1, 1)
                } else {
                    column += 1
                }
            case .error: return (line, column)
            case .emptyInput: return nil
            }
        }
    }

    /// Opens `path` for reading and notes it, only where it names (through symbolic links) a regular
    /// file: a directory says so, and a device or pipe is refused (/dev/zero never ends; a pipe with
    /// no writer would block the open, which is therefore made without waiting).
    static func openForReading(_ path: String) throws(UnreadableFile) -> Int32 {
        guard !path.isEmpty else { throw UnreadableFile("the path is empty; expected a file name") }
        // The system would read the path only up to the NUL: another file than the one named.
        guard !path.utf8.contains(0) else { throw UnreadableFile("the path contains a NUL character") }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if descriptor < 0, errno == ENOENT, path == "-" {
            // (`-o -` writes to standard output; inputs are files, read twice or by parts, never a stream.)
            throw UnreadableFile("'-' is standard output for -o and --output only; inputs are read from files")
        }
        guard descriptor >= 0 else { throw UnreadableFile(errno: errno) }
        var status = stat()
        let kind = fstat(descriptor, &status) == 0 ? status.st_mode & S_IFMT : 0
        guard kind == S_IFREG else {
            let problem =
                kind == 0
                ? UnreadableFile(errno: errno)
                : UnreadableFile(
                    kind == S_IFDIR ? "is a directory" : "is not a regular file (a device, pipe or socket)")
            close(descriptor)
            throw problem
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        lock.withLock { read[FileIdentity(status)] = path }
        return descriptor
    }

    /// Whether `bytes` (a file's first nine at least) open a safetensors file, as plans and weights are:
    /// an 8-byte little-endian header length, below 2^56 so its last byte is 0, then the header's `{`.
    /// YAML text never holds a 0 byte.
    static func startsLikeSafetensors(_ bytes: some Collection<UInt8>) -> Bool {
        let head = Array(bytes.prefix(9))
        return head.count == 9 && head[7] == 0 && head[8] == UInt8(ascii: "{")
    }

    /// The kinds of file users hand over in the wrong place, for messages that say what to do instead.
    enum Kind { case safetensors, numpy, zip, pickle, onnx, text }

    /// What a file is, by its first bytes (a zip archive, as torch.save writes; a pickle, as its legacy
    /// format does; printable ASCII), or by its name for ONNX, whose protobuf has no magic number. Nil for
    /// anything else.
    static func kind(of head: some Collection<UInt8>, path: String) -> Kind? {
        let head = Array(head.prefix(9))
        if startsLikeSafetensors(head) { return .safetensors }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .numpy }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .zip }
        if head.first == 0x80 { return .pickle }
        if path.lowercased().hasSuffix(".onnx") { return .onnx }
        if !head.isEmpty, head.allSatisfy({ (0x20..<0x7F).contains($0) || [0x09, 0x0A, 0x0D].contains($0) }) {
            return .text
        }
        return nil
    }

    /// Whether the file at `path` opens like a safetensors file (false where it cannot be read).
    static func startsLikeSafetensors(path: String) -> Bool {
        guard let descriptor = try? openForReading(path) else { return false }
        defer { close(descriptor) }
        var head = [UInt8](repeating: 0, count: 9)
        let count = head.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
        return count == 9 && startsLikeSafetensors(head)
    }

    /// The whole file, read with the system's calls so that a failure says why (Foundation's reader gave
    /// "NSCocoaErrorDomain error 256" for a directory, /proc/self/mem and a loop of symbolic links).
    static func readAll(_ path: String) throws(UnreadableFile) -> [UInt8] {
        let descriptor = try openForReading(path)
        defer { close(descriptor) }
        // Held whole: where the file is larger than free memory, an error, where the array's growth trapped.
        var status = stat()
        let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
        guard sc_can_allocate(size) != 0 else {
            throw UnreadableFile("its \(size) bytes do not fit in this machine's free memory")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw UnreadableFile(errno: errno)
            }
            bytes.append(contentsOf: buffer[..<count])
        }
    }
}

extension InputFiles {
    /// Fills `buffer` from `descriptor` at `offset` (pread, so the file position is left alone); false
    /// where the file ends or a read fails first (what was not read is then zeros).
    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Bool {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                (buffer.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - done)
                return false
            }
            done += count
        }
        return true
    }
}

/// The system's read(2), which `InputFiles.readAll` hides inside the enum.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// Why a file could not be read, in words for a diagnostic ("no such file", "is a directory").
struct UnreadableFile: Error, CustomStringConvertible {
    var description: String
    /// Where in the file the fault lies, for a file read but not understood (text that is not UTF-8).
    var position: (line: Int, column: Int)?
    init(_ description: String, at position: (line: Int, column: Int)? = nil) {
        self.description = description
        self.position = position
    }
    init(errno code: Int32) { description = code == ENOENT ? "no such file" : String(cString: strerror(code)) }
}
