/// Messages dead-lettered because they failed on their own, recorded for the operator: `schoolict dead list` shows
/// the stored rejection code and reason beside each dead letter. The message's `processing_failed` outcome goes
/// only to the outbox (it is not claimed, so a replay after a fix gets a fresh outcome); this record stays until
/// the retention sweep (`RETENTION_DAYS`).
public enum Failures {
    /// Why a message failed, in words that hold nothing personal: an SQLSTATE and a constraint name, or a count.
    public struct Reason: Sendable, Equatable, CustomStringConvertible {
        public var text: String

        public init(_ text: String) {
            self.text = String(text.prefix(200))
        }

        /// The database refused what the message asked, on its own (never the server's message: it may echo values).
        public static func database(_ error: PostgresError) -> Reason {
            var text = "database refused it: SQLSTATE \(error.sqlState ?? "none")"
            if let constraint = error.constraint { text += ", constraint \(constraint)" }
            return Reason(text)
        }

        /// Delivered this many times without an acknowledgement (it may crash the worker); never processed.
        public static func deliveredTooOften(_ count: Int) -> Reason {
            Reason("delivered \(count) times without an acknowledgement; not processed")
        }

        public var description: String { text }
    }

    /// A stored failure.
    public struct Record: Sendable, Equatable {
        public var stream: String
        public var messageID: String
        public var code: String
        public var reason: String
    }

    /// Dead-lettering `delivery` from `queue`: stores its `outcome` (if any) in the outbox and the
    /// failure record, in one transaction (nested in the caller's, if any). The caller then rejects the delivery.
    public static func record(_ delivery: AMQPDelivery, queue: String, outcome: AMQPMessage?, reason: Reason,
                              code: RejectionCode = .processingFailed, database: PostgresConnection) throws {
        let id = IncomingMessage.identify(delivery).id
        try database.transaction { database in
            try Outbox.store(outcome.map { [$0] } ?? [], database: database)
            try database.query("""
                INSERT INTO message_failures (queue, stream, message_id, routing_key, code, reason)
                VALUES ($1, $2, $3, $4, $5, $6)
                """, [queue, delivery.exchange, id, String(delivery.routingKey.prefix(255)), code.rawValue, reason.text])
        }
    }

    /// The latest failure stored for each of `messageIDs` on `queue`, by stream (the exchange it came through)
    /// and message id.
    public static func latest(queue: String, messageIDs: [String],
                              database: PostgresConnection) throws(PostgresError) -> [Key: Record] {
        guard !messageIDs.isEmpty else { return [:] }
        var result: [Key: Record] = [:]
        for row in try database.query("""
            SELECT DISTINCT ON (stream, message_id) stream, message_id, code, reason FROM message_failures
            WHERE queue = $1 AND message_id = ANY($2::text[]) ORDER BY stream, message_id, failed_at DESC, id DESC
            """, [queue, messageIDs]) {
            let record = Record(stream: try row.string(0), messageID: try row.string(1), code: try row.string(2),
                                reason: try row.string(3))
            result[Key(stream: record.stream, messageID: record.messageID)] = record
        }
        return result
    }

    /// A failure's message: the exchange it came through and its id (as the worker identified it).
    public struct Key: Hashable, Sendable {
        public var stream: String
        public var messageID: String

        public init(stream: String, messageID: String) {
            self.stream = stream
            self.messageID = messageID
        }
    }
}
