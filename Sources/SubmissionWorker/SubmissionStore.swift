import Foundation
import Shared

/// The SubmissionWorker's SQL: loading a batch's context and writing its effects set-wise.
enum SubmissionStore {
    // MARK: Context

    /// Loads what the rules need for these submissions.
    static func loadContext(for submissions: [Submission], now: Date,
                            database: PostgresConnection) throws(PostgresError) -> SubmissionContext {
        var context = SubmissionContext(now: now)
        context.schools = try database.schools(Array(Set(submissions.compactMap(\.schoolCode))))
        context.campaigns = try database.campaigns(Array(Set(submissions.map(\.header.campaign))))

        var serialCampaigns: [String] = [], serialSchools: [String] = []
        var deviceSerials: [String] = [], donationCampaigns: [String] = [], donationRefs: [String] = []
        var handoverSerials: [String] = []
        for submission in submissions {
            switch submission {
            case .equipmentInventory(let inventory) where inventory.items.contains { $0.serialNumbers != nil }:
                serialCampaigns.append(inventory.header.campaign)
                serialSchools.append(inventory.header.schoolCode!)
            case .donationRecord(let donation):
                deviceSerials.append(contentsOf: donation.devices.map(\.serial))
                donationCampaigns.append(donation.header.campaign)
                donationRefs.append(donation.donationRef)
            case .handoverRecord(let handover):
                handoverSerials.append(handover.deviceSerial)
            default:
                break
            }
        }
        if !serialSchools.isEmpty {
            let rows = try database.query("""
                SELECT s.campaign, s.school_code, s.serial FROM equipment_serials s
                JOIN unnest($1::text[], $2::text[]) AS k(campaign, school_code)
                  ON s.campaign = k.campaign AND s.school_code = k.school_code
                """, [serialCampaigns, serialSchools])
            for row in rows {
                context.equipmentSerials.insert(.init(campaign: try row.string(0), schoolCode: try row.string(1),
                                                      serial: try row.string(2)))
            }
        }
        let serials = deviceSerials + handoverSerials
        if !serials.isEmpty {
            for row in try database.query("SELECT serial, campaign FROM devices WHERE serial = ANY($1::text[])", [serials]) {
                context.deviceCampaigns[try row.string(0)] = try row.string(1)
            }
        }
        if !donationRefs.isEmpty {
            let rows = try database.query("""
                SELECT d.campaign, d.donation_ref FROM donations d
                JOIN unnest($1::text[], $2::text[]) AS k(campaign, donation_ref)
                  ON d.campaign = k.campaign AND d.donation_ref = k.donation_ref
                """, [donationCampaigns, donationRefs])
            for row in rows {
                context.donations.insert(.init(campaign: try row.string(0), donationRef: try row.string(1)))
            }
        }
        if !handoverSerials.isEmpty {
            let rows = try database.query("""
                SELECT device_serial, campaign, school_code, student_ref FROM allocations
                WHERE device_serial = ANY($1::text[])
                """, [handoverSerials])
            for row in rows {
                context.allocations[try row.string(0)] = .init(campaign: try row.string(1), schoolCode: try row.string(2),
                                                               studentRef: try row.string(3))
            }
            for row in try database.query("SELECT device_serial FROM handovers WHERE device_serial = ANY($1::text[])",
                                          [handoverSerials]) {
                context.handedOver.insert(try row.string(0))
            }
        }
        return context
    }

    // MARK: Effects

    /// `{"line_no":1,"category":"laptop","quantity":2,"acquired_year":2019,"condition":"working"}`
    private static func appendLine(_ row: SubmissionEffects.ItemRow, to lines: inout [UInt8]) {
        lines.append(contentsOf: #"{"line_no":"#.utf8)
        appendDecimal(row.lineNo, to: &lines)
        lines.append(contentsOf: #","category":""#.utf8)
        lines.append(contentsOf: row.item.category.rawValue.utf8)
        lines.append(contentsOf: #"","quantity":"#.utf8)
        appendDecimal(row.item.quantity, to: &lines)
        lines.append(contentsOf: #","acquired_year":"#.utf8)
        appendDecimal(row.item.acquiredYear, to: &lines)
        lines.append(contentsOf: #","condition":""#.utf8)
        lines.append(contentsOf: row.item.condition.rawValue.utf8)
        lines.append(contentsOf: #""}"#.utf8)
    }

    /// `value` in decimal, as `"\(value)"` writes it.
    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var divisor: UInt = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor))
            magnitude %= divisor
            divisor /= 10
        } while divisor > 0
    }

    static func write(_ effects: SubmissionEffects, database: PostgresConnection) throws(PostgresError) {
        guard !effects.isEmpty else { return }
        let rows = effects.submissions
        try database.query("""
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status, procedure,
                                     published_by, received_at, backdated)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                 $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::bool[])
            """, [rows.map(\.messageID), rows.map(\.type.rawValue), rows.map(\.campaign), rows.map(\.schoolCode),
                  rows.map(\.submittedBy), rows.map(\.submittedAt), rows.map(\.status.rawValue), rows.map(\.procedure),
                  rows.map(\.receipt.publishedBy), rows.map(\.receipt.receivedAt), rows.map(\.backdated)])

        if !effects.replacedRecords.isEmpty {
            let keys = Array(effects.replacedRecords)
            // Two workers replacing the same school's record at once would each delete the old one and both insert
            // theirs. A lock per school (in one order, so workers never deadlock) makes the second wait for the
            // first to commit; its DELETE then sees the first one's record and replaces it.
            try database.query("""
                SELECT pg_advisory_xact_lock(k) FROM (
                    SELECT DISTINCT hashtextextended('equipment-record:' || r.campaign || chr(31) || r.school_code, 0) AS k
                    FROM unnest($1::text[], $2::text[]) AS r(campaign, school_code) ORDER BY k) AS locks
                """, [keys.map(\.campaign), keys.map(\.schoolCode)])
            // The records' serials go with them (ON DELETE CASCADE).
            try database.query("""
                DELETE FROM equipment_records e USING unnest($1::text[], $2::text[]) AS r(campaign, school_code)
                WHERE e.campaign = r.campaign AND e.school_code = r.school_code
                """, [keys.map(\.campaign), keys.map(\.schoolCode)])
        }
        let items = effects.items.values.flatMap { $0 }
        if !items.isEmpty {
            // One row per submission, its lines a jsonb array (migration 0009), by COPY: the hot path. The array is
            // written directly: every value is a number or one of the vocabulary's fixed names (no escaping needed).
            var records: [[String?]] = []
            var current: (submissionID: String, campaign: String, schoolCode: String, lines: [UInt8])?
            func close() {
                guard current != nil else { return }
                current!.lines.append(UInt8(ascii: "]"))
                let record = current!
                records.append([record.submissionID, record.campaign, record.schoolCode,
                                String(decoding: record.lines, as: UTF8.self)])
            }
            for row in items {
                if current?.submissionID != row.submissionID {
                    close()
                    var lines: [UInt8] = [UInt8(ascii: "[")]
                    lines.reserveCapacity(1024)
                    current = (row.submissionID, row.campaign, row.schoolCode, lines)
                } else {
                    current!.lines.append(UInt8(ascii: ","))
                }
                // Into bytes, not by string interpolation (a measurable share of the worker's CPU).
                Self.appendLine(row, to: &current!.lines)
            }
            close()
            _ = try database.copyIn("""
                COPY equipment_records (submission_id, campaign, school_code, lines) FROM STDIN
                """, rows: records)
            let serialRows = items.flatMap { row in (row.item.serialNumbers ?? []).map { (row, $0) } }
            if !serialRows.isEmpty {
                try database.query("""
                    INSERT INTO equipment_serials (campaign, school_code, serial, submission_id, line_no)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
                    """, [serialRows.map(\.0.campaign), serialRows.map(\.0.schoolCode), serialRows.map(\.1),
                          serialRows.map(\.0.submissionID), serialRows.map(\.0.lineNo)])
            }
        }
        if !effects.students.isEmpty {
            let students = Array(effects.students.values)
            try database.query(upsertStudents, [
                students.map(\.campaign), students.map(\.schoolCode), students.map(\.student.studentRef),
                students.map(\.student.fullName), students.map(\.student.grade), students.map(\.student.category.rawValue),
                students.map(\.reportedAt), students.map(\.submissionID), students.map(\.firstOnTimeAt),
            ])
        }
        if !effects.donations.isEmpty {
            let donations = effects.donations
            try database.query("""
                INSERT INTO donations (campaign, donation_ref, submission_id, channel, donor_name, donor_kind,
                                       target_school_code, submitted_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                     $8::timestamptz[])
                """, [donations.map(\.0.header.campaign), donations.map(\.0.donationRef), donations.map(\.submissionID),
                      donations.map(\.0.channel.rawValue), donations.map(\.0.donorName), donations.map(\.0.donorKind.rawValue),
                      donations.map(\.0.targetSchoolCode), donations.map(\.0.header.submittedAt.date)])
            let devices = donations.flatMap { donation, _ in donation.devices.map { (donation, $0) } }
            try database.query("""
                INSERT INTO devices (serial, campaign, donation_ref, kind, specs, target_school_code, received_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
                """, [devices.map(\.1.serial), devices.map(\.0.header.campaign), devices.map(\.0.donationRef),
                      devices.map(\.1.kind.rawValue), devices.map(\.1.specs), devices.map(\.0.targetSchoolCode),
                      devices.map(\.0.header.submittedAt.date)])
        }
        if !effects.handovers.isEmpty {
            let handovers = effects.handovers
            try database.query("""
                INSERT INTO handovers (device_serial, campaign, school_code, student_ref, handed_over_at, recorded_at,
                                       late, submission_id)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                                     $7::bool[], $8::text[])
                """, [handovers.map(\.serial), handovers.map(\.campaign), handovers.map(\.schoolCode),
                      handovers.map(\.studentRef), handovers.map(\.handedOverAt), handovers.map(\.recordedAt),
                      handovers.map(\.late), handovers.map(\.submissionID)])
            try database.query("""
                UPDATE allocations a SET handed_over_at = h.handed_over_at
                FROM unnest($1::text[], $2::timestamptz[]) AS h(serial, handed_over_at)
                WHERE a.device_serial = h.serial
                """, [handovers.map(\.serial), handovers.map(\.handedOverAt)])
        }
    }

    /// The newest report wins for a student's details, whatever the delivery order; the earliest on-time
    /// report is kept for eligibility and ranking. An erased name (`student.erase`) comes back only with a report
    /// submitted after the erasure.
    static let upsertStudents = """
        INSERT INTO students AS s (campaign, school_code, student_ref, full_name, grade, category, reported_at,
                                   submission_id, first_on_time_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[],
                             $8::text[], $9::timestamptz[])
        ON CONFLICT (campaign, school_code, student_ref) DO UPDATE SET
            full_name = CASE WHEN (excluded.reported_at, excluded.submission_id) > (s.reported_at, s.submission_id)
                                  AND (s.erased_at IS NULL OR excluded.reported_at > s.erased_at)
                             THEN excluded.full_name ELSE s.full_name END,
            erased_at = CASE WHEN (excluded.reported_at, excluded.submission_id) > (s.reported_at, s.submission_id)
                                  AND excluded.reported_at > s.erased_at
                             THEN NULL ELSE s.erased_at END,
            grade = CASE WHEN (excluded.reported_at, excluded.submission_id) > (s.reported_at, s.submission_id)
                         THEN excluded.grade ELSE s.grade END,
            category = CASE WHEN (excluded.reported_at, excluded.submission_id) > (s.reported_at, s.submission_id)
                            THEN excluded.category ELSE s.category END,
            submission_id = CASE WHEN (excluded.reported_at, excluded.submission_id) > (s.reported_at, s.submission_id)
                                 THEN excluded.submission_id ELSE s.submission_id END,
            reported_at = GREATEST(s.reported_at, excluded.reported_at),
            first_on_time_at = LEAST(s.first_on_time_at, excluded.first_on_time_at)
        """
}
