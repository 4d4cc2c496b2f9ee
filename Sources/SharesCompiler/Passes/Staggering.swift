extension MemoryPlanner {
    /// Bytes after which the low address bits repeat: the page, and the span of L1's sets.
    static let staggerPeriod = 4096

    /// Moves each buffer up by a multiple of 64 bytes below 4 KiB, within the room `plan` leaves after
    /// it, so that it starts as far as it can, modulo 4 KiB, from the other buffers of the step that
    /// first writes it (its inputs, its second output); never over a buffer live at the same time.
    ///
    /// Best fit packs buffers whose sizes are mostly multiples of 4 KiB, so a step's input and output
    /// used to start at the same address modulo 4 KiB: a kernel streaming both then loads addresses
    /// whose low 12 bits match its recent stores' and that fall in the same L1 sets (what it measured:
    /// README, Memory).
    static func stagger(_ placed: MemoryPlan, program: Program) -> MemoryPlan {
        var plan = placed
        let neighbours = liveTogether(plan.buffers)
        let order = plan.buffers.indices.sorted { (plan.buffers[$0].firstStep, $0) < (plan.buffers[$1].firstStep, $1) }
        for index in order where plan.buffers[index].firstStep >= 0 {
            let step = program.steps[plan.buffers[index].firstStep]
            let partners = Set((step.inputs + step.outputs).map { plan.bufferOfValue[$0] }).subtracting([index])
                .sorted()
            guard !partners.isEmpty else { continue }
            let base = plan.buffers[index].offset, bytes = plan.buffers[index].bytes
            func distance(_ shift: Int) -> Int {
                partners.map { partner in
                    let apart =
                        ((base + shift - plan.buffers[partner].offset) % staggerPeriod + staggerPeriod) % staggerPeriod
                    return min(apart, staggerPeriod - apart)
                }.min()!
            }
            let shifts = stride(from: 0, to: staggerPeriod, by: alignment).sorted {
                (-distance($0), $0) < (-distance($1), $1)
            }
            let free = shifts.first { shift in
                neighbours[index].allSatisfy { other in
                    let o = plan.buffers[other]
                    return base + shift + bytes <= o.offset || o.offset + o.bytes <= base + shift
                }
            }
            plan.buffers[index].offset += free ?? 0
        }
        plan.arenaBytes = plan.buffers.map { $0.offset + $0.bytes }.max() ?? 0
        return plan
    }

    /// For each buffer, the others live at some step of its lifetime: by a sweep in order of first step.
    static func liveTogether(_ buffers: [MemoryPlan.Buffer]) -> [[Int]] {
        var result = [[Int]](repeating: [], count: buffers.count)
        var live: [Int] = []
        for b in buffers.indices.sorted(by: { (buffers[$0].firstStep, $0) < (buffers[$1].firstStep, $1) }) {
            live.removeAll { buffers[$0].lastStep < buffers[b].firstStep }
            for a in live {
                result[a].append(b)
                result[b].append(a)
            }
            live.append(b)
        }
        return result
    }
}
