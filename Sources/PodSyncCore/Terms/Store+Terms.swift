/// Terms (docs/FORMAT.md, "Terms and fencing"): who owns the stream, and since when. A writer
/// stamps its term and history on every frame; a replica refuses frames of an older term than it
/// follows (fencing) and frames of a newer term whose history left its term before the
/// replica's version (it holds versions the new writer never had).
extension Store {
    /// Puts the store's term into a frame's header fields: a term above 0 needs format 2.
    func withTerm(_ fields: inout FrameBuilder.HeaderFields) {
        // A store of part of the stream marks every frame it produces with its subscription.
        if let s = subscription {
            fields.subscription = s.hash
            fields.formatVersion = HeaderV2.formatVersion
        }
        guard term != 0 else { return }
        fields.term = term
        fields.history = history
        fields.formatVersion = HeaderV2.formatVersion
    }

    /// Fencing alone: a frame of the followed stream from an older term.
    func checkFence(_ header: FrameHeader) throws(PodSyncError) {
        guard bound && header.streamID == streamID && header.term < term else { return }
        throw PodSyncError(Status.termFenced, "frame of term \(header.term) but this replica follows term \(term) of stream \(hex(streamID)): a writer that was replaced")
    }

    /// The term rules for a delta (or a chunk of one) of the followed stream.
    func checkTerm(_ header: FrameHeader) throws(PodSyncError) {
        try checkFence(header)
        guard bound && header.streamID == streamID && header.term > term else { return }
        guard let departure = header.history.departure(from: term) else {
            throw PodSyncError(Status.historyDiverged, "frame of term \(header.term) whose history does not reach term \(term) that this replica follows; it needs a snapshot")
        }
        guard version <= departure else {
            throw PodSyncError(Status.historyDiverged, "this replica applied version \(version) of term \(term), but term \(header.term) continued term \(term) from version \(departure): it needs a snapshot")
        }
    }

    /// After a frame was applied: the replica follows its term.
    mutating func adoptTerm(_ newTerm: UInt64, _ newHistory: TermHistory) {
        term = newTerm
        history = newHistory
    }

    /// Promotion: this replica becomes the writer of the stream it follows, in `newTerm`,
    /// continuing from its version.
    public mutating func promote(to newTerm: UInt64) throws(PodSyncError) {
        guard role == .replica else { throw PodSyncError(Status.wrongRole, "promote is for replicas; this store is a writer") }
        guard !diverged else { throw PodSyncError(Status.diverged, "a diverged replica cannot be promoted: its state is no writer's") }
        guard !refreshing else { throw PodSyncError(Status.diverged, "a replica out of sync (refreshing) cannot be promoted") }
        guard bound && streamID != 0 else { throw .invalid("this replica follows no stream yet: nothing to continue") }
        guard subscription == nil else { throw .invalid("a replica of part of the stream (a subscription) cannot become its writer") }
        guard newTerm > term else { throw .invalid("the new term \(newTerm) must be above the term \(term) this replica follows") }
        try logPromotion(term: newTerm)
        dropStaging()
        wantedChunk = nil
        history = history.starting(term: newTerm, at: version, after: term)
        term = newTerm
        role = .writer
        generation &+= 1
    }
}
