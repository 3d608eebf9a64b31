/// Deletes what the idempotency record no longer needs to keep: claims, outcomes and failure records older than
/// `RETENTION_DAYS`.
///
/// A message redelivered or republished after that long would be processed again: the broker keeps nothing for
/// months (dead letters expire too, see `schoolict provision`), so the window only bounds what the database holds
/// about who sent what. Outbox rows are not swept: each waits to be published, and the relay deletes it then.
public enum Retention {
    /// Rows deleted per statement, so a sweep never holds long locks.
    static let chunk = 5_000

    /// Deletes `queue`'s claims (with their stored outcomes) and failure records (``Failures``) older than `days`;
    /// returns how many of each.
    @discardableResult
    public static func sweep(queue: String, olderThanDays days: Int,
                             database: PostgresConnection) throws(PostgresError) -> (claims: Int, failures: Int) {
        let claims = try deleteInChunks("""
            DELETE FROM processed_messages WHERE ctid IN (
                SELECT ctid FROM processed_messages
                WHERE queue = $1 AND processed_at < now() - make_interval(days => $2) LIMIT $3)
            RETURNING 1
            """, [queue, days], database: database)
        let failures = try deleteInChunks("""
            DELETE FROM message_failures WHERE id IN (
                SELECT id FROM message_failures
                WHERE queue = $1 AND failed_at < now() - make_interval(days => $2) LIMIT $3)
            RETURNING 1
            """, [queue, days], database: database)
        return (claims, failures)
    }

    /// Runs `sql` (a `DELETE … LIMIT` chunk whose last parameter is the chunk size, appended to `parameters`, and
    /// which returns a row per deleted row) until a chunk deletes fewer than ``chunk`` rows; returns how many in all.
    private static func deleteInChunks(_ sql: String, _ parameters: [any PostgresBindable],
                                       database: PostgresConnection) throws(PostgresError) -> Int {
        var total = 0
        while true {
            let deleted = try database.query(sql, parameters + [chunk]).count
            total += deleted
            if deleted < chunk { return total }
        }
    }
}
