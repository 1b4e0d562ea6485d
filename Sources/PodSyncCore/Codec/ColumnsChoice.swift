/// Whether a frame goes with the COLUMNS transform or without it (transposed and compressed whole).
///
/// COLUMNS sends noisy byte columns raw and sparse ones as bitmaps, which saves zstd time on big
/// frames; on frames of a few hundred records zstd would often have shrunk those columns anyway
/// (12-byte records, 200 changed a tick: 33% more bytes with COLUMNS: benchmarks/c/
/// small_records_bench.c, its rows "every transform" and "all but COLUMNS", against library
/// 0.7.0, which always used COLUMNS). So a small frame is packed both ways and the smaller one is
/// sent: no frame is larger than its transposed-and-compressed encoding. A large frame is
/// packed both ways every `trialPeriod`-th time, and the other large frames follow the last result.
struct ColumnsChoice {
    /// Frames (plain bytes) up to this size are always packed both ways.
    static let alwaysBelow = 32 << 10
    static let trialPeriod = 16

    /// What the last trial of a large frame found.
    private(set) var useColumns = true
    private var framesUntilTrial = 0

    /// Whether this frame is packed both ways (counts the large ones towards the next trial).
    mutating func tryBoth(frameBytes: Int) -> Bool {
        if frameBytes <= Self.alwaysBelow { return true }
        if framesUntilTrial > 0 {
            framesUntilTrial -= 1
            return false
        }
        framesUntilTrial = Self.trialPeriod - 1
        return true
    }

    /// The packed sizes of a frame packed both ways (the plain size where packing did not pay).
    mutating func learn(with: Int, without: Int, frameBytes: Int) {
        if frameBytes > Self.alwaysBelow { useColumns = with <= without }
    }
}
