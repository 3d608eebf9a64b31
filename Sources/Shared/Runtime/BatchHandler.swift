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

    /// What to do with a delivery seen too often without an acknowledgement (it may crash the worker), without
    /// processing it. The default dead-letters it and publishes nothing.
    func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict
}

extension BatchHandler {
    public func idle(database: PostgresConnection) throws -> BatchResult { BatchResult() }
    public func poisonVerdict(for delivery: AMQPDelivery, database: PostgresConnection) throws -> PoisonVerdict {
        .deadLetter(outcome: nil)
    }
}

/// The fate of a delivery seen too often: a message processed before (its redeliveries came from lost
/// connections, not from crashes) is acknowledged with its stored outcome; any other is kept for an operator.
public enum PoisonVerdict: Sendable {
    /// Its effects were committed before: publish its stored outcome again (if any) and acknowledge it.
    case alreadyProcessed(outcome: AMQPMessage?)
    /// Dead-letter it unprocessed (`basic.reject` without requeue), after publishing this outcome (if any).
    case deadLetter(outcome: AMQPMessage?)
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
