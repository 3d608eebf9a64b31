import ArgumentParser
import Foundation
import Shared

/// `schoolict report --campaign C [--region R] [--format text|csv|json]`: a campaign's figures from the database, in
/// a read-only session (the operator's role, `db-operator.url`, reads no names): per region and school on time,
/// late or missing, students by category, computers allocated and students waiting, handovers in time or late,
/// e-mails sent and failed.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A campaign's figures from the database (DATABASE_URL, read-only): submissions, students, allocations, handovers, e-mails.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, csv, json }

    @Option(help: "The campaign.") var campaign: String
    @Option(help: "Only this region's schools.") var region: String?
    @Option(help: "text, csv (one line per school; a UTF-8 byte-order mark so that spreadsheets read it right) or json.")
    var format: Format = .text

    struct School {
        var code: String
        var name: String
        var region: String
        var status: String
        var students: Int
        var allocated: Int
        var handoversOnTime: Int
        var handoversLate: Int
    }

    func run() throws {
        let database = try PostgresConnection(url: try Configuration().databaseURL, applicationName: "schoolict report")
        defer { database.close() }
        try database.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        guard let record = try database.campaigns([campaign])[campaign] else {
            throw ValidationError("no campaign \(campaign)")
        }
        let types = record.kind == .deviceSupport ? ["device_need_report"] : ["equipment_inventory"]
        // Schools the campaign concerns (its regions and levels), with their best submission status.
        let schools = try database.query("""
            SELECT s.school_code, s.name, s.region,
                   CASE WHEN bool_or(sub.status = 'on_time') THEN 'on_time'
                        WHEN bool_or(sub.status = 'late') THEN 'late' ELSE 'missing' END AS status,
                   (SELECT count(*)::int FROM students st WHERE st.campaign = $1 AND st.school_code = s.school_code) AS students,
                   (SELECT count(*)::int FROM allocations a WHERE a.campaign = $1 AND a.school_code = s.school_code) AS allocated,
                   (SELECT count(*)::int FROM handovers h WHERE h.campaign = $1 AND h.school_code = s.school_code AND NOT h.late) AS on_time,
                   (SELECT count(*)::int FROM handovers h WHERE h.campaign = $1 AND h.school_code = s.school_code AND h.late) AS late
            FROM schools s
            LEFT JOIN submissions sub ON sub.campaign = $1 AND sub.school_code = s.school_code AND sub.type = ANY($2::text[])
            WHERE ($3::text[] IS NULL OR s.region = ANY($3::text[])) AND ($4::text[] IS NULL OR s.level = ANY($4::text[]))
              AND ($5::text IS NULL OR s.region = $5)
            GROUP BY s.school_code, s.name, s.region
            ORDER BY s.region, s.school_code
            """, [campaign, types, record.regions, record.levels?.map(\.rawValue), region]).map { row in
            School(code: try row.string("school_code"), name: try row.string("name"), region: try row.string("region"),
                   status: try row.string("status"), students: try row.int("students"), allocated: try row.int("allocated"),
                   handoversOnTime: try row.int("on_time"), handoversLate: try row.int("late"))
        }
        var categories: [String: Int] = [:]
        for row in try database.query("""
            SELECT st.category, count(*)::int FROM students st JOIN schools s USING (school_code)
            WHERE st.campaign = $1 AND ($2::text IS NULL OR s.region = $2) GROUP BY st.category
            """, [campaign, region]) {
            categories[try row.string(0)] = try row.int(1)
        }
        let waiting = try database.query("""
            SELECT count(*)::int FROM students st JOIN schools s USING (school_code)
            WHERE st.campaign = $1 AND st.first_on_time_at IS NOT NULL AND ($2::text IS NULL OR s.region = $2)
              AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.campaign = st.campaign AND a.school_code = st.school_code
                              AND a.student_ref = st.student_ref)
            """, [campaign, region])[0].int(0)
        var emails: [String: Int] = [:]
        for row in try database.query("""
            SELECT status, count(*)::int FROM notifications WHERE campaign = $1 GROUP BY status
            """, [campaign]) {
            emails[try row.string(0)] = try row.int(1)
        }

        switch format {
        case .csv:
            let rows = [["region", "school_code", "name", "status", "students_reported", "computers_allocated",
                         "handovers_on_time", "handovers_late"]]
                + schools.map { [$0.region, $0.code, $0.name, $0.status, String($0.students), String($0.allocated),
                                 String($0.handoversOnTime), String($0.handoversLate)] }
            print(try CSVTable.write(rows, byteOrderMark: true), terminator: "")
        case .json:
            let body: JSONValue = [
                "campaign": .string(campaign), "region": .optional(region),
                "schools": .array(schools.map { school in
                    ["school_code": .string(school.code), "region": .string(school.region), "status": .string(school.status),
                     "students_reported": .int(school.students), "computers_allocated": .int(school.allocated),
                     "handovers_on_time": .int(school.handoversOnTime), "handovers_late": .int(school.handoversLate)]
                }),
                "totals": totals(schools, categories: categories, waiting: waiting, emails: emails),
            ]
            print(String(decoding: body.serialized(), as: UTF8.self))
        case .text:
            print("\(record.title) (\(campaign))" + (region.map { ", region \($0)" } ?? ""))
            for (name, value) in totalsLines(schools, categories: categories, waiting: waiting, emails: emails) {
                print("  " + name.padding(toLength: 34, withPad: " ", startingAt: 0) + value)
            }
            print("  per region (on time / late / missing):")
            for (name, group) in Dictionary(grouping: schools, by: \.region).sorted(by: { $0.key < $1.key }) {
                let counts = ["on_time", "late", "missing"].map { status in group.filter { $0.status == status }.count }
                print("    " + name.padding(toLength: 32, withPad: " ", startingAt: 0)
                      + counts.map(String.init).joined(separator: " / "))
            }
        }
    }

    private func totals(_ schools: [School], categories: [String: Int], waiting: Int, emails: [String: Int]) -> JSONValue {
        [
            "schools": .int(schools.count),
            "on_time": .int(schools.filter { $0.status == "on_time" }.count),
            "late": .int(schools.filter { $0.status == "late" }.count),
            "missing": .int(schools.filter { $0.status == "missing" }.count),
            "students_by_category": .object(JSONObject(categories.mapValues { .int($0) })),
            "computers_allocated": .int(schools.reduce(0) { $0 + $1.allocated }),
            "students_waiting": .int(waiting),
            "handovers_on_time": .int(schools.reduce(0) { $0 + $1.handoversOnTime }),
            "handovers_late": .int(schools.reduce(0) { $0 + $1.handoversLate }),
            "emails_sent": .int(emails["sent"] ?? 0),
            "emails_failed": .int(emails["failed"] ?? 0),
        ]
    }

    private func totalsLines(_ schools: [School], categories: [String: Int], waiting: Int,
                             emails: [String: Int]) -> [(String, String)] {
        var lines = [
            ("schools", String(schools.count)),
            ("on time / late / missing", ["on_time", "late", "missing"].map { status in
                String(schools.filter { $0.status == status }.count) }.joined(separator: " / ")),
        ]
        for (category, count) in categories.sorted(by: { $0.key < $1.key }) { lines.append(("students: \(category)", String(count))) }
        lines += [
            ("computers allocated / waiting", "\(schools.reduce(0) { $0 + $1.allocated }) / \(waiting)"),
            ("handovers in time / late", "\(schools.reduce(0) { $0 + $1.handoversOnTime }) / \(schools.reduce(0) { $0 + $1.handoversLate })"),
            ("e-mails sent / failed", "\(emails["sent"] ?? 0) / \(emails["failed"] ?? 0)"),
        ]
        return lines
    }
}
