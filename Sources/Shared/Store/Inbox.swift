import Logging

/// The inbox side of every worker's transaction: which deliveries were processed before, the record that they are
/// processed (the claim, holding the outcome a duplicate gets again), and the retries a batch needs when another
/// worker raced it. Processors decide; this is written once.
///
/// A claim is the key ``claimKey(queue:stream:id:)`` in `processed_messages`, written in the transaction that stores
/// the message's effects, so a message takes effect once however often it is delivered. Submissions and commands
/// are checked first (``claimed(_:database:)``, a read) and recorded with their outcome last (``record(_:queue:database:)``,
/// one COPY): one row per message. Two workers that processed the same message at once both write it; the second
/// fails on a unique key once the first commits (the submission's id, or the claim itself: ``isRace(_:)``), and
/// ``retrying(logger:_:)`` runs its batch again, which then finds the claim and answers with the stored outcome.
public enum Inbox {
    /// The key a message id is claimed under: per queue and per publishing stream (the exchange the delivery came
    /// through), joined by U+001F, which no valid or derived message id contains.
    public static func claimKey(queue: String, stream: String, id: String) -> String {
        queue + "\u{1F}" + stream + "\u{1F}" + id
    }

    /// A message processed in this transaction: its key, who published it (the broker-validated AMQP `user_id`)
    /// and the outcome it was answered with (none for events).
    public struct Processed: Sendable {
        public var claimKey: String
        public var publishedBy: String?
        public var outcome: AMQPMessage?

        public init(claimKey: String, publishedBy: String?, outcome: AMQPMessage?) {
            self.claimKey = claimKey
            self.publishedBy = publishedBy
            self.outcome = outcome
        }
    }

    /// Which of `keys` were recorded as processed by committed transactions.
    public static func claimed(_ keys: some Collection<String>, database: PostgresConnection) throws(PostgresError) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        var claimed = Set<String>()
        for row in try database.query("SELECT claim_key FROM processed_messages WHERE claim_key = ANY($1::text[])",
                                      [Array(keys)]) {
            claimed.insert(try row.string(0))
        }
        return claimed
    }

    /// Records messages as processed, each with its outcome, and queues the outcomes for the relay in the order
    /// given (both by COPY: the submission hot path). Keys must not have been claimed (``claimed(_:database:)``); one
    /// claimed meanwhile by another worker fails the statement (``isRace(_:)``) and so the caller's transaction.
    public static func record(_ processed: [Processed], queue: String, database: PostgresConnection) throws(PostgresError) {
        guard !processed.isEmpty else { return }
        // In key order, so that two workers recording overlapping batches wait for each other instead of deadlocking.
        _ = try database.copyIn("""
            COPY processed_messages (claim_key, queue, published_by, outcome_routing_key, outcome_body, \
            outcome_traceparent, outcome_tracestate) FROM STDIN
            """, rows: processed.sorted { $0.claimKey < $1.claimKey }.lazy.map { item in
            [item.claimKey, queue, item.publishedBy, item.outcome?.routingKey,
             item.outcome.map { String(decoding: $0.body, as: UTF8.self) }, item.outcome?.trace?.traceparent,
             item.outcome?.trace?.state]
        })
        try Outbox.store(processed.compactMap(\.outcome), database: database)
    }

    /// Claims the keys not claimed before, up front (an insert that waits for a concurrent claim of the same key and
    /// skips it once committed), recording who published each; returns the fresh ones. For messages that have no
    /// outcome (events): their effects follow in the same transaction.
    public static func claim(_ keys: [(key: String, publishedBy: String?)], queue: String,
                             database: PostgresConnection) throws(PostgresError) -> Set<String> {
        guard !keys.isEmpty else { return [] }
        var fresh = Set<String>()
        let sorted = keys.sorted { $0.key < $1.key }
        for row in try database.query("""
            INSERT INTO processed_messages (claim_key, queue, published_by)
            SELECT k, $2, p FROM unnest($1::text[], $3::text[]) AS t(k, p)
            ON CONFLICT (claim_key) DO NOTHING RETURNING claim_key
            """, [sorted.map(\.key), queue, sorted.map(\.publishedBy)]) {
            fresh.insert(try row.string(0))
        }
        return fresh
    }

    /// The stored outcomes of these claims, by key (claims without an outcome are left out).
    public static func storedOutcomes(_ keys: some Collection<String>,
                                      database: PostgresConnection) throws(PostgresError) -> [String: AMQPMessage] {
        guard !keys.isEmpty else { return [:] }
        var result: [String: AMQPMessage] = [:]
        for row in try database.query("""
            SELECT claim_key, message_id, outcome_routing_key, outcome_body, outcome_traceparent, outcome_tracestate
            FROM processed_messages WHERE claim_key = ANY($1::text[]) AND outcome_body IS NOT NULL
            """, [Array(keys)]) {
            let id = try row.string(1)
            var message = AMQPMessage(exchange: Topology.Exchange.events, routingKey: try row.string(2),
                                      messageID: Outcome.outcomeID(for: id), correlationID: id,
                                      body: Array(try row.string(3).utf8))
            message.trace = TraceContext(traceparent: try row.optionalString(4), tracestate: try row.optionalString(5))
            result[try row.string(0)] = message
        }
        return result
    }

    /// Duplicates of processed messages: their stored outcomes are queued for the relay again (same message ids, so
    /// consumers that saw them drop them). Returns how many were queued.
    @discardableResult
    public static func republish(_ keys: some Collection<String>, database: PostgresConnection) throws(PostgresError) -> Int {
        let stored = try storedOutcomes(keys, database: database)
        try Outbox.store(keys.compactMap { stored[$0] }, database: database)
        return stored.count
    }

    /// Whether `error` may be another worker's commit racing this transaction: a deadlock, a serialization failure,
    /// or a unique key taken meanwhile (the claim of the same message, the submission's id, a serial or a donation
    /// another message stored first). The rules check every unique value against the database before writing, so a
    /// unique violation means something committed while the batch ran: run again, it decides on what is committed
    /// now (a duplicate, or a rejection with the rule's code).
    public static func isRace(_ error: PostgresError) -> Bool {
        error.isSerializationFailure || error.isUniqueViolation
    }

    /// Runs `body` (one batch's transaction) again after a race (``isRace(_:)``), up to four times in all; the last
    /// such error, and any other, is thrown.
    public static func retrying<T>(logger: Logger, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try body()
            } catch let error as PostgresError where isRace(error) && attempt < 4 {
                logger.info("batch raced another transaction (deadlock, serialization failure or a unique key); retrying",
                            metadata: ["db.sqlstate": "\(error.sqlState ?? "")", "db.constraint": "\(error.constraint ?? "")",
                                       "batch.attempt": "\(attempt)"])
            }
        }
    }
}
