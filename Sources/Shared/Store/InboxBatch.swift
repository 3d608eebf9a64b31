/// One batch of submissions or commands through the inbox, for a processor that answers each message with an
/// outcome: which deliveries were processed before (their stored outcome goes out again), which are new (the processor
/// decides those, and only those), and the record of the new ones with their outcomes and the events they caused.
/// Written once for every such worker (``Inbox`` holds the SQL); run it inside the batch's transaction, under
/// ``Inbox/retrying(logger:_:)``.
///
/// Messages are told apart by their claim key (``Inbox/claimKey(queue:stream:id:)``): a submission and a registry
/// command that happen to share an id are two messages, each with its own outcome. The same key twice in a batch is
/// decided once; the copy shares the outcome.
public struct InboxBatch {
    /// A delivery to decide.
    public struct Entry {
        public let delivery: AMQPDelivery
        public let message: IncomingMessage
        /// Its claim key: the key of its outcome in ``InboxBatch/record(_:events:database:)``.
        public let key: String
    }

    /// The deliveries to decide, in delivery order: the first of each key not processed before.
    public let fresh: [Entry]
    private let queue: String
    private let keys: [String]
    private let processedBefore: Set<String>

    /// Sorts `deliveries` (with what each `messages` entry made of them) into new ones and those processed before.
    public init(_ deliveries: [AMQPDelivery], messages: [IncomingMessage], queue: String,
                database: PostgresConnection) throws(PostgresError) {
        precondition(deliveries.count == messages.count, "one message per delivery")
        self.queue = queue
        keys = zip(deliveries, messages).map { delivery, message in
            Inbox.claimKey(queue: queue, stream: delivery.exchange, id: message.messageID)
        }
        processedBefore = try Inbox.claimed(Set(keys), database: database)
        var seen = Set<String>()
        var fresh: [Entry] = []
        for (index, key) in keys.enumerated() where !processedBefore.contains(key) && seen.insert(key).inserted {
            fresh.append(Entry(delivery: deliveries[index], message: messages[index], key: key))
        }
        self.fresh = fresh
    }

    /// Records the decisions: each fresh entry as processed with its outcome (by key; given who published the message
    /// and its trace), the outcomes queued for the relay in delivery order and `events` after them; the duplicates'
    /// stored outcomes queued again. Returns the counts for metrics (`accepted`, `rejected`, `duplicate`).
    public func record(_ outcomes: [String: Outcome], events: [AMQPMessage] = [],
                       database: PostgresConnection) throws(PostgresError) -> [String: Int] {
        var counts: [String: Int] = [:]
        var processed: [Inbox.Processed] = []
        processed.reserveCapacity(fresh.count)
        for entry in fresh {
            // Every processor decides each new message; should one not, the message is answered, never dropped.
            var outcome = outcomes[entry.key] ?? Outcome.rejected(
                entry.message.messageID, IncomingMessage.identify(entry.delivery).subject,
                [FieldError(.processingFailed, field: "", "the message could not be processed")])
            outcome.publishedBy = entry.delivery.userID
            outcome.trace = entry.delivery.trace
            processed.append(Inbox.Processed(claimKey: entry.key, publishedBy: entry.delivery.userID, outcome: outcome.message))
            counts[outcome.isAccepted ? "accepted" : "rejected", default: 0] += 1
        }
        try Inbox.record(processed, queue: queue, database: database)
        try Outbox.store(events, database: database)
        try Inbox.republish(processedBefore, database: database)
        let duplicates = keys.count - fresh.count
        if duplicates > 0 { counts["duplicate"] = duplicates }
        return counts
    }
}
