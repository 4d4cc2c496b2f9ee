import Testing

@testable import SharesCompiler

struct ExpressionTests {
    let here = Location(file: "t.yaml", line: 3, column: 10)

    func value(_ text: String, _ variables: [String: Number] = [:]) throws -> Number {
        try Scope(variables).evaluate(Located(try ExpressionParser.parse(text, at: here), at: here))
    }

    @Test func arithmetic() throws {
        #expect(try value("64") == .int(64))
        #expect(try value("010") == .int(10))  // decimal, not YAML's octal
        #expect(try value("$width * 4", ["width": .int(64)]) == .int(256))
        #expect(try value("($depth - 2) / 9", ["depth": .int(164)]) == .int(18))
        #expect(try value("7 // 2") == .int(3))
        #expect(try value("-7 // 2") == .int(-4))
        #expect(try value("7 % 3") == .int(1))
        #expect(try value("-7 % 3") == .int(2))
        #expect(try value("7 % -3") == .int(-2))
        // Int.min % -1 is 0, as in Python, though Int.min / -1 does not fit in 64 bits.
        #expect(try value("$a % -1", ["a": .int(.min)]) == .int(0))
        #expect(try value("2 + 3 * 4") == .int(14))
        #expect(try value("-(2 + 3)") == .int(-5))
        #expect(try value("0.3") == .real(0.3))
        #expect(try value("$k * 0.5", ["k": .int(3)]) == .real(1.5))
    }

    func failure(_ text: String, _ variables: [String: Number] = [:]) -> String {
        do {
            _ = try value(text, variables)
            return "no error"
        } catch { return (error as? CompileFailure)?.description ?? "\(error)" }
    }

    @Test func errorsSayWhatWasExpected() {
        #expect(
            failure("(165 - 2) / 9")
                == "t.yaml:3:20: error: 163 / 9 is not a whole number; use '//' to round down, or choose values that divide exactly"
        )
        #expect(failure("1 / 0") == "t.yaml:3:12: error: division by zero")
        #expect(
            failure("9223372036854775807 + 1")
                == "t.yaml:3:30: error: arithmetic overflow: the value does not fit in 64 bits")
        for op in ["//", "/"] {
            #expect(
                failure("$a \(op) -1", ["a": .int(.min)])
                    == "t.yaml:3:13: error: arithmetic overflow: the value does not fit in 64 bits")
        }
        #expect(
            failure("$widht * 2", ["width": .int(1)])
                == "t.yaml:3:10: error: unknown variable '$widht'; known here: $width; did you mean '$width'?")
        #expect(
            failure("4 *") == "t.yaml:3:13: error: expected a number, a $variable or '(' but found the end in '4 *'")
        #expect(
            failure("1:30")
                == "t.yaml:3:11: error: unexpected ':' in '1:30'; expected an operator (+ - * / // %) or the end")
        #expect(
            failure(String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100))
                == "t.yaml:3:74: error: expression nested more than 64 levels deep")
        // 1,000 operators are read; the 1,001st is refused where it stands (a chain of 10,000 overflowed
        // the stack of every recursive walk after parsing).
        let sum = (text: Array(repeating: "1", count: 1001).joined(separator: "+"), column: 10 + 2 * 1001 - 1)
        #expect(failure(sum.text) == "no error")
        #expect(
            failure(sum.text + "+1")
                == "t.yaml:3:\(sum.column): error: expression has more than 1000 operators; compute long sums in steps,"
                + " with variables")
        #expect(
            failure(Array(repeating: "1", count: 20_000).joined(separator: "*")).contains("more than 1000 operators"))
    }
}
