import Foundation
import Shared

/// The `notifications` and `notification_slots` tables: planning (unique keys), claiming with `SKIP LOCKED`,
/// and recording what the mail server said.
enum NotificationStore {
    /// Stores planned e-mails; a key already stored is left as it was. Returns how many were new.
    @discardableResult
    static func insert(_ planned: [PlannedNotification], database: PostgresConnection) throws(PostgresError) -> Int {
        guard !planned.isEmpty else { return 0 }
        let rows = try database.query("""
            INSERT INTO notifications (dedup_key, message_id, kind, recipient, campaign, series, deadline, day,
                                       school_code, language, payload, due_at)
            SELECT k, m, kind, r, c, s, d, day, sc, l, p::jsonb, due
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                        $8::date[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
                 AS t(k, m, kind, r, c, s, d, day, sc, l, p, due)
            ON CONFLICT DO NOTHING
            """, [planned.map(\.key.text), planned.map(\.messageID), planned.map(\.key.kind.rawValue),
                  planned.map(\.key.recipient), planned.map(\.key.campaign), planned.map(\.key.series),
                  planned.map(\.deadline), planned.map(\.key.day.description), planned.map(\.schoolCode),
                  planned.map(\.language.rawValue), planned.map(\.payload.jsonString), planned.map(\.dueAt)])
        return rows.affectedRows
    }

    /// Whether a schedule slot was already planned (a cheap check before taking it).
    static func slotIsPlanned(campaign: String, slot: String, series: String, day: LocalDay,
                              database: PostgresConnection) throws(PostgresError) -> Bool {
        try !database.query("""
            SELECT 1 FROM notification_slots WHERE campaign = $1 AND slot = $2 AND series = $3 AND day = $4::date
            """, [campaign, slot, series, day.description]).isEmpty
    }

    /// Takes a schedule slot inside the caller's transaction: `true` for the one transaction that inserted it
    /// (the others wait for it to commit, then find it taken).
    static func takeSlot(campaign: String, slot: String, series: String, day: LocalDay,
                         database: PostgresConnection) throws(PostgresError) -> Bool {
        try database.query("""
            INSERT INTO notification_slots (campaign, slot, series, day) VALUES ($1, $2, $3, $4::date)
            ON CONFLICT DO NOTHING
            """, [campaign, slot, series, day.description]).affectedRows == 1
    }

    // MARK: Claiming

    static let claimedColumns = """
        n.dedup_key, n.message_id, n.kind, n.recipient, n.campaign, n.series, n.deadline, n.day::text AS day, \
        n.school_code, n.language, n.payload::text AS payload, n.due_at, n.attempts
        """

    /// Claims up to `limit` e-mails that are due (pending and past their backoff) or whose earlier claim lapsed
    /// (a sender that crashed mid-batch): they become `sending` under `token` until `lease` from now.
    static func claim(limit: Int, token: UUID, lease: Double,
                      database: PostgresConnection) throws -> [ClaimedNotification] {
        try database.query("""
            WITH picked AS (
                SELECT dedup_key FROM notifications
                WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE notifications n
            SET status = 'sending', claim_token = $2::uuid, next_attempt_at = now() + make_interval(secs => $3),
                updated_at = now()
            FROM picked WHERE n.dedup_key = picked.dedup_key
            RETURNING \(claimedColumns)
            """, [limit, token, lease]).map(ClaimedNotification.init(row:))
    }

    /// Cancels claimed e-mails that are no longer right to send, and returns their keys with the reason:
    /// a reminder or digest whose deadline was extended or has passed, or for which a later reminder of the same
    /// series exists (catch-up: only the latest one goes out); a reminder to a school that has submitted on time
    /// since; a handover reminder superseded by a later day's, or whose devices have all been handed over.
    static func cancelStale(keys: [String], token: UUID, schoolNow: Date,
                            database: PostgresConnection) throws(PostgresError) -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        var cancelled: [String: String] = [:]
        for row in try database.query("""
            WITH verdict AS (
                SELECT n.dedup_key,
                    CASE
                    WHEN n.kind IN ('deadline_reminder', 'staff_digest') AND NOT EXISTS (
                            SELECT 1 FROM campaigns c WHERE c.campaign = n.campaign AND c.deadline = n.deadline)
                        THEN 'superseded: the deadline was changed'
                    WHEN n.kind IN ('deadline_reminder', 'staff_digest') AND n.deadline <= $3
                        THEN 'superseded: the deadline has passed'
                    WHEN n.kind IN ('deadline_reminder', 'staff_digest', 'handover_reminder') AND EXISTS (
                            SELECT 1 FROM notifications later
                            WHERE later.recipient = n.recipient AND later.kind = n.kind
                              AND later.campaign = n.campaign AND later.series = n.series AND later.day > n.day)
                        THEN 'superseded: a later reminder of the series exists'
                    WHEN n.kind = 'deadline_reminder' AND EXISTS (
                            SELECT 1 FROM submissions x JOIN campaigns c ON c.campaign = x.campaign
                            WHERE x.campaign = n.campaign AND x.school_code = n.school_code AND x.status = 'on_time'
                              AND x.type = CASE c.kind WHEN 'equipment_inventory' THEN 'equipment_inventory'
                                                       ELSE 'device_need_report' END)
                        THEN 'superseded: the school has submitted on time'
                    WHEN n.kind = 'handover_reminder' AND NOT EXISTS (
                            SELECT 1 FROM allocations a
                            WHERE a.campaign = n.campaign AND a.school_code = n.school_code
                              AND a.handed_over_at IS NULL
                              AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.device_serial = a.device_serial))
                        THEN 'superseded: every handover has been recorded'
                    END AS reason
                FROM notifications n
                WHERE n.dedup_key = ANY($1::text[]) AND n.claim_token = $2::uuid
            )
            UPDATE notifications n
            SET status = 'cancelled', claim_token = NULL, last_reply = verdict.reason, updated_at = now()
            FROM verdict
            WHERE n.dedup_key = verdict.dedup_key AND verdict.reason IS NOT NULL
            RETURNING n.dedup_key, verdict.reason
            """, [keys, token, schoolNow]) {
            cancelled[try row.string(0)] = try row.string(1)
        }
        return cancelled
    }

    // MARK: Recording

    /// What became of one claimed e-mail.
    struct Outcome: Sendable {
        enum Status: String, Sendable {
            case sent, failed
            /// Back to `pending`, to be tried again after `retryAfter` seconds.
            case pending
        }

        var dedupKey: String
        var status: Status
        /// Whether a delivery was attempted (counts in `attempts`); `false` for e-mails released unsent.
        var attempted: Bool
        var replyCode: Int?
        var reply: String?
        var retryAfter: Double
    }

    /// A sent e-mail as recorded, for its `notification.sent` event.
    struct SentRecord: Sendable {
        var dedupKey: String
        var kind: NotificationKind
        var recipient: String
        var campaign: String
        var schoolCode: String?
    }

    /// Records outcomes of e-mails still claimed under `token` (a lapsed and re-claimed row is left to its new
    /// owner) and stores a `notification.sent` event in the outbox for each one sent, in one transaction.
    @discardableResult
    static func record(_ outcomes: [Outcome], token: UUID,
                       database: PostgresConnection) throws -> [SentRecord] {
        guard !outcomes.isEmpty else { return [] }
        return try database.transaction { database throws in
            var sent: [SentRecord] = []
            for row in try database.query("""
                UPDATE notifications n
                SET status = v.status,
                    attempts = n.attempts + CASE WHEN v.attempted THEN 1 ELSE 0 END,
                    last_reply_code = COALESCE(v.code, CASE WHEN v.attempted THEN NULL ELSE n.last_reply_code END),
                    last_reply = COALESCE(v.reply, CASE WHEN v.attempted THEN NULL ELSE n.last_reply END),
                    sent_at = CASE WHEN v.status = 'sent' THEN now() ELSE n.sent_at END,
                    next_attempt_at = now() + make_interval(secs => v.delay),
                    claim_token = NULL, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::float8[])
                     AS v(key, status, attempted, code, reply, delay)
                WHERE n.dedup_key = v.key AND n.claim_token = $7::uuid
                RETURNING n.dedup_key, n.kind, n.recipient, n.campaign, n.school_code, n.status
                """, [outcomes.map(\.dedupKey), outcomes.map(\.status.rawValue), outcomes.map(\.attempted),
                      outcomes.map(\.replyCode), outcomes.map(\.reply), outcomes.map(\.retryAfter), token]) {
                guard try row.string("status") == "sent",
                      let kind = NotificationKind(rawValue: try row.string("kind")) else { continue }
                sent.append(SentRecord(dedupKey: try row.string("dedup_key"), kind: kind,
                                       recipient: try row.string("recipient"), campaign: try row.string("campaign"),
                                       schoolCode: try row.optionalString("school_code")))
            }
            try Outbox.store(sent.map(NotificationEvents.sent), database: database)
            return sent
        }
    }
}

extension ClaimedNotification {
    init(row: PostgresRow) throws {
        guard let kind = NotificationKind(rawValue: try row.string("kind")),
              let language = Language(rawValue: try row.string("language")),
              let day = LocalDay(iso: try row.string("day")) else {
            throw PostgresError(code: .decodingFailed, reason: "notifications row has an unknown kind, language or day")
        }
        let payload = try JSONParser.parse(Array(try row.string("payload").utf8))
        self.init(dedupKey: try row.string("dedup_key"), messageID: try row.string("message_id"), kind: kind,
                  recipient: try row.string("recipient"), campaign: try row.string("campaign"),
                  series: try row.string("series"), deadline: try row.optionalDate("deadline"), day: day,
                  schoolCode: try row.optionalString("school_code"), language: language, payload: payload,
                  dueAt: try row.date("due_at"), attempts: try row.int("attempts"))
    }
}
