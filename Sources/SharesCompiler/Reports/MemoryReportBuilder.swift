/// The report's memory section (`--batch N`): the inference arena of the memory plan, and what training holds.
public enum MemoryReportBuilder {
    /// `arena` is the bytes of one image's arena, from the memory plan the compiler made for the graph.
    public static func build(_ graph: Graph, report: Report, arena: Int, batch: Int) throws(CompileFailure)
        -> Report.Memory
    {
        let location = graph.nodes.first?.location ?? Location(file: graph.source, line: 1, column: 1)
        let saved = TrainingMemory.savedActivations(graph)
        let weights = report.weightBytes, buffers = report.bufferBytes
        func checked(_ value: Int?) throws(CompileFailure) -> Int {
            guard let value else {
                throw CompileFailure(Diagnostic(at: location, .tensorTooLarge("the memory at --batch")))
            }
            return value
        }
        func sum(_ values: [Int]) throws(CompileFailure) -> Int {
            try checkedSum(values, at: location, "the memory at --batch")
        }
        let arenaBytes = try checked(Shape.checkedProduct([arena, batch]))
        let savedBytes = try checked(saved.bytes(batch: batch))
        let inferenceTotal = try sum([arenaBytes, weights, buffers])
        let held = try sum([weights, weights, buffers, savedBytes])
        return Report.Memory(
            batch: batch,
            inference: .init(
                arenaBytesPerImage: arena, arenaBytes: arenaBytes, weightBytes: weights, bufferBytes: buffers,
                totalBytes: inferenceTotal),
            training: .init(
                weightBytes: weights, gradientBytes: weights, bufferBytes: buffers, savedActivationBytes: savedBytes,
                savedActivationBytesPerImage: saved.perImage, sgdMomentumBytes: weights, adamBytes: 2 * weights,
                totalSGDMomentumBytes: try sum([held, weights]), totalAdamBytes: try sum([held, weights, weights])))
    }
}
