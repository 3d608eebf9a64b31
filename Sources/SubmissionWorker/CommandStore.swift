import Foundation
import Shared

/// Applies the registry commands this worker owns: `school.upsert` and `campaign.upsert`.
enum CommandStore {
    static func apply(_ command: SchoolRecord, database: PostgresConnection) throws(PostgresError) -> JSONValue {
        let rows = try database.query("""
            INSERT INTO schools (school_code, name, level, region, official_email, language, students)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (school_code) DO UPDATE SET name = excluded.name, level = excluded.level,
                region = excluded.region, official_email = excluded.official_email, language = excluded.language,
                students = COALESCE(excluded.students, schools.students), updated_at = now()
            RETURNING (xmax = 0) AS created
            """, [command.schoolCode, command.name, command.level.rawValue, command.region, command.officialEmail,
                  command.language.rawValue, command.students])
        let created = try rows.first?.bool("created") ?? false
        return ["created": .bool(created), "level": .string(command.level.rawValue), "region": .string(command.region)]
    }

    /// `student.erase`: removes the student's name (the only free text stored about a student) and marks the row
    /// erased; the anonymous allocation and handover records stay, for audit. Idempotent: erasing again, or a
    /// student never reported, erases nothing. A later report of the same student stores what it says again.
    static func erase(_ command: StudentEraseCommand, database: PostgresConnection) throws(PostgresError) -> JSONValue {
        let rows = try database.query("""
            UPDATE students SET full_name = NULL, erased_at = now()
            WHERE campaign = $1 AND school_code = $2 AND student_ref = $3 AND full_name IS NOT NULL
            RETURNING student_ref
            """, [command.campaign, command.schoolCode, command.studentRef])
        return ["student_ref": .string(command.studentRef), "erased": .int(rows.count)]
    }

    /// Creates or updates a campaign. A changed deadline is an extension: it is recorded in
    /// `campaign_deadlines` (each deadline gets its own reminder series) and applies to later decisions.
    static func apply(_ command: CampaignRecord, database: PostgresConnection) throws(PostgresError) -> JSONValue {
        let previous = try database.query("SELECT deadline FROM campaigns WHERE campaign = $1 FOR UPDATE",
                                          [command.campaign]).first.map { row throws(PostgresError) in try row.date(0) }
        try database.query("""
            INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days,
                                   handover_days, priority, regions, levels, max_submission_lag_hours)
            VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::int[], $9, $10::text[], $11::text[], $12::text[], $13)
            ON CONFLICT (campaign) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                opens_at = excluded.opens_at, deadline = excluded.deadline, timezone = excluded.timezone,
                staff_emails = excluded.staff_emails, reminder_days = excluded.reminder_days,
                handover_days = excluded.handover_days, priority = excluded.priority, regions = excluded.regions,
                levels = excluded.levels, max_submission_lag_hours = excluded.max_submission_lag_hours, updated_at = now()
            """, [command.campaign, command.kind.rawValue, command.title, command.opensAt, command.deadline,
                  command.timezone, command.staffEmails, command.reminderDays, command.handoverDays,
                  command.priority.map(\.rawValue), command.regions, command.levels?.map(\.rawValue),
                  command.maxSubmissionLagHours])
        try database.query("""
            INSERT INTO campaign_deadlines (campaign, deadline) VALUES ($1, $2) ON CONFLICT DO NOTHING
            """, [command.campaign, command.deadline])
        let extended = previous.map { abs($0.timeIntervalSince(command.deadline)) >= 0.001 } ?? false
        var summary: JSONObject = [
            "created": .bool(previous == nil),
            "deadline": .string(ISO8601.format(command.deadline)),
            "deadline_changed": .bool(extended),
        ]
        if let previous, extended { summary["previous_deadline"] = .string(ISO8601.format(previous)) }
        return .object(summary)
    }
}
