import Foundation

extension SchoolRecord {
    /// Columns: school_code, name, level, region, official_email, language, students.
    static let columns = "school_code, name, level, region, official_email, language, students"

    init(row: PostgresRow) throws(PostgresError) {
        guard let level = SchoolLevel(rawValue: try row.string("level")),
              let language = Language(rawValue: try row.string("language")) else {
            throw PostgresError(code: .decodingFailed, reason: "schools row has an unknown level or language")
        }
        self.init(schoolCode: try row.string("school_code"), name: try row.string("name"), level: level,
                  region: try row.string("region"), officialEmail: try row.string("official_email"),
                  language: language, students: try row.optionalInt("students"))
    }
}

extension CampaignRecord {
    static let columns = """
        campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days, handover_days, \
        priority, regions, levels, max_submission_lag_hours
        """

    init(row: PostgresRow) throws(PostgresError) {
        guard let kind = CampaignKind(rawValue: try row.string("kind")) else {
            throw PostgresError(code: .decodingFailed, reason: "campaigns row has an unknown kind")
        }
        self.init(campaign: try row.string("campaign"), kind: kind, title: try row.string("title"),
                  opensAt: try row.date("opens_at"), deadline: try row.date("deadline"),
                  timezone: try row.string("timezone"), staffEmails: try row.stringArray("staff_emails").compactMap { $0 },
                  reminderDays: try row.stringArray("reminder_days").compactMap { $0.flatMap { Int($0) } },
                  handoverDays: try row.int("handover_days"),
                  priority: try row.stringArray("priority").compactMap { $0.flatMap(StudentCategory.init(rawValue:)) },
                  regions: try row.isNull("regions") ? nil : try row.stringArray("regions").compactMap { $0 },
                  levels: try row.isNull("levels") ? nil : try row.stringArray("levels").compactMap { $0.flatMap(SchoolLevel.init(rawValue:)) },
                  maxSubmissionLagHours: try row.double("max_submission_lag_hours"))
    }
}

extension PostgresConnection {
    /// The schools with these codes.
    public func schools(_ codes: [String]) throws(PostgresError) -> [String: SchoolRecord] {
        guard !codes.isEmpty else { return [:] }
        var result: [String: SchoolRecord] = [:]
        for row in try query("SELECT \(SchoolRecord.columns) FROM schools WHERE school_code = ANY($1::text[])", [codes]) {
            let school = try SchoolRecord(row: row)
            result[school.schoolCode] = school
        }
        return result
    }

    /// The campaigns with these names.
    public func campaigns(_ names: [String]) throws(PostgresError) -> [String: CampaignRecord] {
        guard !names.isEmpty else { return [:] }
        var result: [String: CampaignRecord] = [:]
        for row in try query("SELECT \(CampaignRecord.columns) FROM campaigns WHERE campaign = ANY($1::text[])", [names]) {
            let campaign = try CampaignRecord(row: row)
            result[campaign.campaign] = campaign
        }
        return result
    }
}
