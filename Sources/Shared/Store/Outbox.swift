/// The transactional outbox: events are stored in the same transaction as the effects that caused them, and
/// published by the relay (``RelayLoop``) once committed. Nothing else publishes events.
public enum Outbox {
    /// Stores events for the relay; an event already stored (same `message_id` and routing key) is left as it was.
    /// `transient` rows are deleted once published (outcomes of messages not recorded as processed).
    public static func store(_ messages: [AMQPMessage], transient: Bool = false,
                             database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        try database.query("""
            INSERT INTO outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay, transient, traceparent, tracestate)
            SELECT m, e, r, c, b, true, $6, tp, ts
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[], $8::text[]) AS t(m, e, r, c, b, tp, ts)
            ON CONFLICT (message_id, routing_key) DO NOTHING
            """, [messages.map(\.messageID), messages.map(\.exchange), messages.map(\.routingKey),
                  messages.map(\.correlationID), messages.map { String(decoding: $0.body, as: UTF8.self) }, transient,
                  messages.map { $0.trace?.traceparent }, messages.map { $0.trace?.state }])
    }

    /// Stores the outcomes of messages whose keys were just claimed (so none can be stored yet), with COPY: the
    /// submission hot path. A conflict fails the statement (and the caller's transaction).
    public static func storeClaimed(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        _ = try database.copyIn("""
            COPY outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay, traceparent, tracestate) FROM STDIN
            """, rows: messages.lazy.map { message in
            [message.messageID, message.exchange, message.routingKey, message.correlationID,
             String(decoding: message.body, as: UTF8.self), "t", message.trace?.traceparent, message.trace?.state]
        })
    }

    /// Has stored events published again (a duplicate delivery gets its stored outcome again, same ids).
    public static func requeue(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        try database.query("""
            UPDATE outbox o SET published_at = NULL, needs_relay = true
            FROM unnest($1::text[], $2::text[]) AS t(m, r)
            WHERE o.message_id = t.m AND o.routing_key = t.r AND o.published_at IS NOT NULL
            """, [messages.map(\.messageID), messages.map(\.routingKey)])
    }

    /// Stores events for the relay, with COPY (an allocation run's events can be megabytes). Their message
    /// ids are unique per run, so a conflict is a bug and fails the caller's transaction.
    public static func storeForRelay(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        _ = try database.copyIn("""
            COPY outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay, traceparent, tracestate) FROM STDIN
            """, rows: messages.lazy.map { message in
            [message.messageID, message.exchange, message.routingKey, message.correlationID,
             String(decoding: message.body, as: UTF8.self), "t", message.trace?.traceparent, message.trace?.state]
        })
    }

    /// The stored events with these message ids (events other than outcomes: their ids are unique).
    public static func load(messageIDs: [String], database: PostgresConnection) throws(PostgresError) -> [String: AMQPMessage] {
        guard !messageIDs.isEmpty else { return [:] }
        var result: [String: AMQPMessage] = [:]
        for message in try rows(messageIDs: messageIDs, database: database) { result[message.messageID] = message }
        return result
    }

    /// The stored outcome of each claim (``claimKey(queue:stream:id:)``), by claim key: the outcome whose id is
    /// `outcome-<id>` and whose routing key is the subject's, so a submission and a command of the same id never
    /// get each other's outcome.
    public static func loadOutcomes(_ wanted: [(claimKey: String, messageID: String, subject: Outcome.Subject)],
                                    database: PostgresConnection) throws(PostgresError) -> [String: AMQPMessage] {
        guard !wanted.isEmpty else { return [:] }
        var stored: [String: [AMQPMessage]] = [:]
        for message in try rows(messageIDs: wanted.map { Outcome.outcomeID(for: $0.messageID) }, database: database) {
            stored[message.messageID, default: []].append(message)
        }
        var result: [String: AMQPMessage] = [:]
        for (claimKey, messageID, subject) in wanted {
            let keys = Outcome.routingKeys(for: subject)
            if let message = stored[Outcome.outcomeID(for: messageID)]?.first(where: { keys.contains($0.routingKey) }) {
                result[claimKey] = message
            }
        }
        return result
    }

    private static func rows(messageIDs: [String], database: PostgresConnection) throws(PostgresError) -> [AMQPMessage] {
        try database.query("""
            SELECT message_id, exchange, routing_key, correlation_id, body FROM outbox WHERE message_id = ANY($1::text[])
            """, [messageIDs]).map { row throws(PostgresError) in
            AMQPMessage(exchange: try row.string(1), routingKey: try row.string(2), messageID: try row.string(0),
                        correlationID: try row.optionalString(3), body: Array(try row.string(4).utf8))
        }
    }

    /// The key a message id is claimed under: per queue and per publishing stream (the exchange the delivery came
    /// through), joined by U+001F, which no valid or derived message id contains.
    public static func claimKey(queue: String, stream: String, id: String) -> String {
        queue + "\u{1F}" + stream + "\u{1F}" + id
    }

    /// Claims the keys not claimed before, recording who published each (the broker-validated AMQP `user_id`);
    /// the rest are duplicates.
    public static func claim(_ keys: [(key: String, publishedBy: String?)], queue: String,
                             database: PostgresConnection) throws(PostgresError) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        var fresh = Set<String>()
        for row in try database.query("""
            INSERT INTO processed_messages (claim_key, queue, published_by)
            SELECT k, $2, p FROM unnest($1::text[], $3::text[]) AS t(k, p)
            ON CONFLICT (claim_key) DO NOTHING RETURNING claim_key
            """, [keys.map(\.key), queue, keys.map(\.publishedBy)]) {
            fresh.insert(try row.string(0))
        }
        return fresh
    }

    /// Whether a key was claimed (a message processed before).
    public static func isClaimed(_ key: String, database: PostgresConnection) throws(PostgresError) -> Bool {
        try !database.query("SELECT 1 FROM processed_messages WHERE claim_key = $1", [key]).isEmpty
    }

    /// An event the relay took: its row, whether it is deleted once published.
    public struct Pending: Sendable {
        public var id: Int
        public var message: AMQPMessage
        public var transient: Bool
    }

    /// Relay: events not yet published, oldest first, locked until the caller's transaction ends. `SKIP LOCKED`
    /// lets any number of relays (one per worker process) run at once: each row has one owner at a time, and the
    /// rows of a worker that crashed are simply taken by another.
    public static func pending(limit: Int, database: PostgresConnection) throws(PostgresError) -> [Pending] {
        try database.query("""
            SELECT id, message_id, exchange, routing_key, correlation_id, body, transient, traceparent, tracestate FROM outbox
            WHERE needs_relay AND published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
            """, [limit]).map { row throws(PostgresError) in
            var message = AMQPMessage(exchange: try row.string(2), routingKey: try row.string(3),
                                      messageID: try row.string(1), correlationID: try row.optionalString(4),
                                      body: Array(try row.string(5).utf8))
            message.trace = TraceContext(traceparent: try row.optionalString(7), tracestate: try row.optionalString(8))
            return Pending(id: try row.int(0), message: message, transient: try row.bool(6))
        }
    }

    /// After the broker confirmed them: kept rows are marked published, transient ones deleted. A crash before this
    /// publishes them again with the same `message_id`, which consumers drop.
    public static func published(_ rows: [Pending], database: PostgresConnection) throws(PostgresError) {
        guard !rows.isEmpty else { return }
        let kept = rows.filter { !$0.transient }.map(\.id)
        let transient = rows.filter(\.transient).map(\.id)
        if !kept.isEmpty {
            try database.query("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [kept])
        }
        if !transient.isEmpty {
            try database.query("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [transient])
        }
    }
}
