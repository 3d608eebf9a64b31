/// What a worker does with a batch of deliveries, on the consumer's own thread and connections.
public protocol BatchHandler: AnyObject {
    /// Processes deliveries (in one or more transactions), storing their effects and every event they cause (the
    /// outcomes included) in the outbox, and says how to settle them. The loop acknowledges them once this returns
    /// and the process's relay publishes the events.
    ///
    /// Throw only for failures that may pass (a lost database connection): the loop then retries the same
    /// batch after reconnecting, with nothing acknowledged.
    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult

    /// Called about once a second (timers: the AllocationWorker's deadline runs). Returns whether it stored events
    /// for the relay. The default does nothing.
    func idle(database: PostgresConnection) throws -> Bool

    /// What each delivery's outcome depends on, in order, so that the process's consumer loops (`CONSUMERS`),
    /// which take batches from one channel in queue order, decide deliveries whose keys meet in queue order and the
    /// others side by side. Called once per batch, before `handle` (which may then get the batch in two parts), on
    /// the loop's own thread: a handler may keep what it decoded for the `handle` calls that follow. The default,
    /// ``BatchKeys/independent`` for every delivery: batches never wait for each other.
    func orderKeys(of deliveries: [AMQPDelivery]) -> [BatchKeys]

    /// What to do with a delivery seen too often without an acknowledgement (it may crash the worker), without
    /// processing it. The default dead-letters it and publishes nothing.
    func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict
}

extension BatchHandler {
    public func idle(database: PostgresConnection) throws -> Bool { false }
    public func orderKeys(of deliveries: [AMQPDelivery]) -> [BatchKeys] {
        Array(repeating: .independent, count: deliveries.count)
    }
    public func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict {
        .deadLetter(outcome: nil)
    }
}

extension PoisonVerdict {
    /// The verdict for a submission or command on `queue`, from its properties alone (the body is not parsed: it
    /// may be what crashes the worker): processed before → its stored outcome again; otherwise dead-lettered with
    /// a `processing_failed` outcome.
    public static func forMessage(_ delivery: AMQPDelivery, queue: String,
                                  database: PostgresConnection) throws -> PoisonVerdict {
        let (id, subject, _) = IncomingMessage.identify(delivery)
        let key = Inbox.claimKey(queue: queue, stream: delivery.exchange, id: id)
        if try !Inbox.claimed([key], database: database).isEmpty {
            return .alreadyProcessed(outcome: try Inbox.storedOutcomes([key], database: database)[key])
        }
        var outcome = Outcome.rejected(id, subject, [FieldError(
            .processingFailed, field: "", "the message could not be processed; it is kept for an operator")])
        outcome.trace = delivery.trace
        return .deadLetter(outcome: outcome.message)
    }
}

/// The fate of a delivery seen too often: a message processed before (its redeliveries came from lost
/// connections, not from crashes) is acknowledged with its stored outcome; any other is kept for an operator.
public enum PoisonVerdict: Sendable {
    /// Its effects were committed before: its stored outcome (if any) is published again; it is acknowledged.
    case alreadyProcessed(outcome: AMQPMessage?)
    /// Dead-letter it unprocessed (`basic.reject` without requeue); this outcome (if any) is published.
    case deadLetter(outcome: AMQPMessage?)
}

/// The result of a committed batch: how to settle its deliveries (its events are in the outbox).
public struct BatchResult: Sendable {
    /// Deliveries to dead-letter (`basic.reject` without requeue) instead of acknowledging.
    public var deadLetter: Set<UInt64>
    /// Counts by outcome label for metrics (`accepted`, `rejected`, `duplicate`, …).
    public var counts: [String: Int]

    public init(deadLetter: Set<UInt64> = [], counts: [String: Int] = [:]) {
        self.deadLetter = deadLetter
        self.counts = counts
    }
}
