import Dispatch

/// Runs `body(t)` for t in 0..<threads at once on the system's worker threads (GCD keeps them
/// alive between calls, so no thread is created per operation).
func parallel(_ threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 { body(0); return }
    // The workers only read shared state and write disjoint ranges of the arena, which the kernels'
    // range arguments guarantee; concurrentPerform returns after every one of them has finished.
    withoutActuallyEscaping(body) { body in
        let task = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: threads) { task.value($0) }
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The part of `0..<count` that worker `index` of `workers` takes, in multiples of `granule`.
func share(of count: Int, worker index: Int, of workers: Int, granule: Int = 1) -> Range<Int> {
    let granules = (count + granule - 1) / granule
    let begin = granules * index / workers * granule, end = granules * (index + 1) / workers * granule
    return min(begin, count)..<min(end, count)
}

/// An aligned float buffer that is freed with its owner.
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.size, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
