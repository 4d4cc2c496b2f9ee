/// Where every activation lives in one arena, for a given batch size.
///
/// Liveness comes from uses: a value is born at the step that writes it and dies after the last
/// step that reads it (the output lives to the end). A step whose overwritable input (any input of
/// an elementwise step, a convolution's residual) dies there writes over it (in-place), so the two
/// share one buffer: a residual convolution then reads and writes one stream instead of two.
/// Buffers are then placed largest first, each in the smallest gap that fits among the buffers whose
/// lifetimes overlap its own (greedy best fit, as TFLite Micro's planner), found through an index of
/// lifetimes rather than by scanning every placed buffer (`MemoryPlanner.bestFitOffsets`). Weights never
/// live in the arena.
public struct MemoryPlan: Codable, Hashable, Sendable {
    public struct Buffer: Codable, Hashable, Sendable {
        /// The program values stored here, in order of definition (more than one after in-place reuse).
        public var values: [Int]
        public var bytes: Int
        public var offset: Int
        /// First step that writes it (-1: the network input, written before step 0) and last step that reads it.
        public var firstStep: Int
        public var lastStep: Int

        func overlapsInTime(_ other: Buffer) -> Bool { firstStep <= other.lastStep && other.firstStep <= lastStep }
        func overlapsInMemory(_ other: Buffer) -> Bool {
            offset < other.offset + other.bytes && other.offset < offset + bytes
        }
    }

    public var batch: Int
    public var buffers: [Buffer]
    /// Buffer index of each program value.
    public var bufferOfValue: [Int]
    public var arenaBytes: Int
    /// The most bytes simultaneously live: no placement can use less.
    public var lowerBoundBytes: Int

    public func offset(ofValue value: Int) -> Int { buffers[bufferOfValue[value]].offset }

    /// Pairs of buffers that are live at the same time and share bytes: must be empty. Ordered by the
    /// first buffer, then the second.
    ///
    /// A sweep in order of first step compares each buffer only with the earlier ones still live when it
    /// starts: O(n log n) plus the number of pairs live at the same time.
    public func conflicts() -> [(Int, Int)] {
        liveTogether().filter { buffers[$0].overlapsInMemory(buffers[$1]) }.map { (min($0, $1), max($0, $1)) }
            .sorted { $0 < $1 }
    }

    /// Every pair of buffers live at some step together, each once (the one first written first), by a
    /// sweep in order of first step that compares each buffer only with the earlier ones still live.
    func liveTogether() -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        var live: [Int] = []
        for b in buffers.indices.sorted(by: { (buffers[$0].firstStep, $0) < (buffers[$1].firstStep, $1) }) {
            live.removeAll { buffers[$0].lastStep < buffers[b].firstStep }
            result += live.map { ($0, b) }
            live.append(b)
        }
        return result
    }
}

public enum MemoryPlanner {
    static let alignment = 64

    /// The buffers placed (`place`), then staggered across pages (`stagger`): what the executor uses.
    public static func plan(_ program: Program, batch: Int) -> MemoryPlan {
        stagger(place(program, batch: batch, room: staggerPeriod - alignment), program: program)
    }

    /// The buffers placed by best fit, every offset a multiple of 64 bytes, each with `room` bytes free
    /// after it (to be staggered into).
    static func place(_ program: Program, batch: Int, room: Int = 0) -> MemoryPlan {
        let (unplaced, bufferOfValue) = unplacedBuffers(program, batch: batch)
        var buffers = unplaced
        // Largest first; among equals, the earlier one. Each goes in the smallest gap that fits.
        let order = buffers.indices.sorted {
            (buffers[$0].bytes, -buffers[$0].firstStep) > (buffers[$1].bytes, -buffers[$1].firstStep)
        }
        let roomy = buffers.map { buffer in
            var roomy = buffer
            roomy.bytes += room
            return roomy
        }
        let offsets = bestFitOffsets(roomy, order: order, steps: program.steps.count)
        for index in buffers.indices { buffers[index].offset = offsets[index] }

        // The most bytes live at once, by a sweep over steps: a buffer's bytes count from its first step
        // through its last.
        var change = [Int](repeating: 0, count: program.steps.count + 3)
        for buffer in buffers {
            change[buffer.firstStep + 1] += buffer.bytes
            change[buffer.lastStep + 2] -= buffer.bytes
        }
        var live = 0, lowerBound = 0
        for delta in change {
            live += delta
            lowerBound = max(lowerBound, live)
        }
        let arena = buffers.map { $0.offset + $0.bytes }.max() ?? 0
        return MemoryPlan(
            batch: batch, buffers: buffers, bufferOfValue: bufferOfValue, arenaBytes: arena, lowerBoundBytes: lowerBound
        )
    }

    /// The buffers, not yet placed (offset 0), and the buffer of each value: each value's lifetime from its
    /// uses, and the in-place reuses.
    static func unplacedBuffers(_ program: Program, batch: Int) -> (buffers: [MemoryPlan.Buffer], ofValue: [Int]) {
        let count = program.values.count
        var defined = [Int](repeating: -1, count: count)
        var lastUse = [Int](repeating: -1, count: count)
        for (index, step) in program.steps.enumerated() {
            for output in step.outputs { defined[output] = index }
            for input in step.inputs { lastUse[input] = max(lastUse[input], index) }
        }
        lastUse[program.output] = program.steps.count
        // A value nobody reads still occupies its buffer while its step writes it.
        for value in 0..<count where defined[value] >= 0 { lastUse[value] = max(lastUse[value], defined[value]) }

        // In-place: a step's output takes over an overwritable input that dies at that step (and is not
        // also read another way, as a convolution reading its own residual).
        var bufferOfValue = [Int](repeating: -1, count: count)
        var buffers: [MemoryPlan.Buffer] = []
        func bytes(_ value: Int) -> Int {
            let raw = program.values[value].elements * batch * MemoryLayout<Float>.size
            return (raw + alignment - 1) / alignment * alignment
        }
        func newBuffer(_ value: Int) {
            bufferOfValue[value] = buffers.count
            buffers.append(
                .init(
                    values: [value], bytes: bytes(value), offset: 0, firstStep: defined[value], lastStep: lastUse[value]
                ))
        }
        newBuffer(program.input)
        for (index, step) in program.steps.enumerated() {
            let reusable = step.kernel.overwritableInputs.map { step.inputs[$0] }.first { input in
                lastUse[input] == index && bytes(input) == bytes(step.output) && input != program.output
                    && step.inputs.filter({ $0 == input }).count == 1
            }
            if let input = reusable {
                let buffer = bufferOfValue[input]
                bufferOfValue[step.output] = buffer
                buffers[buffer].values.append(step.output)
                buffers[buffer].lastStep = lastUse[step.output]
            } else if bufferOfValue[step.output] < 0 {
                newBuffer(step.output)
            }
            if let second = step.preActivationOutput, bufferOfValue[second] < 0 { newBuffer(second) }
        }
        return (buffers, bufferOfValue)
    }

    /// Greedy best fit: the buffers in `order` each go in the lowest of the smallest gaps that fit among the
    /// already placed buffers whose lifetimes overlap its own, else above the highest of them.
    ///
    /// A buffer live over steps [a, b] overlaps the placed buffers live at step a and those first written in
    /// (a, b], nothing else. The former come from a segment tree over steps (each placed lifetime is stored
    /// in O(log steps) nodes; a stabbing query at a walks from a's leaf to the root), the latter from lists of
    /// placed buffers by first step. Only those neighbours are sorted by offset (ties in order of placement,
    /// as a stable sort of all placed buffers would leave them) and scanned for gaps. With n buffers and k
    /// neighbours each, this costs O(n log n + n k log k + the sum of lifetimes); in residual networks k and
    /// the lifetimes stay a few steps, whatever the depth.
    static func bestFitOffsets(_ buffers: [MemoryPlan.Buffer], order: [Int], steps: Int) -> [Int] {
        // Steps -1 (the network input) through `steps` (the output, read after the last step), counted from 0.
        let leaves = steps + 2
        let first = buffers.map { $0.firstStep + 1 }, last = buffers.map { $0.lastStep + 1 }
        // Singly linked lists in flat arrays, -1 ending each: the placed buffers stored at each tree node
        // (leaf `leaves + s` for the step counted s, node i's parent at i / 2) and those first written at each step.
        var nodeHead = [Int](repeating: -1, count: 2 * leaves)
        var entryBuffer: [Int] = [], entryNext: [Int] = []
        var startHead = [Int](repeating: -1, count: leaves)
        var startNext = [Int](repeating: -1, count: buffers.count)
        func store(_ buffer: Int, at node: Int) {
            entryBuffer.append(buffer)
            entryNext.append(nodeHead[node])
            nodeHead[node] = entryBuffer.count - 1
        }

        var offsets = [Int](repeating: 0, count: buffers.count)
        var placement = [Int](repeating: 0, count: buffers.count)  // when each was placed
        var neighbours: [Int] = []
        for (rank, index) in order.enumerated() {
            let bytes = buffers[index].bytes
            neighbours.removeAll(keepingCapacity: true)
            var node = leaves + first[index]
            while node > 0 {
                var entry = nodeHead[node]
                while entry >= 0 {
                    neighbours.append(entryBuffer[entry])
                    entry = entryNext[entry]
                }
                node /= 2
            }
            var step = first[index] + 1
            while step <= last[index] {
                var other = startHead[step]
                while other >= 0 {
                    neighbours.append(other)
                    other = startNext[other]
                }
                step += 1
            }
            neighbours.sort { (offsets[$0], placement[$0]) < (offsets[$1], placement[$1]) }

            var best: (offset: Int, gap: Int)?
            var cursor = 0
            for neighbour in neighbours {
                let gap = offsets[neighbour] - cursor
                if gap >= bytes && gap < (best?.gap ?? Int.max) { best = (cursor, gap) }
                cursor = max(cursor, offsets[neighbour] + buffers[neighbour].bytes)
            }
            offsets[index] = best?.offset ?? cursor
            placement[index] = rank

            // Store its lifetime in the tree: the canonical nodes covering leaves first...last.
            var low = leaves + first[index], high = leaves + last[index] + 1
            while low < high {
                if low % 2 == 1 {
                    store(index, at: low)
                    low += 1
                }
                if high % 2 == 1 {
                    high -= 1
                    store(index, at: high)
                }
                low /= 2
                high /= 2
            }
            startNext[index] = startHead[first[index]]
            startHead[first[index]] = index
        }
        return offsets
    }
}
