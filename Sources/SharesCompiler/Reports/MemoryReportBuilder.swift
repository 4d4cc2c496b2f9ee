/// The report's memory section (`--batch N`): the inference arena of the memory plan, and what training holds.
public enum MemoryReportBuilder {
    public static func build(_ graph: Graph, report: Report, batch: Int) throws(CompileFailure) -> Report.Memory {
        let location = graph.nodes.first?.location ?? Location(file: graph.source, line: 1, column: 1)
        let arena = MemoryPlanner.plan(Fusion.run(graph), batch: 1).arenaBytes
        let saved = TrainingMemory.savedActivations(graph)
        let weights = report.weightBytes, buffers = report.bufferBytes
        func checked(_ value: Int?) throws(CompileFailure) -> Int {
            guard let value else {
                throw CompileFailure(Diagnostic(at: location, .tensorTooLarge("the memory at --batch")))
            }
            return value
        }
        let arenaBytes = try checked(Shape.checkedProduct([arena, batch]))
        let savedBytes = try checked(saved.bytes(batch: batch))
        let inferenceTotal = try checkedSum([arenaBytes, weights, buffers], at: location, "the memory at --batch")
        let held = try checkedSum([weights, weights, buffers, savedBytes], at: location, "the memory at --batch")
        return Report.Memory(
            batch: batch,
            inference: .init(
                arenaBytesPerImage: arena, arenaBytes: arenaBytes, weightBytes: weights, bufferBytes: buffers,
                totalBytes: inferenceTotal),
            training: .init(
                weightBytes: weights, gradientBytes: weights, bufferBytes: buffers, savedActivationBytes: savedBytes,
                savedActivationBytesPerImage: saved.perImage, sgdMomentumBytes: weights, adamBytes: 2 * weights,
                totalSGDMomentumBytes: try checkedSum([held, weights], at: location, "the memory at --batch"),
                totalAdamBytes: try checkedSum([held, weights, weights], at: location, "the memory at --batch")))
    }
}
