import Testing

@testable import SharesCompiler

/// The number formats of reports and `run`: total over every value, each figure rounded once, from the
/// exact counts.
struct FormatTests {
    /// Numbers print whatever their value: `run` formatted logits through `Int`, which trapped from
    /// about 9.2e14 and on infinities and NaN.
    @Test func fixedIsTotal() {
        #expect(Format.fixed(3.14159, decimals: 4) == "3.1416")
        #expect(Format.fixed(-0.00001, decimals: 4) == "0.0000")
        #expect(Format.fixed(-2.5, decimals: 0) == "-3")
        #expect(Format.fixed(.nan, decimals: 4) == "nan")
        #expect(Format.fixed(.infinity, decimals: 4) == "inf")
        #expect(Format.fixed(-.infinity, decimals: 2) == "-inf")
        #expect(Format.fixed(9.2e14, decimals: 4) == "9.2000e+14")
        #expect(Format.fixed(-1.23456e300, decimals: 3) == "-1.235e+300")
        #expect(Format.fixed(9.99996e20, decimals: 4) == "1.0000e+21")
        #expect(Format.fixed(Double(Float.greatestFiniteMagnitude), decimals: 4) == "3.4028e+38")
        #expect(Format.fixed(123456789012.5, decimals: 1) == "123456789012.5")
    }

    /// 4 of 21 is 19.048%: 19.0%, not 19.1% (19.05 rounded again); 212 of 953 is 22.2455%.
    @Test func percentagesAreRoundedOnceFromTheCounts() {
        #expect(Format.percent(4, of: 21) == "19.0%")
        #expect(Format.percent(212, of: 953) == "22.2%")
        #expect(Format.percent(1, of: 8) == "12.5%")
        #expect(Format.percent(0, of: 0) == "0.0%")
        // The JSON's two decimals: one rounding as well; more where two would show a part as none or as
        // all of the whole (JSON said 100 where the text said 99.995%), and no negative zero.
        #expect(percent(212, of: 953) == 22.25)
        #expect(percent(19_999, of: 20_000) == 99.995 && percent(20_000, of: 20_000) == 100)
        #expect(percent(-1, of: 1_000_000) == -0.0001 && percent(1, of: 1 << 50) > 0)
        #expect(percent(0, of: 7) == 0 && percent(0, of: 7).sign == .plus)
    }

    /// Text tables line up by terminal columns: a CJK character takes two.
    @Test func tablesAlignWideCharacters() {
        var table = Table([("stage", .left), ("blocks", .right)])
        table.add(["阶段二", "3"])
        table.add(["stage1", "12"])
        #expect(table.text(indent: "") == "stage   blocks\n阶段二       3\nstage1      12\n")
        #expect("阶段二".displayWidth == 6 && "e\u{301}".displayWidth == 1 && "a\u{200B}b".displayWidth == 2)
    }

    /// A tie's users: names that differ only in their block number make one entry, in the order each
    /// first appears, with runs of blocks as ranges (a tie read by two convolutions of each block was
    /// split into one entry per block).
    @Test func useListsGroupBlocksOfTheSameLayer() {
        let names = [
            "stage1.block2.conv2", "stage1.block4.conv2", "stage2.block1.conv1", "stage2.block1.conv2",
            "stage2.block2.conv2", "stage2.block3.conv1", "stage2.block3.conv2", "head.fc"
        ]
        #expect(
            UseList.compact(names) == "stage1.block2,4.conv2, stage2.block1,3.conv1, stage2.block1-3.conv2, head.fc")
    }

    /// One of a thing is singular: `1 tied weight`, not `1 tied weights`; digits are grouped as in the reports.
    @Test func countsAgreeWithTheirNoun() {
        #expect(Format.counted(1, "tied weight") == "1 tied weight")
        #expect(Format.counted(0, "parameter") == "0 parameters")
        #expect(Format.counted(36_479_194, "parameter") == "36,479,194 parameters")
    }

    /// A change keeps its sign however small, and shows its first digit (a probe's 4,800 saved of 23
    /// million read "0.0%", as if nothing); only no change at all is unsigned.
    @Test func changesAreSignedAsTheyAre() {
        #expect(Format.change(from: 2005, to: 2006) == "+0.05%")
        #expect(Format.change(from: 223_562, to: 223_497) == "-0.03%")
        #expect(Format.percent(4800, of: 23_000_000) == "0.02%")
        #expect(Format.percent(1, of: 1 << 40) == "0.0000000001%")
        // Nor all for less than all (a probe's 16 parameters left of 160,000 read as -100.0%), nor a
        // large change without its digits grouped.
        #expect(Format.percent(159_984, of: 160_000) == "99.99%")
        #expect(Format.change(from: 160_000, to: 16) == "-99.99%")
        #expect(Format.percent((1 << 40) - 1, of: 1 << 40) == "99.9999999999%")
        #expect(Format.change(from: 1 << 40, to: 1) == "-99.9999999999%")
        #expect(Format.percent(1, of: 1 << 62) == "<0.0000000000001%")
        #expect(Format.percent(1001, of: 1000) == "100.1%" && Format.percent(100_001, of: 100_000) == "100.001%")
        #expect(
            Format.change(from: 1, to: 10_000) == "+999,900.0%" && Format.percent(-12_345, of: 1) == "-1,234,500.0%")
        #expect(Format.percent(-1, of: 300) == "-0.3%")
        #expect(Format.change(from: 200, to: 150) == "-25.0%")
        #expect(Format.change(from: 7, to: 7) == "0.0%")
        #expect(Format.change(from: 0, to: 0) == "0.0%")
        #expect(Format.change(from: 0, to: 3) == "n/a")
    }

    /// A value that rounds to 1000 of one unit is shown in the next.
    @Test func unitsMoveUpWhereRoundingReachesTheNext() {
        #expect(Format.metric(999_999_759, unit: "MACs") == "1.000 GMACs")
        #expect(Format.metric(999_999_499, unit: "MACs") == "999.999 MMACs")
        #expect(Format.metric(999, unit: "MACs") == "999 MACs")
        #expect(Format.metric(999_9995) == "10.000 M")
        #expect(Format.bytes(1_048_572) == "1.00 MiB")
        #expect(Format.bytes(1_048_000) == "1023.44 KiB")
        #expect(Format.bytes(1023) == "1023 B")
        // Up to the largest counts a report holds (they stopped at T and GiB: "136237.187 T").
        #expect(Format.metric(136_237_187_000_000_000) == "136.237 P")
        #expect(Format.metric(Int.max) == "9.223 E")
        #expect(Format.bytes(4_299_161_603 << 30) == "4.00 EiB" && Format.bytes(5 << 40) == "5.00 TiB")
    }
}
