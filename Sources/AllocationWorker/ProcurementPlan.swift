import Foundation
import Shared

/// The Greek procurement plan: per on-time school, the working computers, the students per computer and
/// the computers needed to reach a target; late and missing schools listed apart, never silently planned.
enum ProcurementPlan {
    struct SchoolInput: Sendable, Equatable {
        enum Status: String, Sendable { case onTime = "on_time", late, missing }
        var schoolCode: String
        var region: String
        var students: Int?
        var status: Status
        var workingComputers: Int
    }

    struct PlannedSchool: Sendable, Equatable {
        var schoolCode: String
        var region: String
        var students: Int
        var workingComputers: Int
        /// Students per working computer (`nil` when the school has none).
        var ratio: Double?
        var needed: Int
    }

    struct NotPlanned: Sendable, Equatable {
        var schoolCode: String
        var reason: String
    }

    struct Plan: Sendable, Equatable {
        var campaign: String
        var target: Double
        var schools: [PlannedSchool]
        var notPlanned: [NotPlanned]
    }

    /// Computers needed so that students / computers ≤ target: ceil(students / target) − working, at least 0.
    static func needed(students: Int, working: Int, target: Double) -> Int {
        max(0, Int((Double(students) / target - 1e-9).rounded(.up)) - working)
    }

    static func compute(campaign: String, target: Double, schools: [SchoolInput]) -> Plan {
        var planned: [PlannedSchool] = []
        var notPlanned: [NotPlanned] = []
        for school in schools.sorted(by: { ($0.region, $0.schoolCode) < ($1.region, $1.schoolCode) }) {
            switch school.status {
            case .late, .missing:
                notPlanned.append(NotPlanned(schoolCode: school.schoolCode, reason: school.status.rawValue))
            case .onTime:
                guard let students = school.students else {
                    notPlanned.append(NotPlanned(schoolCode: school.schoolCode, reason: "no_student_count"))
                    continue
                }
                planned.append(PlannedSchool(
                    schoolCode: school.schoolCode, region: school.region, students: students,
                    workingComputers: school.workingComputers,
                    ratio: school.workingComputers > 0 ? Double(students) / Double(school.workingComputers) : nil,
                    needed: needed(students: students, working: school.workingComputers, target: target)))
            }
        }
        return Plan(campaign: campaign, target: target, schools: planned, notPlanned: notPlanned)
    }

    /// The inputs from the database: every school the campaign concerns, its status and working computers
    /// (desktops, laptops and tablets in working condition, from on-time submissions).
    static func load(_ campaign: CampaignRecord, database: PostgresConnection) throws(PostgresError) -> [SchoolInput] {
        try database.query("""
            SELECT sc.school_code, sc.region, sc.students,
                   CASE WHEN bool_or(sub.status = 'on_time') THEN 'on_time'
                        WHEN count(sub.message_id) > 0 THEN 'late' ELSE 'missing' END AS status,
                   COALESCE((SELECT sum(i.quantity) FROM equipment_items i
                             JOIN submissions s2 ON s2.message_id = i.submission_id AND s2.status = 'on_time'
                             WHERE i.campaign = $1 AND i.school_code = sc.school_code
                               AND i.category IN ('desktop', 'laptop', 'tablet') AND i.condition = 'working'), 0) AS working
            FROM schools sc
            LEFT JOIN submissions sub ON sub.campaign = $1 AND sub.school_code = sc.school_code
                                     AND sub.type = 'equipment_inventory'
            WHERE ($2::text[] IS NULL OR sc.region = ANY($2)) AND ($3::text[] IS NULL OR sc.level = ANY($3))
            GROUP BY sc.school_code, sc.region, sc.students
            """, [campaign.campaign, campaign.regions, campaign.levels?.map(\.rawValue)]).map { row throws(PostgresError) in
            SchoolInput(schoolCode: try row.string(0), region: try row.string(1), students: try row.optionalInt(2),
                        status: SchoolInput.Status(rawValue: try row.string(3)) ?? .missing,
                        workingComputers: try row.int(4))
        }
    }
}

extension ProcurementPlan.Plan {
    /// The `procurement.planned` event body (contract, with `ratio` added).
    var body: JSONValue {
        [
            "campaign": .string(campaign), "target_students_per_computer": .number(target),
            "schools": .array(schools.map { school in
                ["school_code": .string(school.schoolCode), "region": .string(school.region),
                 "students": .int(school.students), "working_computers": .int(school.workingComputers),
                 "ratio": school.ratio.map { .number(($0 * 100).rounded() / 100) } ?? .null,
                 "needed": .int(school.needed)]
            }),
            "not_planned": .array(notPlanned.map { ["school_code": .string($0.schoolCode), "reason": .string($0.reason)] }),
        ]
    }

    var summary: JSONValue {
        ["schools_planned": .int(schools.count), "computers_needed": .int(schools.reduce(0) { $0 + $1.needed }),
         "late": .int(notPlanned.filter { $0.reason == "late" }.count),
         "missing": .int(notPlanned.filter { $0.reason == "missing" }.count),
         "no_student_count": .int(notPlanned.filter { $0.reason == "no_student_count" }.count)]
    }
}
