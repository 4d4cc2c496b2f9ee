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
        var neighbours = [[Int]](repeating: [], count: plan.buffers.count)
        for (a, b) in plan.liveTogether() {
            neighbours[a].append(b)
            neighbours[b].append(a)
        }
        let order = plan.buffers.indices.sorted { (plan.buffers[$0].firstStep, $0) < (plan.buffers[$1].firstStep, $1) }
        for index in order where plan.buffers[index].firstStep >= 0 {
            let step = program.steps[plan.buffers[index].firstStep]
            let partners = Set((step.inputs + step.outputs).map { plan.bufferOfValue[$0] }).subtracting([index])
                .sorted()
            guard !partners.isEmpty else { continue }
            let base = plan.buffers[index].offset
            func distance(_ shift: Int) -> Int {
                partners.map { partner in
                    let apart = (base + shift - plan.buffers[partner].offset) & (staggerPeriod - 1)
                    return min(apart, staggerPeriod - apart)
                }.min()!
            }
            // Farthest first; among equals, the smallest shift.
            let shifts = stride(from: 0, to: staggerPeriod, by: alignment).map { (distance: distance($0), shift: $0) }
                .sorted { ($0.distance, -$0.shift) > ($1.distance, -$1.shift) }.map(\.shift)
            let free = shifts.first { shift in
                var moved = plan.buffers[index]
                moved.offset = base + shift
                return neighbours[index].allSatisfy { !plan.buffers[$0].overlapsInMemory(moved) }
            }
            plan.buffers[index].offset += free ?? 0
        }
        plan.arenaBytes = plan.buffers.map { $0.offset + $0.bytes }.max() ?? 0
        return plan
    }
}
