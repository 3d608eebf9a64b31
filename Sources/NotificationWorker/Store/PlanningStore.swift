import Foundation
import Shared

/// The reads planning needs: campaigns, the schools in a campaign's scope with their submission status, and
/// allocated devices whose handover is overdue.
enum PlanningStore {
    static let campaignColumns = """
        campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days, handover_days, regions, levels
        """

    /// Campaigns whose current deadline is at most `horizonDays` behind `now`: the ones that may still have
    /// reminders or a final digest to send.
    static func recentCampaigns(now: Date, horizonDays: Int,
                                database: PostgresConnection) throws -> [CampaignSettings] {
        try database.query("""
            SELECT \(campaignColumns) FROM campaigns
            WHERE deadline > $1::timestamptz - make_interval(days => $2) ORDER BY campaign
            """, [now, horizonDays]).map(CampaignSettings.init(row:))
    }

    static func campaigns(_ names: [String], database: PostgresConnection) throws -> [String: CampaignSettings] {
        guard !names.isEmpty else { return [:] }
        var result: [String: CampaignSettings] = [:]
        for row in try database.query("SELECT \(campaignColumns) FROM campaigns WHERE campaign = ANY($1::text[])",
                                      [names]) {
            let campaign = try CampaignSettings(row: row)
            result[campaign.campaign] = campaign
        }
        return result
    }

    /// The deadline the current one replaced (the most recently set other deadline), if the campaign was extended.
    static func previousDeadline(of campaign: CampaignSettings,
                                 database: PostgresConnection) throws(PostgresError) -> Date? {
        try database.query("""
            SELECT deadline FROM campaign_deadlines WHERE campaign = $1 AND deadline <> $2
            ORDER BY set_at DESC, deadline DESC LIMIT 1
            """, [campaign.campaign, campaign.deadline]).first.map { row throws(PostgresError) in try row.date(0) }
    }

    /// A school in a campaign's scope and how it stands.
    struct ScopedSchool: Sendable {
        var code: String
        var name: String
        var level: SchoolLevel
        var region: String
        var officialEmail: String
        var language: Language
        var onTime: Bool
        var late: Bool

        var ref: SchoolRef { SchoolRef(code: code, name: name) }
    }

    /// Every school the campaign concerns (its regions and levels), by region and code, with whether it has an
    /// on-time and a late submission of the campaign's report type.
    static func schoolsInScope(of campaign: CampaignSettings,
                               database: PostgresConnection) throws -> [ScopedSchool] {
        try database.query("""
            SELECT s.school_code, s.name, s.level, s.region, s.official_email, s.language,
                   EXISTS (SELECT 1 FROM submissions x WHERE x.campaign = $1 AND x.school_code = s.school_code
                           AND x.type = $2 AND x.status = 'on_time') AS on_time,
                   EXISTS (SELECT 1 FROM submissions x WHERE x.campaign = $1 AND x.school_code = s.school_code
                           AND x.type = $2 AND x.status = 'late') AS late
            FROM schools s
            WHERE ($3::text[] IS NULL OR s.region = ANY($3::text[]))
              AND ($4::text[] IS NULL OR s.level = ANY($4::text[]))
            ORDER BY s.region, s.school_code
            """, [campaign.campaign, campaign.reportType.rawValue, campaign.regions, campaign.levels]).map { row in
            guard let level = SchoolLevel(rawValue: try row.string("level")),
                  let language = Language(rawValue: try row.string("language")) else {
                throw PostgresError(code: .decodingFailed, reason: "schools row has an unknown level or language")
            }
            return ScopedSchool(code: try row.string("school_code"), name: try row.string("name"), level: level,
                                region: try row.string("region"), officialEmail: try row.string("official_email"),
                                language: language, onTime: try row.bool("on_time"), late: try row.bool("late"))
        }
    }

    /// A school by code, for allocation e-mails.
    static func school(_ code: String, database: PostgresConnection) throws -> ScopedSchool? {
        try database.query("""
            SELECT school_code, name, level, region, official_email, language FROM schools WHERE school_code = $1
            """, [code]).first.map { row in
            guard let level = SchoolLevel(rawValue: try row.string("level")),
                  let language = Language(rawValue: try row.string("language")) else {
                throw PostgresError(code: .decodingFailed, reason: "schools row has an unknown level or language")
            }
            return ScopedSchool(code: try row.string("school_code"), name: try row.string("name"), level: level,
                                region: try row.string("region"), officialEmail: try row.string("official_email"),
                                language: language, onTime: false, late: false)
        }
    }

    /// The language most of a campaign's schools use: the language of its staff e-mails.
    static func staffLanguage(of schools: [ScopedSchool]) -> Language {
        var counts: [Language: Int] = [:]
        for school in schools { counts[school.language, default: 0] += 1 }
        return majorityLanguage(counts)
    }

    /// The staff language of a campaign, counted in the database (for allocation summaries).
    static func staffLanguage(of campaign: CampaignSettings, database: PostgresConnection) throws -> Language {
        var counts: [Language: Int] = [:]
        for row in try database.query("""
            SELECT language, count(*) AS schools FROM schools
            WHERE ($1::text[] IS NULL OR region = ANY($1::text[])) AND ($2::text[] IS NULL OR level = ANY($2::text[]))
            GROUP BY language
            """, [campaign.regions, campaign.levels]) {
            if let language = Language(rawValue: try row.string("language")) {
                counts[language] = try row.int("schools")
            }
        }
        return majorityLanguage(counts)
    }

    /// The most common language; ties go to a local language over English, then to the first code, so the
    /// choice is stable. English when there are no schools.
    static func majorityLanguage(_ counts: [Language: Int]) -> Language {
        let ranked = counts.filter { $0.value > 0 }.sorted { lhs, rhs in
            if lhs.value != rhs.value { return lhs.value > rhs.value }
            if (lhs.key == .english) != (rhs.key == .english) { return rhs.key == .english }
            return lhs.key.rawValue < rhs.key.rawValue
        }
        return ranked.first?.key ?? .english
    }

    /// An allocated device with no handover recorded.
    struct OverdueDevice: Sendable {
        var campaign: String
        var schoolCode: String
        var serial: String
        var studentRef: String
        var allocatedAt: Date
    }

    /// Allocated devices with no handover recorded although `handover_days` have passed at `now`, for schools
    /// that have no handover reminder for `today` yet (of the campaign's local day, checked per campaign).
    static func overdueHandovers(now: Date, database: PostgresConnection) throws -> [OverdueDevice] {
        try database.query("""
            SELECT a.campaign, a.school_code, a.device_serial, a.student_ref, a.allocated_at
            FROM allocations a JOIN campaigns c ON c.campaign = a.campaign
            WHERE a.handed_over_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.device_serial = a.device_serial)
              AND a.allocated_at + make_interval(days => c.handover_days) <= $1::timestamptz
            ORDER BY a.campaign, a.school_code, a.device_serial
            """, [now]).map { row in
            OverdueDevice(campaign: try row.string("campaign"), schoolCode: try row.string("school_code"),
                          serial: try row.string("device_serial"), studentRef: try row.string("student_ref"),
                          allocatedAt: try row.date("allocated_at"))
        }
    }

    /// The schools that already have a handover reminder for the given day, per campaign.
    static func handoverRemindersPlanned(campaign: String, day: LocalDay,
                                         database: PostgresConnection) throws -> Set<String> {
        var codes = Set<String>()
        for row in try database.query("""
            SELECT school_code FROM notifications WHERE campaign = $1 AND kind = 'handover_reminder' AND day = $2::date
            """, [campaign, day.description]) {
            if let code = try row.optionalString(0) { codes.insert(code) }
        }
        return codes
    }

    /// An allocation run as the AllocationWorker recorded it (finished runs only).
    struct RecordedRun {
        var allocated: Int
        var waiting: Int
    }

    /// The finished run `runID` of `campaign`, or `nil`: an event naming any other run is not believed.
    static func recordedRun(_ runID: String, campaign: String, database: PostgresConnection) throws -> RecordedRun? {
        try database.query("""
            SELECT coalesce(allocated, 0) AS allocated, coalesce(waiting, 0) AS waiting FROM allocation_runs
            WHERE run_id = $1 AND campaign = $2 AND finished_at IS NOT NULL
            """, [runID, campaign]).first.map { row in
            RecordedRun(allocated: try row.int("allocated"), waiting: try row.int("waiting"))
        }
    }

    /// The devices a run allocated to a school, as stored (student refs and serials, never names), with the
    /// earliest allocation time.
    static func allocations(runID: String, campaign: String, schoolCode: String,
                            database: PostgresConnection) throws -> (items: [AllocationNoticePayload.Item], allocatedAt: Date?) {
        let rows = try database.query("""
            SELECT student_ref, device_serial, allocated_at FROM allocations
            WHERE campaign = $1 AND school_code = $2 AND run_id = $3 ORDER BY student_ref, device_serial
            """, [campaign, schoolCode, runID])
        var items: [AllocationNoticePayload.Item] = []
        var earliest: Date?
        for row in rows {
            items.append(.init(studentRef: try row.string("student_ref"), deviceSerial: try row.string("device_serial")))
            let at = try row.date("allocated_at")
            earliest = min(earliest ?? at, at)
        }
        return (items, earliest)
    }

    /// Devices per school of a run, as stored.
    static func devicesPerSchool(runID: String, campaign: String,
                                 database: PostgresConnection) throws -> [AllocationSummaryPayload.School] {
        try database.query("""
            SELECT school_code, count(*)::int AS devices FROM allocations WHERE campaign = $1 AND run_id = $2
            GROUP BY school_code ORDER BY school_code
            """, [campaign, runID]).map { row in
            AllocationSummaryPayload.School(code: try row.string("school_code"), devices: try row.int("devices"))
        }
    }

    /// Allocation summaries planned for a campaign since `since` (real time), for the rate limit.
    static func summariesPlanned(campaign: String, since: Date, database: PostgresConnection) throws -> Int {
        try database.query("""
            SELECT count(DISTINCT series)::int FROM notifications
            WHERE campaign = $1 AND kind = 'allocation_summary' AND created_at >= $2
            """, [campaign, since]).first.map { try $0.int(0) } ?? 0
    }
}

extension CampaignSettings {
    init(row: PostgresRow) throws {
        guard let kind = CampaignKind(rawValue: try row.string("kind")) else {
            throw PostgresError(code: .decodingFailed, reason: "campaigns row has an unknown kind")
        }
        self.init(campaign: try row.string("campaign"), kind: kind, title: try row.string("title"),
                  opensAt: try row.date("opens_at"), deadline: try row.date("deadline"),
                  timezone: try row.string("timezone"),
                  staffEmails: try row.stringArray("staff_emails").compactMap { $0 },
                  reminderDays: try row.stringArray("reminder_days").compactMap { $0.flatMap { Int($0) } },
                  handoverDays: try row.int("handover_days"),
                  regions: try row.optionalStringArray("regions")?.compactMap { $0 },
                  levels: try row.optionalStringArray("levels")?.compactMap { $0 })
    }
}
