/// What runs: the fused program, how each step runs (its algorithm and its split over threads) and
/// where every activation lives. The backend passes make each decision (`AlgorithmSelection`,
/// `Scheduling`, `MemoryPlanner`); the executor acts on this and nothing else, and a plan file holds it.
public struct Plan: Codable, Hashable, Sendable {
    public var program: Program
    public var schedule: Schedule
    /// One image's arena: the executor runs a batch image by image, one arena per thread.
    public var memory: MemoryPlan

    public init(program: Program, schedule: Schedule, memory: MemoryPlan) {
        self.program = program
        self.schedule = schedule
        self.memory = memory
    }

    /// The algorithm of step `index` as printed: the convolution's (`winograd-f4x4`), or the kernel's name.
    public func algorithmName(ofStep index: Int) -> String {
        let algorithm = schedule.steps[index].algorithm
        return algorithm == .kernel ? program.steps[index].kernel.kind : algorithm.rawValue
    }
}

/// How a convolution runs; every other step runs by its kernel's one implementation (`kernel`).
public enum Algorithm: String, Codable, Hashable, Sendable, CaseIterable {
    /// Indirect GEMM: output pixels x output channels, reading inputs through a table of pointers.
    case igemm
    /// 1x1, stride 1, no padding: a GEMM over the input's pixel rows in place.
    case gemm1x1 = "gemm-1x1"
    /// One input channel per group: a per-channel loop instead of a GEMM.
    case depthwise
    /// 2 or 4 input and output channels per group: depthwise's loop, each input vector's lanes
    /// exchanged within their group so that every lane meets its group's inputs (a GEMM panel of 16
    /// output channels would hold 2 or 4 of them, the rest zeros).
    case grouped
    /// Winograd's minimal filtering F(2x2, 3x3) and F(4x4, 3x3), over tiles of output pixels.
    case winogradF2 = "winograd-f2x2"
    case winogradF4 = "winograd-f4x4"
    /// Not a convolution.
    case kernel

    /// m of Winograd's F(m x m, 3x3); nil for other algorithms.
    public var winogradTile: Int? {
        switch self {
        case .winogradF2: return 2
        case .winogradF4: return 4
        case .igemm, .gemm1x1, .depthwise, .grouped, .kernel: return nil
        }
    }
}

/// How the steps share the threads. A batch's images run side by side, one per thread, each in an
/// arena of its own, every step whole on its thread; images left over when fewer remain than threads
/// run one at a time, every step cut into `pieces` that go to whichever thread is free.
public struct Schedule: Codable, Hashable, Sendable {
    public var threads: Int
    /// One per program step, in order.
    public var steps: [StepSchedule]
}

public struct StepSchedule: Codable, Hashable, Sendable {
    public var algorithm: Algorithm
    /// Along what an image's step is cut for the threads.
    public var split: Split
    /// How many pieces (1: the step runs whole on one thread).
    public var pieces: Int
    /// A convolution's pieces of pixels are multiples of this many: a whole number of every level's
    /// micro-tiles. Winograd's pieces of tiles are multiples of 4 (its GEMMs run over a chunk's tiles,
    /// whatever their number): cut in 12s, a map of 16 tiles left 12 of them to one of two threads.
    static func convolutionRowGranule(winograd: Bool) -> Int { winograd ? 4 : 12 }

    public enum Split: String, Codable, Hashable, Sendable, CaseIterable {
        /// Output pixels (for Winograd, its tiles of output pixels), every piece all output channels.
        case pixels
        /// Panels of 16 output channels, every piece all output pixels.
        case panels
        /// Rows of the output map.
        case rows
        /// The values, in runs of 64.
        case values
        /// Never cut.
        case whole
    }
}

/// The part of `0..<count` that worker (or piece) `index` of `workers` takes, in multiples of
/// `granule`: how the executor cuts a step into its pieces, and how the scheduler reckons their work.
func share(of count: Int, worker index: Int, of workers: Int, granule: Int = 1) -> Range<Int> {
    let granules = (count + granule - 1) / granule
    let begin = granules * index / workers * granule, end = granules * (index + 1) / workers * granule
    return min(begin, count)..<min(end, count)
}
