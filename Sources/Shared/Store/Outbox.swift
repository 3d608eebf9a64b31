/// The transactional outbox: events are stored in the same transaction as the effects that caused them, and
/// published by the relay (``RelayLoop``) once committed, which deletes each row once the broker confirmed it. Every
/// row is waiting to be published; nothing else publishes events. Outcomes stay with their claims (``Inbox``).
public enum Outbox {
    /// Stores events for the relay, with COPY (an allocation run's events can be megabytes); the relay publishes
    /// them in this order.
    public static func store(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        _ = try database.copyIn("""
            COPY outbox (message_id, exchange, routing_key, correlation_id, body, traceparent, tracestate) FROM STDIN
            """, rows: messages.lazy.map { message in
            [message.messageID, message.exchange, message.routingKey, message.correlationID,
             String(decoding: message.body, as: UTF8.self), message.trace?.traceparent, message.trace?.state]
        })
    }

    /// An event the relay took, and its row.
    public struct Pending: Sendable {
        public var id: Int
        public var message: AMQPMessage
    }

    /// Relay: events not yet published, oldest first, locked until the caller's transaction ends. `SKIP LOCKED`
    /// lets any number of relays (one per worker process) run at once: each row has one owner at a time, and the
    /// rows of a worker that crashed are simply taken by another.
    public static func pending(limit: Int, database: PostgresConnection) throws(PostgresError) -> [Pending] {
        try database.query("""
            SELECT id, message_id, exchange, routing_key, correlation_id, body, traceparent, tracestate FROM outbox
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
            """, [limit]).map { row throws(PostgresError) in
            var message = AMQPMessage(exchange: try row.string(2), routingKey: try row.string(3),
                                      messageID: try row.string(1), correlationID: try row.optionalString(4),
                                      body: Array(try row.string(5).utf8))
            message.trace = TraceContext(traceparent: try row.optionalString(6), tracestate: try row.optionalString(7))
            return Pending(id: try row.int(0), message: message)
        }
    }

    /// After the broker confirmed them: the rows are deleted. A crash before this publishes them again with the
    /// same `message_id`, which consumers drop.
    public static func published(_ rows: [Pending], database: PostgresConnection) throws(PostgresError) {
        guard !rows.isEmpty else { return }
        try database.query("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [rows.map(\.id)])
    }

    /// Events waiting to be published (for the metrics page and the checks of tests and benchmarks).
    public static func pendingCount(database: PostgresConnection) throws(PostgresError) -> Int {
        try database.query("SELECT count(*)::int FROM outbox")[0].int(0)
    }
}
