import Testing

@testable import SharesCompiler

/// The memory planner against its former quadratic self, and on networks thousands of blocks deep.
struct MemoryPlannerTests {
    /// The planner finds its buffers' neighbours through an index of lifetimes instead of scanning every
    /// placed buffer, but places them as before: the placements (before staggering) are equal (offsets,
    /// arena and lower bound included) on every shipped network, so the arena is never larger.
    @Test(arguments: ArchitectureTests.table)
    func sameArenaAsTheQuadraticPlanner(_ expected: ArchitectureTests.Expected) throws {
        for sequential in [false, true] {
            let program = try shippedProgram(expected.file, sequential: sequential, overrides: expected.overrides)
            for batch in [1, 3] {
                let plan = MemoryPlanner.place(program, batch: batch)
                let reference = QuadraticPlanner.plan(program, batch: batch)
                let name = "\(expected.file) sequential \(sequential) batch \(batch)"
                #expect(plan.arenaBytes <= reference.arenaBytes, "\(name)")
                // Compared as a whole, but reported by the first buffer that differs, not as two whole plans.
                let same = plan == reference
                let buffer = plan.buffers.indices.first { plan.buffers[$0] != reference.buffers[$0] }
                #expect(same, "\(name): buffer \(buffer.map(String.init) ?? "none") differs")
            }
        }
    }

    @Test func conflictsSweepFindsWhatComparingEveryPairFinds() throws {
        // Every buffer at offset 0: every pair live at the same time conflicts.
        var plan = MemoryPlanner.plan(try shippedProgram("cifar/sharesnet-164.yaml", overrides: ["depth=56"]), batch: 1)
        #expect(plan.conflicts().isEmpty)
        for index in plan.buffers.indices { plan.buffers[index].offset = 0 }
        let found = plan.conflicts()
        #expect(!found.isEmpty)
        #expect(found.elementsEqual(QuadraticPlanner.conflicts(plan)) { $0 == $1 })
        // Half of them moved out of the way, in an order unlike their lifetimes'.
        for index in plan.buffers.indices where index % 3 != 0 { plan.buffers[index].offset = index * 1_000_000 }
        #expect(plan.conflicts().elementsEqual(QuadraticPlanner.conflicts(plan)) { $0 == $1 })
    }

    /// Every buffer starts, modulo 4 KiB, as far as it can from the other buffers of the step that first
    /// writes it (with one of them, half a page), without overlapping a buffer live at the same time and
    /// within the room placement left it.
    @Test(arguments: ArchitectureTests.table)
    func buffersAreStaggeredAcrossPages(_ expected: ArchitectureTests.Expected) throws {
        let program = try shippedProgram(expected.file, overrides: expected.overrides)
        for batch in [1, 3] {
            let plan = MemoryPlanner.plan(program, batch: batch)
            let roomy = MemoryPlanner.place(program, batch: batch, room: 4096 - 64)
            #expect(plan.conflicts().isEmpty)
            #expect(plan.arenaBytes <= roomy.arenaBytes + 4096 - 64)
            for (index, buffer) in plan.buffers.enumerated() where buffer.firstStep >= 0 {
                #expect(buffer.offset % 64 == 0)
                #expect((0..<4096).contains(buffer.offset - roomy.buffers[index].offset))
                let step = program.steps[buffer.firstStep]
                let partners = Set((step.inputs + step.outputs).map { plan.bufferOfValue[$0] }).subtracting([index])
                guard !partners.isEmpty else { continue }
                let apart = partners.map { partner in
                    let d = (buffer.offset - plan.buffers[partner].offset) & 4095
                    return min(d, 4096 - d)
                }.min()!
                #expect(apart >= 4096 / (2 * partners.count) - 64, "\(expected.file) \(step.name): \(apart) bytes")
            }
        }
    }

    @Test func deepNetworkHasNoOverlap() throws {
        // 666 blocks, about 2,000 buffers.
        let program = try shippedProgram("cifar/sharesnet-164.yaml", overrides: ["depth=2000"])
        for batch in [1, 3] {
            let plan = MemoryPlanner.plan(program, batch: batch)
            #expect(plan.buffers.count > 1_900)
            #expect(plan.conflicts().isEmpty)
            #expect(plan.arenaBytes >= plan.lowerBoundBytes)
            // Live buffers stay a few whatever the depth: the arena is no larger than the 164-layer network's.
            let shallow = MemoryPlanner.plan(try shippedProgram("cifar/sharesnet-164.yaml"), batch: batch)
            #expect(plan.arenaBytes == shallow.arenaBytes)
        }
    }
}

/// The planner's placement as it was before lifetimes were indexed (verbatim but for its name): best fit
/// by scanning every placed buffer for each new one, the lower bound by filtering every buffer at each
/// step. The buffers and their lifetimes are the planner's own (`MemoryPlanner.unplacedBuffers`).
enum QuadraticPlanner {
    static func plan(_ program: Program, batch: Int) -> MemoryPlan {
        let (unplaced, bufferOfValue) = MemoryPlanner.unplacedBuffers(program, batch: batch)
        var buffers = unplaced
        // Largest first; among equals, the earlier one. Each goes in the smallest gap that fits.
        let order = buffers.indices.sorted {
            (buffers[$0].bytes, -buffers[$0].firstStep) > (buffers[$1].bytes, -buffers[$1].firstStep)
        }
        var placed: [Int] = []
        for index in order {
            let buffer = buffers[index]
            let neighbours = placed.map { buffers[$0] }.filter { $0.overlapsInTime(buffer) }.sorted {
                $0.offset < $1.offset
            }
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
            lowerBound = max(
                lowerBound, buffers.filter { $0.firstStep <= step && step <= $0.lastStep }.reduce(0) { $0 + $1.bytes })
        }
        let arena = buffers.map { $0.offset + $0.bytes }.max() ?? 0
        return MemoryPlan(
            batch: batch, buffers: buffers, bufferOfValue: bufferOfValue, arenaBytes: arena, lowerBoundBytes: lowerBound
        )
    }

    /// `MemoryPlan.conflicts()` as it was: every pair compared.
    static func conflicts(_ plan: MemoryPlan) -> [(Int, Int)] {
        let buffers = plan.buffers
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
