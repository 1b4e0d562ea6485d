import CZstd

/// Which byte columns of a table's transposed records are worth compressing (the COLUMNS
/// transform, docs/FORMAT.md).
///
/// Columns of noise (the low mantissa bytes of a moving float) cost zstd time and save nothing;
/// they travel uncompressed. Which columns those are is a property of the data stream, not of one
/// frame, so it is learned by trial and remembered, per table and kind of frame (records mostly
/// XOR-ed against earlier values, or mostly absolute): each non-zero column's first `sampleBytes`
/// bytes are compressed on their own, and columns that zstd does not shrink to half their size are marked raw
/// until the next trial. Trials come after 1, 2, 4 … frames, then every `trialPeriod` frames, so
/// a stream that changes character (a bulk load, then small updates) is re-learned quickly.
/// All-zero columns are found exactly in every frame.
struct ColumnAdvice {
    /// A column is compressed when zstd shrinks its sample to under this percentage: zstd spends
    /// about 3 ns a byte on such columns, too much for one that saves less than half (measured
    /// with benchmarks/run-codec and this constant at 75: the 1% tick of 100,000 entities took
    /// ~17% more time for ~9% fewer bytes).
    static let codedBelowPercent = 50
    static let trialPeriod = 64
    static let sampleBytes = 4096
    /// Fewer rows than this teach nothing: every non-zero column is compressed, nothing learned.
    static let minimumTrialRows = 64

    private struct Entry {
        var raw: [Bool]
        var framesUntilTrial: Int
        var trialsDone: Int
    }

    private var entries: [UInt64: Entry] = [:]
    /// Trials run so far (for tests and metrics).
    private(set) var trials = 0

    /// For each column of `rows` × `size` transposed bytes at `columns` (column c at c × rows):
    /// whether to store it raw. `xor`: most records are XOR-ed against earlier values. Runs a
    /// trial when one is due.
    mutating func rawColumns(
        table: UInt32, xor: Bool, columns: UnsafeRawPointer, rows: Int, size: Int, level: Int32,
        zstd: inout ZstdContexts, scratch: inout ByteBuffer
    ) -> [Bool] {
        guard rows >= Self.minimumTrialRows else { return [Bool](repeating: false, count: size) }
        let key = UInt64(table) << 1 | (xor ? 1 : 0)
        var trialsDone = 0
        if var entry = entries[key], entry.raw.count == size {
            if entry.framesUntilTrial > 0 {
                entry.framesUntilTrial -= 1
                entries[key] = entry
                return entry.raw
            }
            trialsDone = entry.trialsDone
        }
        trials += 1
        let sample = min(rows, Self.sampleBytes)
        let bound = ZSTD_compressBound(sample)
        scratch.reserve(bound, preserving: 0)
        var raw = [Bool](repeating: false, count: size)
        for c in 0..<size {
            let column = columns + c &* rows
            if FrameReader.isZero(column, sample) { continue }
            let compressed = zstd.compress(scratch.base, capacity: bound, column, count: sample, level: level, useDictionary: false)
            raw[c] = ZSTD_isError(compressed) != 0 || compressed &* 100 >= sample &* Self.codedBelowPercent
        }
        let period = trialsDone < 6 ? 1 << trialsDone : Self.trialPeriod
        entries[key] = Entry(raw: raw, framesUntilTrial: period - 1, trialsDone: trialsDone + 1)
        return raw
    }
}
