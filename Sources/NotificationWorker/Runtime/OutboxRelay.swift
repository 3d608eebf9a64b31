import Foundation
import Logging
import Shared

/// Publishes the `notification.sent` events that senders stored in the outbox (`needs_relay`), with publisher
/// confirms, and marks them published.
///
/// Rows are locked (`FOR UPDATE SKIP LOCKED`) for the whole publish, so relays on several workers never publish
/// the same row at the same time; a crash after the broker's confirm and before the commit publishes a row again
/// with the same `message_id`, which consumers drop.
final class OutboxRelay {
    static let batchLimit = 500

    private let amqpURL: String
    private let logger: Logger
    private var publisher: AMQPConnection?

    init(amqpURL: String, logger: Logger) {
        self.amqpURL = amqpURL
        self.logger = logger
    }

    /// Publishes one batch; returns how many rows it published.
    @discardableResult
    func relay(database: PostgresConnection) throws -> Int {
        try database.transaction { database throws -> Int in
            let rows = try database.query("""
                SELECT id, message_id, exchange, routing_key, correlation_id, body FROM outbox
                WHERE needs_relay AND published_at IS NULL AND routing_key = $1
                ORDER BY id LIMIT $2
                FOR UPDATE SKIP LOCKED
                """, [NotificationEvents.sentRoutingKey, Self.batchLimit])
            guard !rows.isEmpty else { return 0 }
            var ids: [Int] = []
            var messages: [AMQPMessage] = []
            for row in rows {
                ids.append(try row.int("id"))
                messages.append(AMQPMessage(exchange: try row.string("exchange"), routingKey: try row.string("routing_key"),
                                            messageID: try row.string("message_id"),
                                            correlationID: try row.optionalString("correlation_id"),
                                            body: Array(try row.string("body").utf8)))
            }
            do {
                try connectedPublisher().publishConfirmed(messages)
            } catch {
                // The rows stay unpublished (the transaction rolls back); the next cycle reconnects.
                publisher?.close()
                publisher = nil
                throw error
            }
            try database.query("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [ids])
            return ids.count
        }
    }

    /// Keeps an idle connection's heartbeats answered.
    func serviceHeartbeat() {
        guard let publisher else { return }
        do {
            try publisher.serviceHeartbeat()
        } catch {
            logger.debug("relay connection lost", metadata: ["error": "\(error)"])
            publisher.close()
            self.publisher = nil
        }
    }

    func close() {
        publisher?.close()
        publisher = nil
    }

    private func connectedPublisher() throws -> AMQPConnection {
        if let publisher, !publisher.isBroken { return publisher }
        publisher?.close()
        let connection = try AMQPConnection.withContractTopology(url: try AMQPURL(parsing: amqpURL))
        try connection.enableConfirms()
        publisher = connection
        return connection
    }
}
