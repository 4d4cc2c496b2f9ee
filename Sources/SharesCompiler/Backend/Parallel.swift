import CKernels

/// The executor's threads: a persistent pool (sc_pool, in C) whose workers spin between the steps of
/// an inference instead of sleeping, so a step's fork and join cost well under a microsecond.
final class WorkerPool {
    let threads: Int
    private let pool: OpaquePointer?
    /// The next piece of `runPieces`' current job.
    private let next = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init(threads: Int) {
        pool = threads > 1 ? sc_pool_create(Int32(threads)) : nil
        self.threads = pool.map { Int(sc_pool_threads($0)) } ?? 1
    }

    deinit {
        if let pool { sc_pool_destroy(pool) }
        next.deallocate()
    }

    /// Runs `body(t)` for t in 0..<min(count, threads) at once (t = 0 on the calling thread) and returns
    /// when every one has finished. The bodies only read shared state and write disjoint ranges.
    func run(_ count: Int, _ body: (Int) -> Void) {
        let workers = min(count, threads)
        guard workers > 1, let pool else {
            if workers == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body, workers: workers)
            withUnsafeMutablePointer(to: &job) { job in
                sc_pool_run(
                    pool,
                    { context, worker in
                        let job = context!.assumingMemoryBound(to: Job.self)
                        if Int(worker) < job.pointee.workers { job.pointee.body(Int(worker)) }
                    }, job)
            }
        }
    }

    /// Runs `body(worker, piece)` for every piece in 0..<pieces, handing the pieces out one at a time to
    /// whichever thread is free. On a shared host one core can run slower than the other for seconds at
    /// a time; with a fixed half each, every step would wait for it.
    func runPieces(_ pieces: Int, _ body: (_ worker: Int, _ piece: Int) -> Void) {
        guard threads > 1, pieces > 1 else {
            for piece in 0..<pieces { body(0, piece) }
            return
        }
        next.pointee = 0
        run(threads) { worker in
            while true {
                let piece = Int(sc_claim(next))
                if piece >= pieces { return }
                body(worker, piece)
            }
        }
    }

    private struct Job {
        let body: (Int) -> Void
        let workers: Int
    }
}

/// An aligned float buffer: its own memory (sc_alloc: huge pages when large), freed with it, or a
/// piece of a `BufferArena`, which it keeps alive.
final class AlignedBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let arena: BufferArena?

    /// nil when the memory cannot be had (the executor then throws).
    init?(allocating count: Int) {
        guard let raw = Self.allocate(count) else { return nil }
        pointer = raw
        self.count = count
        arena = nil
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float>? {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        return overflow ? nil : sc_alloc(bytes)?.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    init?(count: Int, in arena: BufferArena) {
        guard let pointer = arena.allocate(count) else { return nil }
        self.count = count
        self.pointer = pointer
        self.arena = arena
    }

    /// A copy of `values`, or nil when the memory cannot be had.
    convenience init?(_ values: [Float]) {
        self.init(allocating: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { if arena == nil { sc_free(pointer) } }
}

/// Many small buffers (packed weights) carved out of large huge-page chunks, so that streaming them
/// costs few TLB misses. Pieces are 64-byte aligned and freed together with the arena.
final class BufferArena {
    private static let chunkBytes = 32 << 20
    private var chunks: [UnsafeMutableRawPointer] = []
    private var used = 0, capacity = 0

    /// nil when the memory cannot be had.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float>? {
        let bytes = (max(count, 1) * MemoryLayout<Float>.size + 63) / 64 * 64
        if used + bytes > capacity {
            let size = max(bytes, Self.chunkBytes)
            guard let chunk = sc_alloc(size) else { return nil }
            chunks.append(chunk)
            used = 0
            capacity = size
        }
        defer { used += bytes }
        return (chunks.last! + used).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { for chunk in chunks { sc_free(chunk) } }
}
