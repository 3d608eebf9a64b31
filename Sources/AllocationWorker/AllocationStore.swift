import Foundation
import Shared

/// The AllocationWorker's SQL. Runs for one campaign are serialised by a transaction-level advisory lock;
/// the tables' keys (one allocation per device, one per student) are the last word on the invariants.
enum AllocationStore {
    struct Scope: Sendable, Equatable {
        var region: String?
        var schoolCode: String?
        static let campaign = Scope(region: nil, schoolCode: nil)
    }

    /// The lottery, computed in the database exactly as `Lottery.ticket` computes it in Swift.
    static let lotterySQL = "encode(sha256(convert_to(s.campaign || ':' || s.school_code || ':' || s.student_ref, 'UTF8')), 'hex')"

    /// Waits for any other run of this campaign to commit, and keeps others waiting until this one does.
    static func lockCampaign(_ campaign: String, database: PostgresConnection) throws(PostgresError) {
        try database.query("SELECT pg_advisory_xact_lock(hashtextextended('allocation:' || $1, 0))", [campaign])
    }

    /// Devices of the campaign not yet allocated: the whole pool, and the targeted ones of schools in scope.
    static func availableDevices(campaign: String, scope: Scope,
                                 database: PostgresConnection) throws(PostgresError) -> [AvailableDevice] {
        try database.query("""
            SELECT d.serial, d.target_school_code FROM devices d
            LEFT JOIN schools sc ON sc.school_code = d.target_school_code
            WHERE d.campaign = $1
              AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.device_serial = d.serial)
              AND (d.target_school_code IS NULL
                   OR (($2::text IS NULL OR sc.region = $2) AND ($3::text IS NULL OR d.target_school_code = $3)))
            ORDER BY d.received_at, d.serial
            """, [campaign, scope.region, scope.schoolCode]).map { row throws(PostgresError) in
            AvailableDevice(serial: try row.string(0), targetSchoolCode: try row.optionalString(1))
        }
    }

    private static let candidateColumns = """
        s.school_code, s.student_ref, sc.region, s.category, s.first_on_time_at, \(lotterySQL) AS lottery
        """

    private static let eligible = """
        s.campaign = $1 AND s.first_on_time_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM allocations a
                        WHERE a.campaign = s.campaign AND a.school_code = s.school_code AND a.student_ref = s.student_ref)
        AND ($2::text IS NULL OR sc.region = $2) AND ($3::text IS NULL OR s.school_code = $3)
        """

    private static let rankOrder = "array_position($4::text[], s.category), s.first_on_time_at, lottery, s.school_code, s.student_ref"
    /// The same order where output names are not visible (inside a window).
    private static let rankOrderExpanded = "array_position($4::text[], s.category), s.first_on_time_at, \(lotterySQL), s.school_code, s.student_ref"

    /// The best `limit` waiting students in scope, in rank order (the database sorts; Swift re-checks).
    static func topCandidates(campaign: String, scope: Scope, ranking: Ranking, limit: Int,
                              database: PostgresConnection) throws(PostgresError) -> [Candidate] {
        guard limit > 0 else { return [] }
        return try decode(database.query("""
            SELECT \(candidateColumns) FROM students s JOIN schools sc ON sc.school_code = s.school_code
            WHERE \(eligible) ORDER BY \(rankOrder) LIMIT $5
            """, [campaign, scope.region, scope.schoolCode, ranking.priority.map(\.rawValue), limit]))
    }

    /// For each school with `k` targeted devices waiting, its best `k` waiting students.
    static func targetedCandidates(campaign: String, scope: Scope, ranking: Ranking, schools: [String: Int],
                                   database: PostgresConnection) throws(PostgresError) -> [Candidate] {
        guard !schools.isEmpty else { return [] }
        let codes = Array(schools.keys)
        return try decode(database.query("""
            SELECT school_code, student_ref, region, category, first_on_time_at, lottery FROM (
                SELECT \(candidateColumns), k.wanted,
                       row_number() OVER (PARTITION BY s.school_code ORDER BY \(rankOrderExpanded)) AS position
                FROM students s JOIN schools sc ON sc.school_code = s.school_code
                JOIN unnest($5::text[], $6::int[]) AS k(school_code, wanted) ON k.school_code = s.school_code
                WHERE \(eligible)
            ) ranked WHERE position <= wanted
            """, [campaign, scope.region, scope.schoolCode, ranking.priority.map(\.rawValue), codes, codes.map { schools[$0]! }]))
    }

    private static func decode(_ rows: PostgresRows) throws(PostgresError) -> [Candidate] {
        var candidates: [Candidate] = []
        candidates.reserveCapacity(rows.count)
        for row in rows {
            guard let category = StudentCategory(rawValue: try row.string(3)) else {
                throw PostgresError(code: .decodingFailed, column: "category", reason: "unknown student category")
            }
            candidates.append(Candidate(schoolCode: try row.string(0), studentRef: try row.string(1),
                                        region: try row.string(2), category: category,
                                        reportedAt: try row.date(4), lottery: try row.string(5)))
        }
        return candidates
    }

    /// Counts for the run's record: eligible waiting students in scope, and students reported late only.
    static func counts(campaign: String, scope: Scope,
                       database: PostgresConnection) throws(PostgresError) -> (waiting: Int, lateOnly: Int) {
        if scope == .campaign {
            // The whole campaign: no join to schools needed.
            let students = try database.query("""
                SELECT count(*) FILTER (WHERE first_on_time_at IS NOT NULL), count(*) FILTER (WHERE first_on_time_at IS NULL)
                FROM students WHERE campaign = $1
                """, [campaign])[0]
            let allocated = try database.query("SELECT count(*) FROM allocations WHERE campaign = $1", [campaign])[0].int(0)
            return (try students.int(0) - allocated, try students.int(1))
        }
        let row = try database.query("""
            SELECT count(*) FILTER (WHERE s.first_on_time_at IS NOT NULL AND a.device_serial IS NULL),
                   count(*) FILTER (WHERE s.first_on_time_at IS NULL)
            FROM students s JOIN schools sc ON sc.school_code = s.school_code
            LEFT JOIN allocations a ON a.campaign = s.campaign AND a.school_code = s.school_code AND a.student_ref = s.student_ref
            WHERE s.campaign = $1 AND ($2::text IS NULL OR sc.region = $2) AND ($3::text IS NULL OR s.school_code = $3)
            """, [campaign, scope.region, scope.schoolCode])[0]
        return (try row.int(0), try row.int(1))
    }

    static func insertRun(id: String, campaign: String, scope: Scope, trigger: String, triggerMessageID: String?,
                          database: PostgresConnection) throws(PostgresError) {
        try database.query("""
            INSERT INTO allocation_runs (run_id, campaign, region, school_code, trigger, trigger_message_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            """, [id, campaign, scope.region, scope.schoolCode, trigger, triggerMessageID])
    }

    static func finishRun(id: String, figures: AllocationRun.Figures, database: PostgresConnection) throws(PostgresError) {
        try database.query("""
            UPDATE allocation_runs SET finished_at = clock_timestamp(), eligible = $2, late_excluded = $3, devices_available = $4,
                allocated = $5, waiting = $6, pool_devices = $7, targeted_devices = $8
            WHERE run_id = $1
            """, [id, figures.eligible, figures.lateOnly, figures.devicesAvailable, figures.allocated, figures.waiting,
                  figures.poolDevices, figures.targetedDevices])
    }

    /// Writes the assignments with COPY. A device or student already allocated violates a key and fails the
    /// whole run: the database, not only Swift, guarantees one device per student and one student per device.
    static func insert(_ assignments: [Assignment], campaign: String, runID: String, at time: Date,
                       database: PostgresConnection) throws(PostgresError) {
        guard !assignments.isEmpty else { return }
        let allocatedAt = ISO8601.format(time)
        _ = try database.copyIn(
            "COPY allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule, allocated_at) FROM STDIN",
            rows: assignments.lazy.map { a in
                [a.serial, campaign, a.schoolCode, a.studentRef, runID, String(a.rank), a.category.rawValue, a.rule.rawValue,
                 allocatedAt]
            })
    }
}
