/// Where every activation lives in one arena, for a given batch size.
///
/// Liveness comes from uses: a value is born at the step that writes it and dies after the last
/// step that reads it (the output lives to the end). A step whose overwritable input (any input of
/// an elementwise step, a convolution's residual) dies there writes over it (in-place), so the two
/// share one buffer: a residual convolution then reads and writes one stream instead of two.
/// Buffers are then placed largest first, each in the smallest gap that fits among the buffers whose
/// lifetimes overlap its own (greedy best fit, as TFLite Micro's planner). Weights never live in the
/// arena.
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
    }

    public var batch: Int
    public var buffers: [Buffer]
    /// Buffer index of each program value.
    public var bufferOfValue: [Int]
    public var arenaBytes: Int
    /// The most bytes simultaneously live: no placement can use less.
    public var lowerBoundBytes: Int

    public func offset(ofValue value: Int) -> Int { buffers[bufferOfValue[value]].offset }

    /// Pairs of buffers that are live at the same time and share bytes: must be empty.
    public func conflicts() -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        for a in buffers.indices {
            for b in buffers.indices where a < b && buffers[a].overlapsInTime(buffers[b]) {
                let x = buffers[a], y = buffers[b]
                if x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes { result.append((a, b)) }
            }
        }
        return result
    }
}

public enum MemoryPlanner {
    static let alignment = 64

    public static func plan(_ program: Program, batch: Int) -> MemoryPlan {
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
            buffers.append(.init(values: [value], bytes: bytes(value), offset: 0, firstStep: defined[value], lastStep: lastUse[value]))
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

        // Largest first; among equals, the earlier one. Each goes in the smallest gap that fits.
        let order = buffers.indices.sorted { (buffers[$0].bytes, -buffers[$0].firstStep) > (buffers[$1].bytes, -buffers[$1].firstStep) }
        var placed: [Int] = []
        for index in order {
            let buffer = buffers[index]
            let neighbours = placed.map { buffers[$0] }.filter { $0.overlapsInTime(buffer) }.sorted { $0.offset < $1.offset }
            var best: (offset: Int, gap: Int)?
            var cursor = 0
            for neighbour in neighbours {
                let gap = neighbour.offset - cursor
                if gap >= buffer.bytes && gap < (best?.gap ?? Int.max) { best = (cursor, gap) }
                cursor = max(cursor, neighbour.offset + neighbour.bytes)
            }
            buffers[index].offset = best?.offset ?? cursor
            placed.append(index)
        }

        var lowerBound = 0
        for step in -1...program.steps.count {
            lowerBound = max(lowerBound, buffers.filter { $0.firstStep <= step && step <= $0.lastStep }.reduce(0) { $0 + $1.bytes })
        }
        let arena = buffers.map { $0.offset + $0.bytes }.max() ?? 0
        return MemoryPlan(batch: batch, buffers: buffers, bufferOfValue: bufferOfValue, arenaBytes: arena, lowerBoundBytes: lowerBound)
    }
}
