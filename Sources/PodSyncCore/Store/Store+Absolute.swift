/// Reading a delta whose records or keys are relative to the receiver's (XOR, FIELDS, KEY_RANKS)
/// as absolute ones, for tools that show what a frame changes (`podsync dump`).
extension Store {
    /// Rewrites, in place, the relative sections of a delta this store is exactly at the base of:
    /// ranks become keys, records become the values the delta gives them. The sections must come
    /// from a decoder given this store's schema (an encoded frame: its sections are the decoder's
    /// scratch memory). Returns them marked absolute; the store is unchanged but for the sorted
    /// seeds KEY_RANKS may build.
    public mutating func makeAbsolute(_ sections: [SectionView]) throws(PodSyncError) -> [SectionView] {
        for s in sections where s.isRelative && (s.tableIndex < 0 || s.tableIndex >= tableCount) {
            throw .invalid("table \(s.tableID) was not validated against this store's schema")
        }
        try resolveRanks(sections)
        var out = sections
        for (k, s) in sections.enumerated() where s.isRelative {
            let t = s.tableIndex
            let size = s.recordSize
            let records = UnsafeMutableRawPointer(mutating: s.records)
            for i in 0..<s.putCount {
                let slot = tables[t].index.find(s.putKeys.le(8 &* i, as: UInt64.self))
                let old: UnsafeRawPointer? = slot != nilSlot ? UnsafeRawPointer(tables[t].record(Int(slot))) : nil
                let record = records + i &* size
                if !s.fieldRuns.isEmpty {
                    FieldDiff.decodeInPlace(record, old: old, xor: s.xor, runs: s.fieldRuns, size: size)
                } else if s.xor, let old {
                    xorRecord(record, with: old, size: size)
                }
            }
            out[k].xor = false
            out[k].fieldRuns = []
            out[k].diffFields = 0
            out[k].rankedPuts = 0
        }
        return out
    }
}
