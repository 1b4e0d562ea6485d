/// The frame log of a durable store: every frame a writer hands out and every frame a replica
/// applied, appended (and synced as the policy says) before the call returns; promotions and
/// dictionaries too, so replaying the log rebuilds exactly the state the store had.
extension Store {
    /// While the log has failed, no frame may leave: a replica could see a version the disk lacks.
    func refuseIfLogFailed() throws(PodSyncError) {
        guard let files, files.logFailed else { return }
        throw PodSyncError(Status.io, "the frame log of \(files.directory) failed earlier; no frame is produced until podsync_store_checkpoint succeeds")
    }

    /// The STATE block of this store now.
    func durableState(policy: LogPolicy) -> DurableState {
        var state = DurableState(role: role, diverged: diverged, streamID: bound ? streamID : 0, version: version, digest: digest,
                                 sequence: sequence, catchupFloor: catchupFloor, term: term, history: history)
        state.policy = policy
        return state
    }

    /// Writer: logs the frames of the flush in the outbox.
    mutating func logOutbox() throws(PodSyncError) {
        guard let files else { return }
        var blocks: [(DurableFormat.Kind, UnsafeRawBufferPointer)] = []
        for i in 0..<outbox.frames.count {
            if let frame = outbox.frame(i) { blocks.append((.frame, frame)) }
        }
        try files.append(blocks, version: version)
    }

    /// Replica: logs a frame it applied.
    mutating func logApplied(_ frame: UnsafeRawBufferPointer) throws(PodSyncError) {
        guard let files, !restoring else { return }
        try files.append([(.frame, frame)], version: version)
    }

    /// Logs the state a promotion leads to (synced whatever the policy: a promotion is rare and
    /// must not be forgotten).
    func logPromotion(term newTerm: UInt64) throws(PodSyncError) {
        guard let files, !restoring else { return }
        var state = durableState(policy: files.options.logPolicy)
        state.role = .writer
        state.history = history.starting(term: newTerm, at: version, after: term)
        state.term = newTerm
        let body = state.encoded()
        try withBytes(body) { (b) throws(PodSyncError) in
            try files.append([(.state, b)], version: version, forceSync: true)
        }
    }

    /// Logs a dictionary the store loaded or trained, so frames compressed with it replay.
    func logDictionary() throws(PodSyncError) {
        guard let files, !restoring, let dictionary = currentDictionary else { return }
        try files.append([(.dictionary, dictionary.bytes)], version: version, forceSync: true)
    }

    /// podsync_store_sync.
    public func syncLog() throws(PodSyncError) {
        guard let files else { throw .invalid("this store has no files (open it with podsync_store_open)") }
        try files.sync()
    }
}
