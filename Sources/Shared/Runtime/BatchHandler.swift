/// What a worker does with a batch of deliveries, on the consumer's own thread and connections.
public protocol BatchHandler: AnyObject {
    /// Processes deliveries (in one or more transactions) and returns what to publish and how to settle them.
    ///
    /// Throw only for failures that may pass (a lost database connection): the loop then retries the same
    /// batch after reconnecting, with nothing acknowledged.
    func handle(_ deliveries: [AMQPDelivery], database: PostgresConnection) throws -> BatchResult

    /// Called about once a second while no delivery arrives: a chance to publish what an outbox relay
    /// holds. The default does nothing.
    func idle(database: PostgresConnection) throws -> BatchResult

    /// The outcome to publish for a delivery dead-lettered unprocessed (delivered too often: it may crash
    /// the worker). The default publishes none.
    func poisonOutcome(for delivery: AMQPDelivery) -> AMQPMessage?
}

extension BatchHandler {
    public func idle(database: PostgresConnection) throws -> BatchResult { BatchResult() }
    public func poisonOutcome(for delivery: AMQPDelivery) -> AMQPMessage? { nil }
}

/// The result of a batch: events to publish (with confirms) before the deliveries are acknowledged.
public struct BatchResult: Sendable {
    public var publish: [AMQPMessage]
    /// Deliveries to dead-letter (`basic.reject` without requeue) instead of acknowledging.
    public var deadLetter: Set<UInt64>
    /// Counts by outcome label for metrics (`accepted`, `rejected`, `duplicate`, …).
    public var counts: [String: Int]
    /// Relayed outbox events (by message id) to mark published once the broker has confirmed them.
    public var relayedMessageIDs: [String]

    public init(publish: [AMQPMessage] = [], deadLetter: Set<UInt64> = [], counts: [String: Int] = [:],
                relayedMessageIDs: [String] = []) {
        self.publish = publish
        self.deadLetter = deadLetter
        self.counts = counts
        self.relayedMessageIDs = relayedMessageIDs
    }
}
