import Foundation
import Testing

@testable import SharesCompiler

/// `.npy` files: exact bytes of the header, round trips, every kind of bad file with its message, and
/// NumPy itself reading what sharesc writes and the other way round.
struct NumPyFileTests {
    /// A version 1.0 file with `header` (padded as NumPy does) and `data`.
    static func file(_ header: String, data: [UInt8] = [], version: (UInt8, UInt8) = (1, 0)) -> [UInt8] {
        var text = Array(header.utf8)
        let preamble = version.0 == 1 ? 10 : 12
        while (preamble + text.count + 1) % 64 != 0 { text.append(UInt8(ascii: " ")) }
        text.append(UInt8(ascii: "\n"))
        let length =
            version.0 == 1
            ? [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
            : [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
        return NumPyFile.magic + [version.0, version.1] + length + text + data
    }

    static func header(descr: String = "'<f4'", fortran: String = "False", shape: String) -> String {
        "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
    }

    /// The message of decoding `bytes`, or "(decoded)".
    static func message(_ bytes: [UInt8]) -> String {
        do {
            _ = try NumPyFile.decode(bytes, path: "a.npy")
            return "(decoded)"
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics.first?.location == Location(file: "a.npy", line: 1, column: 1))
            return error.diagnostics.first?.message ?? ""
        }
    }

    static let sixFloats: [UInt8] = (0..<24).map { UInt8($0) }

    @Test func encodesTheHeaderAsNumPyDoes() {
        let bytes = NumPyFile.encode([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(bytes.count == 128 + 24)
        #expect(Array(bytes[0..<10]) == [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0])
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(
            header == "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 58)
                + "\n")
        #expect(Array(bytes[128..<132]) == [0, 0, 0x80, 0x3F])  // 1.0 little-endian
        // One dimension is written with Python's one-element tuple comma; a scalar has the empty shape.
        #expect(
            String(decoding: NumPyFile.encode([7], shape: [1])[10..<128], as: UTF8.self).hasPrefix(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }  "))
        #expect(
            String(decoding: NumPyFile.encode([7], shape: [])[10..<128], as: UTF8.self).hasPrefix(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }  "))
    }

    @Test(arguments: [[2, 3], [], [5], [0, 3], [1, 2, 1, 2]])
    func roundTrip(shape: [Int]) throws {
        let special: [Float] = [
            0, -0.0, 1, -2.5, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-20
        ]
        let count = shape.reduce(1, *)
        let values = (0..<count).map { special[$0 % special.count] }
        let decoded = try NumPyFile.decode(NumPyFile.encode(values, shape: shape), path: "a.npy")
        #expect(decoded.shape == shape)
        #expect(decoded.values.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func roundTripThroughAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-npy-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NumPyFile.write([1, 2, 3, 4], shape: [2, 2], to: path)
        let (shape, values) = try NumPyFile.read(path)
        #expect(shape == [2, 2] && values == [1, 2, 3, 4])
    }

    @Test func readsVersions2And3() throws {
        for version: (UInt8, UInt8) in [(2, 0), (3, 0)] {
            let decoded = try NumPyFile.decode(
                Self.file(Self.header(shape: "(2, 3)"), data: Self.sixFloats, version: version), path: "a.npy")
            #expect(decoded.shape == [2, 3])
        }
        // Version 3 headers are UTF-8; a structured dtype's field name may use it (and is still refused).
        #expect(
            Self.message(
                Self.file(Self.header(descr: "[('é', '<f4')]", shape: "(1,)"), data: [0, 0, 0, 0], version: (3, 0)))
                == "the array is stored as [('é', '<f4')]; expected float32 ('<f4'), C order")
    }

    @Test func acceptsTheHeaderVariationsPythonMayWrite() throws {
        // Keys in another order, double quotes, no trailing comma, Python 2 long integers, extra spaces.
        let header = "{ \"shape\" : ( 2 ,3L ) , 'fortran_order':False,'descr':\"<f4\"}"
        let decoded = try NumPyFile.decode(Self.file(header, data: Self.sixFloats), path: "a.npy")
        #expect(decoded.shape == [2, 3])
        // The native byte order, as `numpy.load` reads it on a little-endian machine (it was refused).
        let native = try NumPyFile.decode(
            Self.file(Self.header(descr: "'=f4'", shape: "(2, 3)"), data: Self.sixFloats), path: "a.npy")
        #expect(native.shape == [2, 3] && native.values == decoded.values)
    }

    @Test func refusesOtherDtypesAndOrders() {
        let cases: [(String, String, String)] = [
            ("'<f8'", "False", "'<f8' (float64)"),
            ("'>f4'", "False", "'>f4' (big-endian float32)"),
            ("'<f2'", "False", "'<f2' (float16)"),
            ("'<i4'", "False", "'<i4' (int32)"),
            ("'|b1'", "False", "'|b1' (bool)"),
            ("'<f4'", "True", "'<f4' in Fortran order"),
            ("'>f8'", "True", "'>f8' (big-endian float64) in Fortran order"),
            ("'|O'", "False", "'|O'"),
            ("[('x', '<f4'), ('y', '<f4')]", "False", "[('x', '<f4'), ('y', '<f4')]")
        ]
        for (descr, fortran, found) in cases {
            let bytes = Self.file(
                Self.header(descr: descr, fortran: fortran, shape: "(2, 3)"), data: Self.sixFloats + Self.sixFloats)
            #expect(Self.message(bytes) == "the array is stored as \(found); expected float32 ('<f4'), C order")
        }
    }

    @Test func refusesDamagedFiles() {
        let good = Self.file(Self.header(shape: "(2, 3)"), data: Self.sixFloats)
        let cases: [([UInt8], String)] = [
            ([], "it does not start with the magic string \\x93NUMPY"),
            (Array("PK\u{3}\u{4}zipfile".utf8), "it does not start with the magic string \\x93NUMPY"),
            (Array(good[0..<7]), "the file is 7 bytes and ends inside the preamble"),
            (Array(good[0..<9]), "the file is 9 bytes and ends inside the preamble"),
            (NumPyFile.magic + [4, 0, 0, 0], "format version 4.0 is not supported; expected 1.0, 2.0 or 3.0"),
            (NumPyFile.magic + [1, 1, 0, 0], "format version 1.1 is not supported; expected 1.0, 2.0 or 3.0"),
            (Array(good[0..<100]), "the header claims 118 bytes but the file has 90 after the header length"),
            (
                NumPyFile.magic + [2, 0, 0xFF, 0xFF, 0xFF, 0x7F],
                "the header claims 2147483647 bytes; headers are limited to 1048576"
            ),
            (Array(good[0..<140]), "the file is truncated: the shape (2, 3) needs 24 data bytes but the file has 12"),
            (good + [0, 0, 0, 0], "the file has 4 bytes after the 24 data bytes of the shape (2, 3)"),
            (Self.file("[1, 2]"), "the header is [1, 2], not a dict"),
            (
                Self.file("{'descr': '<f4', 'shape': (2, 3)}"),
                "the header has the keys 'descr', 'shape'; expected exactly 'descr', 'fortran_order' and 'shape'"
            ),
            (
                Self.file(Self.header(shape: "(2, 3)") + "{}"),
                "the header is not a Python dict literal: unexpected '{' after the dict"
            ),
            (
                Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}"),
                "the header has the keys 'descr', 'extra', 'fortran_order', 'shape'; expected exactly 'descr', 'fortran_order' and 'shape'"
            ),
            (
                Self.file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
                "the header has the key 'descr' twice"
            ),
            (Self.file("{1: 2}"), "the header has the key 1; keys must be strings"),
            (Self.file(Self.header(fortran: "0", shape: "(2, 3)")), "'fortran_order' is 0; expected True or False"),
            (Self.file(Self.header(shape: "[2, 3]")), "'shape' is [2, 3]; expected a tuple of whole numbers"),
            (
                Self.file(Self.header(shape: "(2, -3)")),
                "'shape' is (2, -3); expected a tuple of whole numbers, none negative"
            ),
            (
                Self.file(Self.header(shape: "(2, 'x')")),
                "'shape' is (2, 'x'); expected a tuple of whole numbers, none negative"
            ),
            (
                Self.file(Self.header(shape: "(4294967296, 4294967296)")),
                "the shape (4294967296, 4294967296) has more than 1099511627776 elements"
            ),
            (
                Self.file(Self.header(shape: "(99999999999999999999,)")),
                "the header is not a Python dict literal: '99999999999999999999' is not a whole number within 64 bits"
            ),
            (
                Self.file(Self.header(shape: "(2 3)")),
                "the header is not a Python dict literal: expected ',' or ')', found '3'"
            ),
            (Self.file("{'descr': '<f4"), "the header is not a Python dict literal: a string is not closed"),
            (Self.file("{'descr' '<f4'}"), "the header is not a Python dict literal: expected ':', found \"'\""),
            (Self.file("{'descr': float32}"), "the header is not a Python dict literal: unexpected 'float32'"),
            (Self.file("{'descr': @}"), "the header is not a Python dict literal: unexpected '@'"),
            (Self.file("{"), "the header is not a Python dict literal: expected a value, found the end of the header"),
            (
                Self.file(String(repeating: "(", count: 10_000)),
                "the header is not a Python dict literal: nested more than 32 levels deep"
            ),
            (
                Self.file(Self.header(shape: "(2, 3)"), version: (3, 0)).map { $0 == UInt8(ascii: "2") ? 0xFF : $0 },
                "the header is not valid UTF-8"
            )
        ]
        for (bytes, detail) in cases {
            #expect(Self.message(bytes) == "not a valid .npy file: " + detail)
        }
    }

    @Test func neverReadsOutOfBounds() {
        // Every prefix of a valid file, and many single-byte corruptions: an error or a value, never a crash.
        let good = NumPyFile.encode((0..<6).map(Float.init), shape: [2, 3])
        for length in 0..<good.count { #expect(Self.message(Array(good[0..<length])) != "(decoded)") }
        var random = SeededRandom(seed: 5)
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<(1 + Int(random.next() % 3)) {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            _ = Self.message(bytes)
        }
    }

    @Test func reportsUnreadableAndUnwritablePaths() {
        do {
            _ = try NumPyFile.read("/nonexistent/a.npy")
            Issue.record("read a missing file")
        } catch {
            #expect(
                error.description == "/nonexistent/a.npy:1:1: error: cannot read '/nonexistent/a.npy': no such file")
        }
        do {
            try NumPyFile.write([1], shape: [1], to: "/nonexistent/b.npy")
            Issue.record("wrote into a missing directory")
        } catch {
            #expect(error.diagnostics.first?.message.hasPrefix("cannot write '/nonexistent/b.npy'") == true)
        }
        do {
            try NumPyFile.write([1, 2], shape: [3], to: "/nonexistent/c.npy")
            Issue.record("wrote a shape that does not fit the values")
        } catch {
            #expect(
                error.diagnostics.first?.message
                    == "internal error in sharesc (please report it): cannot write 2 values as an array of shape [3]")
        }
    }

    // MARK: - With NumPy

    @Test(.enabled(if: Python.hasNumPy, "needs python3 with numpy (.ci/run installs it)"))
    func interoperatesWithNumPy() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sharesc-npy-interop-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let values: [Float] = (0..<24).map { Float($0) * 0.25 - 3 }
        try NumPyFile.write(values, shape: [2, 3, 4], to: path("swift.npy"))
        try NumPyFile.write([42], shape: [], to: path("scalar.npy"))
        // NumPy reads what sharesc wrote, byte for byte what it would have written itself, and writes
        // files for sharesc to read: versions 1, 2 and 3, a scalar, an empty array, and a float64 one.
        let script = """
            import io, numpy as np
            from numpy.lib import format
            d = '\(directory.path)/'
            expected = (np.arange(24, dtype=np.float32) * 0.25 - 3).reshape(2, 3, 4)
            a = np.load(d + 'swift.npy')
            assert a.dtype == np.float32 and a.shape == (2, 3, 4) and (a == expected).all(), a
            buffer = io.BytesIO(); np.save(buffer, expected)
            assert buffer.getvalue() == open(d + 'swift.npy', 'rb').read(), 'bytes differ from numpy.save'
            s = np.load(d + 'scalar.npy'); assert s.shape == () and s == 42, s
            np.save(d + 'numpy.npy', expected[1].T.copy())
            for version in [(1, 0), (2, 0), (3, 0)]:
                with open(d + 'v%d.npy' % version[0], 'wb') as f:
                    format.write_array(f, expected, version=version)
            np.save(d + 'empty.npy', np.zeros((0, 5), np.float32))
            np.save(d + 'float64.npy', expected.astype(np.float64))
            np.save(d + 'fortran.npy', np.asfortranarray(expected))
            """
        let (status, message) = try Python.run(script)
        try #require(status == 0, "\(message)")

        let transposed = try NumPyFile.read(path("numpy.npy"))
        #expect(transposed.shape == [4, 3])
        // expected[1].T[r][c] = expected[1][c][r] = value 12 + 4c + r.
        let expectedTransposed: [Float] = (0..<12).map { index in values[12 + 4 * (index % 3) + index / 3] }
        #expect(transposed.values == expectedTransposed)
        for version in 1...3 {
            let read = try NumPyFile.read(path("v\(version).npy"))
            #expect(read.shape == [2, 3, 4] && read.values == values)
        }
        let empty = try NumPyFile.read(path("empty.npy"))
        #expect(empty.shape == [0, 5] && empty.values.isEmpty)
        for (name, found) in [("float64.npy", "'<f8' (float64)"), ("fortran.npy", "'<f4' in Fortran order")] {
            do {
                _ = try NumPyFile.read(path(name))
                Issue.record("read \(name)")
            } catch {
                #expect(
                    error.description
                        == "\(path(name)):1:1: error: the array is stored as \(found); expected float32 ('<f4'), C order"
                )
            }
        }
    }
}
