/// Subscribed replicas: a replica that holds part of a stream applies only frames of its
/// subscription, and a replica of the whole stream only frames of the whole stream.
extension Store {
    /// Makes this empty replica a subscriber of `subscription` (once; before it holds anything).
    public mutating func subscribe(_ subscription: Subscription) throws(PodSyncError) {
        guard role == .replica else { throw PodSyncError(Status.wrongRole, "subscribe is for replicas; a writer serves subscriptions with feeds") }
        guard self.subscription == nil else { throw .invalid("this replica has a subscription already") }
        guard files == nil else { throw .invalid("a durable replica cannot subscribe in this version") }
        guard !bound && version == 0 && liveRecords == 0 && staging == nil else {
            throw .invalid("only a replica that holds nothing and follows no stream yet can subscribe")
        }
        self.subscription = try SubscriptionState(subscription, schema: schema)
        generation &+= 1
    }

    /// A frame or message must describe the same part of the stream as this store holds.
    func checkSubscription(_ header: FrameHeader) throws(PodSyncError) {
        let mine = subscription?.hash
        guard header.subscription != mine else { return }
        switch (header.subscription, mine) {
        case (nil, _):
            throw PodSyncError(Status.notSubscribed, "the frame is of the whole stream; this store holds the part of subscription \(hex(mine ?? 0))")
        case (let theirs?, nil):
            throw PodSyncError(Status.notSubscribed, "the frame is of subscription \(hex(theirs)); this store holds the whole stream")
        case (let theirs?, let mine?):
            throw PodSyncError(Status.notSubscribed, "the frame is of subscription \(hex(theirs)); this store holds subscription \(hex(mine))")
        }
    }
}
