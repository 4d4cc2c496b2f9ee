import Foundation

/// The process's peak resident memory, from Linux's /proc/self/status (VmHWM); nil elsewhere.
public func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    return peakResidentBytes(status: status)
}

/// VmHWM from the text of /proc/self/status. The number follows a tab, padded with spaces to eight
/// digits: from 10,000,000 kB (9.5 GiB) on there are none, and splitting at spaces alone read 0.
func peakResidentBytes(status: String) -> Int? {
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first
        return kilobytes.map { $0 * 1024 }
    }
    return nil
}

/// Monotonic time in seconds, for benchmarks.
public func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
