import CKernels

/// Decides how each step of one image shares the threads (when an image runs on all of them): along
/// what its work is cut and into how many pieces, which go to whichever thread is free.
///
/// A convolution's work is output pixels (or Winograd's tiles of them) x panels of 16 output
/// channels. It is cut into up to four pieces per thread of at least 64 row tiles or 2 panels (a
/// piece reads all of its panels' weights, so smaller ones would read the weights more often than
/// they balance load), along whichever leaves the least work on the busiest thread, reckoned with the
/// pieces as cut (MobileNetV2's 16 -> 96 expansion in 3 pieces of 2 panels left 4 of its 6 panels to
/// one of two threads) and a panel of 8 channels as half of one of 16. Loads within 5% tie, and then
/// the split that moves less data wins: panels when the weights outweigh the inputs (each thread
/// streams only its share of them), else pixels (each thread reads only its own pixels, which the
/// steps before, cut the same way, left in its cache). On a Zen 1 host at batch 1 on two threads, per
/// step against the plan's other steps, pixels instead of panels: sharesnet-164's 16 x 16 1x1s 0.67
/// (loads 2-3% apart), MobileNetV2's 14 x 14 projections 0.97; panels instead of pixels: EfficientNet-
/// B0's 14 x 14 expansions 0.93.
/// Winograd cuts its tiles, each piece transforming the input of its own tiles only, unless they are
/// too few to give each thread more than one chunk of 8 and its weights are too large to share a
/// core's L2 with the rest (over 256 KiB): then its panels, one piece per thread, each transforming
/// every tile (sharewrn-40-4's 16 x 16 and 8 x 8 maps, 2.3 and 4 MiB of weights, 0.88 and 0.79; its
/// 32 x 32 maps, 64 tiles, 1.09; sharesnet-164's 16 x 16 maps, 144 KiB, tiles instead of panels 0.88).
/// Depthwise convolutions cut their pixels only.
public enum Scheduling {
    public static func run(_ program: Program, algorithms: [Algorithm], threads: Int) -> Schedule {
        Schedule(
            threads: threads,
            steps: program.steps.indices.map { index in
                schedule(program, step: index, algorithm: algorithms[index], threads: threads)
            })
    }

    static func schedule(_ program: Program, step index: Int, algorithm: Algorithm, threads: Int) -> StepSchedule {
        let step = program.steps[index]
        if let geometry = program.convGeometry(of: step, algorithm: algorithm) {
            let inputFloats = step.inputs.reduce(0) { $0 + program.values[$1].elements }
            return convolution(geometry, algorithm: algorithm, inputFloats: inputFloats, threads: threads)
        }
        let split = fixedSplit(of: step.kernel)
        let pieces: Int
        switch split {
        case .pixels, .values: pieces = threads
        case .rows: pieces = min(threads, program.values[step.output].shape.height)
        case .panels, .whole: pieces = 1
        }
        // A linear layer is cut by output features only where its weights take long to stream (a
        // classifier's 1280 x 1000); a small one costs less than the threads' meeting.
        if case .linear(let weight, _, _) = step.kernel, program.parameters[weight].shape.reduce(1, *) < 1 << 16 {
            return StepSchedule(algorithm: algorithm, split: split, pieces: 1)
        }
        return StepSchedule(algorithm: algorithm, split: split, pieces: pieces)
    }

    private static func convolution(
        _ geometry: sc_conv_geometry, algorithm: Algorithm, inputFloats: Int, threads: Int
    ) -> StepSchedule {
        guard threads > 1 else { return StepSchedule(algorithm: algorithm, split: .pixels, pieces: 1) }
        let work = ConvolutionWork(geometry)
        // Winograd tiles too few to give each thread more than one chunk, and weights too large for
        // every thread to read them all: each thread takes a piece of the panels (and every tile).
        let largeWeights = geometry.packedFloats * MemoryLayout<Float>.size > winogradSharedWeightBytes
        if geometry.isWinograd && work.rowTiles <= threads && largeWeights && work.panelCosts.count > 1 {
            return StepSchedule(algorithm: algorithm, split: .panels, pieces: min(threads, work.panelCosts.count))
        }
        let pixelPieces = min(max(work.rowTiles / 64, threads), 4 * threads)
        // A depthwise convolution's work is mostly per pixel (its pointers and edges, and all of its
        // input for a few FMAs per value): cut into panels of 16 of its 32 channels, it did all of that
        // on both threads and ran no faster on two than on one. So pixels, always.
        guard !geometry.isDepthwise, !geometry.isWinograd, work.panelCosts.count > 1 else {
            return StepSchedule(algorithm: algorithm, split: .pixels, pieces: pixelPieces)
        }
        let pixelLoad = busiestLoad(pieces: pixelPieces, threads: threads) { work.ofRows($0, of: pixelPieces) }
        let panelPieces = min(max(work.panelCosts.count / 2, threads), 4 * threads, work.panelCosts.count)
        let panelLoad = busiestLoad(pieces: panelPieces, threads: threads) { work.ofPanels($0, of: panelPieces) }
        // Loads within 5% of each other tie (the rounding of pieces to whole tiles, and a pixel piece's
        // longer runs of rows): then the split that moves less data wins. Cut by panels, each thread
        // streams only its share of the weights; cut by pixels, each reads only its own pixels of the
        // inputs, which the previous steps' same cut left in its own cache.
        let tie = abs(panelLoad - pixelLoad) * 20 <= pixelLoad
        let splitPanels = tie ? geometry.packedFloats > inputFloats : panelLoad < pixelLoad
        return StepSchedule(
            algorithm: algorithm, split: splitPanels ? .panels : .pixels,
            pieces: splitPanels ? panelPieces : pixelPieces)
    }

    /// Winograd weights every thread may read whole: half of a 512 KiB L2.
    static let winogradSharedWeightBytes = 256 << 10

    /// A convolution's work in micro-tiles: rows of 6 output pixels (chunks of 8 Winograd tiles) x
    /// half panels, a panel of at most 8 output channels costing half a full one.
    struct ConvolutionWork {
        let rows: Int, rowTiles: Int, tileRows: Int, granule: Int
        let panelCosts: [Int]

        init(_ geometry: sc_conv_geometry) {
            rows = geometry.rows
            tileRows = geometry.isWinograd ? 8 : 6
            granule = StepSchedule.convolutionRowGranule(winograd: geometry.isWinograd)
            rowTiles = (rows + tileRows - 1) / tileRows
            if geometry.isDepthwise {  // panels of 16 channels across the groups (cut by pixels only)
                panelCosts = Array(repeating: 2, count: geometry.panels)
                return
            }
            let groups = max(Int(geometry.groups), 1), perGroup = Int(geometry.out_channels) / groups
            let groupCosts = (0..<(perGroup + 15) / 16).map { min(perGroup - 16 * $0, 16) <= 8 ? 1 : 2 }
            panelCosts = Array(repeating: groupCosts, count: groups).flatMap { $0 }
        }

        /// Piece `piece` of `pieces` cut along the pixels, as the executor cuts it.
        func ofRows(_ piece: Int, of pieces: Int) -> Int {
            let range = share(of: rows, worker: piece, of: pieces, granule: granule)
            return (range.count + tileRows - 1) / tileRows * panelCosts.reduce(0, +)
        }

        /// Piece `piece` of `pieces` cut along the panels.
        func ofPanels(_ piece: Int, of pieces: Int) -> Int {
            rowTiles * panelCosts[share(of: panelCosts.count, worker: piece, of: pieces)].reduce(0, +)
        }
    }

    /// The busiest thread's work when pieces `0..<pieces` (of work `work(piece)`) are claimed in
    /// order, each by whichever thread is free first (as the worker pool hands them out).
    static func busiestLoad(pieces: Int, threads: Int, work: (Int) -> Int) -> Int {
        var loads = [Int](repeating: 0, count: threads)
        for piece in 0..<pieces {
            let freest = loads.indices.min { loads[$0] < loads[$1] }!
            loads[freest] += work(piece)
        }
        return loads.max()!
    }

    /// How a step other than a convolution is cut (its schedule's `split` must be this, or `whole` in
    /// one piece): a scale-and-shift, a layer scale and layer normalization by pixels, elementwise steps
    /// by values, a linear layer by its output values, pooling by output rows, the rest never
    /// (squeeze-and-excitation pools the whole image first; cutting only its scaling pass into pieces
    /// measured no faster on two threads, EfficientNet-B0's steps 0.61-0.63 ms on one, 0.63-0.67 on two).
    static func fixedSplit(of kernel: Program.Kernel) -> StepSchedule.Split {
        switch kernel {
        case .conv, .scaleShift, .layerScale, .layerNorm: return .pixels
        case .add, .relu, .activation, .linear: return .values
        case .maxPool, .avgPool: return .rows
        case .globalAvgPool, .subsamplePad, .flatten, .squeezeExcite: return .whole
        }
    }

    /// The most threads a schedule may be made for (as `--threads` allows), and pieces per step.
    static let maximumThreads = 256, maximumPieces = 1 << 16

    /// What makes a schedule (read from a plan file) unfit to run its program, or nil: each convolution
    /// by an algorithm the kernels support for its geometry, every other step by its kernel, split its
    /// kernel's way, into a sane number of pieces. Any such schedule computes the same values; the
    /// compiler's own is one of them.
    static func problem(in schedule: Schedule, for program: Program) -> String? {
        guard (1...maximumThreads).contains(schedule.threads) else {
            return "threads is \(schedule.threads); expected 1 to \(maximumThreads)"
        }
        guard schedule.steps.count == program.steps.count else {
            return "it has \(schedule.steps.count) steps, but the program has \(program.steps.count)"
        }
        for (step, entry) in zip(program.steps, schedule.steps) {
            let name = "step '\(step.name)'"
            guard (1...maximumPieces).contains(entry.pieces) else {
                return "\(name) has \(entry.pieces) pieces; expected 1 to \(maximumPieces)"
            }
            if let geometry = program.convGeometry(of: step, algorithm: entry.algorithm) {
                guard entry.algorithm != .kernel, geometry.isSupported else {
                    return "\(name) cannot run by '\(entry.algorithm.rawValue)'"
                }
                guard entry.split == .pixels || entry.split == .panels else {
                    return "\(name) cannot split by \(entry.split)"
                }
            } else {
                guard entry.algorithm == .kernel else {
                    return "\(name) is not a convolution, so it runs by its kernel"
                }
                guard entry.split == fixedSplit(of: step.kernel) || entry.split == .whole else {
                    return "\(name) cannot split by \(entry.split)"
                }
                guard entry.split != .whole || entry.pieces == 1 else {
                    return "\(name) is split whole, so into 1 piece, not \(entry.pieces)"
                }
            }
        }
        return nil
    }
}
