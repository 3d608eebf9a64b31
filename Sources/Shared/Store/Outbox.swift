/// The transactional outbox: events are stored in the same transaction as the effects that caused them.
public enum Outbox {
    /// Stores events; an event whose `message_id` is already stored is left as it was.
    public static func store(_ messages: [AMQPMessage], needsRelay: Bool = false,
                             database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        try database.query("""
            INSERT INTO outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay)
            SELECT m, e, r, c, b, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(m, e, r, c, b)
            ON CONFLICT (message_id, routing_key) DO NOTHING
            """, [messages.map(\.messageID), messages.map(\.exchange), messages.map(\.routingKey),
                  messages.map(\.correlationID), messages.map { String(decoding: $0.body, as: UTF8.self) }, needsRelay])
    }

    /// Stores events whose message ids were just claimed (so none can be stored yet), with COPY: the
    /// submission hot path. A conflict fails the statement (and the caller's transaction).
    public static func storeClaimed(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        _ = try database.copyIn("COPY outbox (message_id, exchange, routing_key, correlation_id, body) FROM STDIN",
                                rows: messages.lazy.map { message in
            [message.messageID, message.exchange, message.routingKey, message.correlationID,
             String(decoding: message.body, as: UTF8.self)]
        })
    }

    /// Stores events for the relay, with COPY (an allocation run's events can be megabytes). Their message
    /// ids are unique per run, so a conflict is a bug and fails the caller's transaction.
    public static func storeForRelay(_ messages: [AMQPMessage], database: PostgresConnection) throws(PostgresError) {
        guard !messages.isEmpty else { return }
        _ = try database.copyIn("COPY outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay) FROM STDIN",
                                rows: messages.lazy.map { message in
            [message.messageID, message.exchange, message.routingKey, message.correlationID,
             String(decoding: message.body, as: UTF8.self), "t"]
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

    /// Relay: events stored with `needs_relay` and not yet published, oldest first. `SKIP LOCKED` lets any
    /// number of workers relay at once without publishing the same row twice at the same time.
    public static func pendingRelay(limit: Int = 1_000,
                                    database: PostgresConnection) throws(PostgresError) -> [AMQPMessage] {
        try database.query("""
            SELECT message_id, exchange, routing_key, correlation_id, body FROM outbox
            WHERE needs_relay AND published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
            """, [limit]).map { row throws(PostgresError) in
            AMQPMessage(exchange: try row.string(1), routingKey: try row.string(2), messageID: try row.string(0),
                        correlationID: try row.optionalString(3), body: Array(try row.string(4).utf8))
        }
    }

    /// Marks relayed rows published after the broker confirmed them. A crash before this republishes them
    /// with the same `message_id`, which consumers drop.
    public static func markPublished(messageIDs: [String], database: PostgresConnection) throws(PostgresError) {
        guard !messageIDs.isEmpty else { return }
        try database.query("UPDATE outbox SET published_at = now() WHERE message_id = ANY($1::text[]) AND needs_relay",
                           [messageIDs])
    }
}
