import Foundation
import Testing

@testable import Shared

/// Runs the real `SubmissionWorker` executable against RabbitMQ and PostgreSQL (`source .data/env.sh`), each test
/// in a scratch vhost and database of its own. Without the servers these tests fail;
/// `SCHOOLICT_SKIP_INTEGRATION=1` disables them.
///
/// Workers run with `SCHOOLICT_NOW=2022-02-01T10:00:00+02:00`: the Greek campaign's deadline (21 January 2022)
/// and the Vietnamese one's (20 November 2021) have passed.
@Suite("SubmissionWorker integration", .serialized, .integration)
struct SubmissionWorkerIntegrationTests {
    typealias F = Fixtures

    // MARK: Commands

    @Test func schoolAndCampaignUpsertsFillTheRegistry() throws {
        try withWorker(seed: false) { harness in
            let outcomes = try harness.send(F.registry)
            for school in F.schools {
                let id = "seed-school-\(school.code)"
                let outcome = try #require(outcomes[id])
                expectAccepted(outcome, id: id, routingKey: "command.accepted.school.upsert", status: "on_time")
                #expect(outcome.body["school_code"]?.stringValue == school.code)
                #expect(outcome.summary?["created"] == .bool(true))
                #expect(outcome.summary?["level"]?.stringValue == school.level)
            }
            let greek = try #require(outcomes["seed-campaign-gr"])
            expectAccepted(greek, id: "seed-campaign-gr", routingKey: "command.accepted.campaign.upsert", status: "on_time")
            #expect(greek.body["campaign"]?.stringValue == F.greekCampaign)
            #expect(greek.summary?["created"] == .bool(true))
            #expect(greek.summary?["deadline_changed"] == .bool(false))

            let lyceum = try #require(try harness.database.query(
                "SELECT name, level, region, official_email, language, students FROM schools WHERE school_code = $1",
                [F.greekLyceum.code]).first)
            #expect(try lyceum.string("name") == F.greekLyceum.name)
            #expect(try lyceum.string("level") == "secondary")
            #expect(try lyceum.string("region") == F.greekLyceum.region)
            #expect(try lyceum.string("official_email") == F.greekLyceum.email)
            #expect(try lyceum.string("language") == "el")
            #expect(try lyceum.optionalInt("students") == 320)
            #expect(try harness.scalar("SELECT count(*) FROM schools") == 4)
            #expect(try harness.scalar("SELECT count(*) FROM schools WHERE students IS NULL") == 1)

            let campaign = try #require(try harness.database.query(
                "SELECT kind, deadline, opens_at, timezone, staff_emails, handover_days FROM campaigns WHERE campaign = $1",
                [F.vietnameseCampaign]).first)
            #expect(try campaign.string("kind") == "device_support")
            #expect(try campaign.date("deadline") == date(F.vietnameseDeadline))
            #expect(try campaign.date("opens_at") == date("2021-10-01T00:00:00+07:00"))
            #expect(try campaign.string("timezone") == "Asia/Ho_Chi_Minh")
            #expect(try campaign.stringArray("staff_emails") == [F.vietnameseStaff])
            #expect(try campaign.int("handover_days") == 1)
            #expect(try harness.scalar("SELECT count(*) FROM campaign_deadlines") == 2)

            // An update keeps the student count when the command leaves it out.
            var renamed = F.greekLyceum
            renamed.name = "1ο ΓΕΛ Καβάλας"
            renamed.email = "grammateia@0551010.sch.gr"
            renamed.students = nil
            let update = try harness.send(F.schoolUpsert(id: "school-update", renamed))
            expectAccepted(update, id: "school-update", routingKey: "command.accepted.school.upsert", status: "on_time")
            #expect(update.summary?["created"] == .bool(false))
            let updated = try #require(try harness.database.query(
                "SELECT name, official_email, students FROM schools WHERE school_code = $1", [F.greekLyceum.code]).first)
            #expect(try updated.string("name") == "1ο ΓΕΛ Καβάλας")
            #expect(try updated.string("official_email") == "grammateia@0551010.sch.gr")
            #expect(try updated.optionalInt("students") == 320)

            // Invalid commands are rejected with the command's routing key.
            let badLevel = try harness.send(F.command("school.upsert", id: "school-bad", body: [
                "school_code": "X-1", "name": "Nowhere", "level": "university", "region": "R",
                "official_email": "x@example.org", "language": "el",
            ]))
            expectRejected(badLevel, id: "school-bad", routingKey: "command.rejected.school.upsert", code: "invalid_field")
            #expect(badLevel.errorFields.contains("level"))
            let backwards = try harness.send(F.greekCampaignUpsert(id: "campaign-bad", deadline: "2021-11-01T00:00:00+02:00"))
            expectRejected(backwards, id: "campaign-bad", routingKey: "command.rejected.campaign.upsert", code: "invalid_field")
            #expect(backwards.errorFields.contains("deadline"))
            #expect(try harness.scalar("SELECT count(*) FROM schools WHERE school_code = 'X-1'") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM campaign_deadlines") == 2)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages") == 9)
        }
    }

    // MARK: Submission types

    @Test func equipmentInventoryInsertsAndTheInventoryProcedureReplaces() throws {
        try withWorker { harness in
            let insert = try harness.send(F.inventory(id: "inv-insert", items: [
                F.item("desktop", quantity: 12, year: 2015),
                F.item("projector", quantity: 1, year: 2019, condition: "faulty", serials: ["PJ-77"]),
            ]))
            expectAccepted(insert, id: "inv-insert", routingKey: "submission.accepted.equipment_inventory", status: "on_time")
            #expect(insert.body["campaign"]?.stringValue == F.greekCampaign)
            #expect(insert.body["school_code"]?.stringValue == F.greekLyceum.code)
            #expect(insert.summary?["procedure"]?.stringValue == "insert")
            #expect(insert.summary?["items"]?.intValue == 2)
            #expect(insert.summary?["units"]?.intValue == 13)
            #expect(insert.summary?["by_category"] == ["desktop": 12, "projector": 1])

            let row = try #require(try harness.database.query(
                "SELECT type, campaign, school_code, submitted_by, submitted_at, status, procedure FROM submissions WHERE message_id = $1",
                ["inv-insert"]).first)
            #expect(try row.string("type") == "equipment_inventory")
            #expect(try row.string("campaign") == F.greekCampaign)
            #expect(try row.string("school_code") == F.greekLyceum.code)
            #expect(try row.string("submitted_by") == F.greekLyceum.email)
            #expect(try row.date("submitted_at") == date("2022-01-14T09:30:00+02:00"))
            #expect(try row.string("status") == "on_time")
            #expect(try row.string("procedure") == "insert")
            let items = try harness.database.query(
                "SELECT line_no, category, quantity, acquired_year, condition FROM equipment_items WHERE submission_id = $1 ORDER BY line_no",
                ["inv-insert"])
            #expect(try items.map { try $0.string("category") } == ["desktop", "projector"])
            #expect(try items.map { try $0.int("quantity") } == [12, 1])
            #expect(try items.map { try $0.int("acquired_year") } == [2015, 2019])
            #expect(try items.map { try $0.string("condition") } == ["working", "faulty"])
            #expect(try harness.scalar("SELECT count(*) FROM equipment_serials WHERE serial = 'PJ-77'") == 1)

            let outcomes = try harness.send([
                // The same serial again for the same school.
                F.inventory(id: "inv-dup-serial", items: [F.item("projector", quantity: 1, year: 2020, serials: ["PJ-77"])]),
                // A year after the submission's own year, and a quantity of zero.
                F.inventory(id: "inv-bad-fields", items: [F.item("desktop", quantity: 0, year: 2023)]),
                // The inventory procedure replaces the lyceum's whole record (and frees its serials).
                F.inventory(id: "inv-replace", submittedAt: "2022-01-18T11:00:00+02:00", procedure: "inventory",
                            items: [F.item("laptop", quantity: 30, year: 2021, serials: (1...30).map { "LT-\($0)" })]),
                // A primary school may insert.
                F.inventory(id: "inv-primary", school: F.greekPrimary, items: [F.item("printer", quantity: 2, year: 2018)]),
            ])
            expectRejected(try #require(outcomes["inv-dup-serial"]), id: "inv-dup-serial",
                           routingKey: "submission.rejected.equipment_inventory", code: "duplicate_serial")
            let badFields = try #require(outcomes["inv-bad-fields"])
            expectRejected(badFields, id: "inv-bad-fields", routingKey: "submission.rejected.equipment_inventory",
                           code: "invalid_field")
            #expect(Set(badFields.errorFields) == ["items[0].quantity", "items[0].acquired_year"])
            let replace = try #require(outcomes["inv-replace"])
            expectAccepted(replace, id: "inv-replace", routingKey: "submission.accepted.equipment_inventory", status: "on_time")
            #expect(replace.summary?["units"]?.intValue == 30)
            expectAccepted(try #require(outcomes["inv-primary"]), id: "inv-primary",
                           routingKey: "submission.accepted.equipment_inventory", status: "on_time")

            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 3)
            let lyceumItems = try harness.database.query(
                "SELECT submission_id, category, quantity FROM equipment_items WHERE school_code = $1", [F.greekLyceum.code])
            #expect(try lyceumItems.map { try $0.string("submission_id") } == ["inv-replace"])
            #expect(try lyceumItems.map { try $0.int("quantity") } == [30])
            #expect(try harness.scalar("SELECT count(*) FROM equipment_serials WHERE school_code = $1", [F.greekLyceum.code]) == 30)
            #expect(try harness.scalar("SELECT count(*) FROM equipment_serials WHERE serial = 'PJ-77'") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM equipment_items WHERE school_code = $1", [F.greekPrimary.code]) == 1)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE 'inv-%' AND outcome_body IS NOT NULL") == 5)
        }
    }

    @Test func deviceNeedReportStoresItsStudents() throws {
        try withWorker { harness in
            let outcome = try harness.send(F.needsReport(id: "needs-1", students: [
                F.student("HS-0001", "Nguyễn Văn An", grade: 4, "covid_orphan"),
                F.student("HS-0002", "Trần Thị Bình", grade: 2, "poor_household"),
                F.student("HS-0003", "Lê Minh Châu", grade: 5, "poor_household"),
            ]))
            expectAccepted(outcome, id: "needs-1", routingKey: "submission.accepted.device_need_report", status: "on_time")
            #expect(outcome.body["school_code"]?.stringValue == F.vietnamesePrimary.code)
            #expect(outcome.summary?["students"]?.intValue == 3)
            #expect(outcome.summary?["by_category"] == ["covid_orphan": 1, "poor_household": 2])
            #expect(outcome.summary?["eligible_for_allocation"] == .bool(true))

            let students = try harness.database.query("""
                SELECT student_ref, full_name, grade, category, reported_at, submission_id, first_on_time_at
                FROM students WHERE campaign = $1 AND school_code = $2 ORDER BY student_ref
                """, [F.vietnameseCampaign, F.vietnamesePrimary.code])
            #expect(try students.map { try $0.string("student_ref") } == ["HS-0001", "HS-0002", "HS-0003"])
            #expect(try students.map { try $0.string("full_name") } == ["Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu"])
            #expect(try students.map { try $0.int("grade") } == [4, 2, 5])
            #expect(try students.map { try $0.string("category") } == ["covid_orphan", "poor_household", "poor_household"])
            for student in students {
                #expect(try student.date("reported_at") == date("2021-11-18T10:00:00+07:00"))
                #expect(try student.optionalDate("first_on_time_at") == date("2021-11-18T10:00:00+07:00"))
                #expect(try student.string("submission_id") == "needs-1")
            }
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE type = 'device_need_report' AND status = 'on_time'") == 1)

            let outcomes = try harness.send([
                // Nobody needs a computer: still a report.
                F.needsReport(id: "needs-empty", school: F.vietnameseLowerSecondary, students: []),
                // Grade 7 in a primary school.
                F.needsReport(id: "needs-bad-grade", students: [F.student("HS-0009", "Phạm Văn Dũng", grade: 7, "other_hardship")]),
            ])
            let empty = try #require(outcomes["needs-empty"])
            expectAccepted(empty, id: "needs-empty", routingKey: "submission.accepted.device_need_report", status: "on_time")
            #expect(empty.summary?["students"]?.intValue == 0)
            let badGrade = try #require(outcomes["needs-bad-grade"])
            expectRejected(badGrade, id: "needs-bad-grade", routingKey: "submission.rejected.device_need_report",
                           code: "invalid_field")
            #expect(badGrade.errorFields == ["students[0].grade"])
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE school_code = $1", [F.vietnameseLowerSecondary.code]) == 1)
            #expect(try harness.scalar("SELECT count(*) FROM students") == 3)
        }
    }

    @Test func donationRecordStoresTheDonationAndItsDevices() throws {
        try withWorker { harness in
            let targeted = try harness.send(F.donation(id: "don-1", ref: "DN-2021-0042", devices: [
                F.device("LT-000123"), F.device("TB-000124", kind: "tablet", specs: "10 inch, 64GB"),
            ]))
            expectAccepted(targeted, id: "don-1", routingKey: "submission.accepted.donation_record", status: "on_time")
            #expect(targeted.body["school_code"]?.stringValue == F.vietnamesePrimary.code)
            #expect(targeted.summary?["donation_ref"]?.stringValue == "DN-2021-0042")
            #expect(targeted.summary?["devices"]?.intValue == 2)
            #expect(targeted.summary?["by_kind"] == ["laptop": 1, "tablet": 1])
            #expect(targeted.summary?["pool"] == .bool(false))

            let donation = try #require(try harness.database.query("""
                SELECT submission_id, channel, donor_name, donor_kind, target_school_code, submitted_at
                FROM donations WHERE campaign = $1 AND donation_ref = $2
                """, [F.vietnameseCampaign, "DN-2021-0042"]).first)
            #expect(try donation.string("submission_id") == "don-1")
            #expect(try donation.string("channel") == "other")
            #expect(try donation.string("donor_name") == "Công ty ABC")
            #expect(try donation.string("donor_kind") == "company")
            #expect(try donation.optionalString("target_school_code") == F.vietnamesePrimary.code)
            #expect(try donation.date("submitted_at") == date("2021-11-19T08:00:00+07:00"))
            let devices = try harness.database.query(
                "SELECT serial, kind, specs, target_school_code, campaign, donation_ref FROM devices ORDER BY serial")
            #expect(try devices.map { try $0.string("serial") } == ["LT-000123", "TB-000124"])
            #expect(try devices.map { try $0.string("kind") } == ["laptop", "tablet"])
            #expect(try devices.map { try $0.optionalString("specs") } == ["i3, 8GB, 256GB SSD", "10 inch, 64GB"])
            #expect(try devices.map { try $0.optionalString("target_school_code") } == [F.vietnamesePrimary.code, F.vietnamesePrimary.code])
            #expect(try devices.map { try $0.string("donation_ref") } == ["DN-2021-0042", "DN-2021-0042"])

            let outcomes = try harness.send([
                F.donation(id: "don-pool", ref: "DN-2021-0043", channel: "ministry", target: nil,
                           devices: [F.device("DT-000200", kind: "desktop")]),
                F.donation(id: "don-dup-serial", ref: "DN-2021-0044", devices: [F.device("LT-000999"), F.device("LT-000123")]),
                F.donation(id: "don-dup-ref", ref: "DN-2021-0042", devices: [F.device("LT-000555")]),
            ])
            let pool = try #require(outcomes["don-pool"])
            expectAccepted(pool, id: "don-pool", routingKey: "submission.accepted.donation_record", status: "on_time")
            #expect(pool.summary?["pool"] == .bool(true))
            #expect(try harness.scalar("SELECT count(*) FROM devices WHERE serial = 'DT-000200' AND target_school_code IS NULL") == 1)
            let duplicateSerial = try #require(outcomes["don-dup-serial"])
            expectRejected(duplicateSerial, id: "don-dup-serial", routingKey: "submission.rejected.donation_record",
                           code: "duplicate_serial")
            #expect(duplicateSerial.errorFields == ["devices[1].serial"])
            #expect(try #require(outcomes["don-dup-ref"]).status == nil)
            #expect(try #require(outcomes["don-dup-ref"]).routingKey == "submission.rejected.donation_record")
            // Nothing of the rejected donations is stored: the accepted serial of a rejected one neither.
            #expect(try harness.scalar("SELECT count(*) FROM devices") == 3)
            #expect(try harness.scalar("SELECT count(*) FROM donations") == 2)
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE type = 'donation_record'") == 2)
        }
    }

    @Test func handoverOfAnAllocatedDeviceIsRecordedAndOthersAreNot() throws {
        try withWorker { harness in
            try harness.send([
                F.needsReport(id: "needs-1", students: [
                    F.student("HS-0001", "Nguyễn Văn An", grade: 4, "covid_orphan"),
                    F.student("HS-0002", "Trần Thị Bình", grade: 2, "poor_household"),
                ]),
                F.donation(id: "don-1", ref: "DN-2021-0042",
                           devices: [F.device("LT-000001"), F.device("LT-000002"), F.device("LT-000003")]),
            ])
            // The AllocationWorker's work, done by hand: LT-000001 to HS-0001, LT-000002 to HS-0002.
            try harness.database.query("""
                INSERT INTO allocation_runs (run_id, campaign, trigger_message_id, finished_at, allocated)
                VALUES ('run-test-1', $1, 'test', now(), 2)
                """, [F.vietnameseCampaign])
            try harness.database.query("""
                INSERT INTO allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule)
                SELECT serial, $1, $2, student, 'run-test-1', rank, category, 'priority'
                FROM unnest($3::text[], $4::text[], $5::int[], $6::text[]) AS a(serial, student, rank, category)
                """, [F.vietnameseCampaign, F.vietnamesePrimary.code, ["LT-000001", "LT-000002"], ["HS-0001", "HS-0002"],
                      [1, 2], ["covid_orphan", "poor_household"]])

            let outcomes = try harness.send([
                F.handover(id: "ho-ok", submittedAt: "2021-11-25T16:00:00+07:00", serial: "LT-000001",
                           student: "HS-0001", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-wrong-student", submittedAt: "2021-11-25T16:00:00+07:00", serial: "LT-000002",
                           student: "HS-0001", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-unallocated", submittedAt: "2021-11-25T16:00:00+07:00", serial: "LT-000003",
                           student: "HS-0001", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-late", submittedAt: "2021-11-27T10:00:00+07:00", serial: "LT-000002",
                           student: "HS-0002", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-again", submittedAt: "2021-11-26T08:00:00+07:00", serial: "LT-000001",
                           student: "HS-0001", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-unknown", submittedAt: "2021-11-26T08:00:00+07:00", serial: "LT-999999",
                           student: "HS-0001", handedOverAt: "2021-11-25T09:00:00+07:00"),
                F.handover(id: "ho-wrong-sender", sender: F.vietnameseLowerSecondary.email,
                           submittedAt: "2021-11-26T08:00:00+07:00", serial: "LT-000003", student: "HS-0002",
                           handedOverAt: "2021-11-25T09:00:00+07:00"),
            ])
            let accepted = try #require(outcomes["ho-ok"])
            expectAccepted(accepted, id: "ho-ok", routingKey: "submission.accepted.handover_record", status: "on_time")
            #expect(accepted.summary?["late"] == .bool(false))
            #expect(accepted.summary?["device_serial"]?.stringValue == "LT-000001")
            let late = try #require(outcomes["ho-late"])
            expectAccepted(late, id: "ho-late", routingKey: "submission.accepted.handover_record", status: "late")
            #expect(late.summary?["late"] == .bool(true))
            for id in ["ho-wrong-student", "ho-unallocated"] {
                expectRejected(try #require(outcomes[id]), id: id, routingKey: "submission.rejected.handover_record",
                               code: "not_allocated_to_student")
            }
            expectRejected(try #require(outcomes["ho-unknown"]), id: "ho-unknown",
                           routingKey: "submission.rejected.handover_record", code: "unknown_device")
            expectRejected(try #require(outcomes["ho-wrong-sender"]), id: "ho-wrong-sender",
                           routingKey: "submission.rejected.handover_record", code: "not_official_account")
            #expect(try #require(outcomes["ho-again"]).routingKey == "submission.rejected.handover_record")

            let handovers = try harness.database.query(
                "SELECT device_serial, student_ref, handed_over_at, recorded_at, late, submission_id FROM handovers ORDER BY device_serial")
            #expect(try handovers.map { try $0.string("device_serial") } == ["LT-000001", "LT-000002"])
            #expect(try handovers.map { try $0.string("student_ref") } == ["HS-0001", "HS-0002"])
            #expect(try handovers.map { try $0.bool("late") } == [false, true])
            #expect(try handovers.map { try $0.string("submission_id") } == ["ho-ok", "ho-late"])
            #expect(try handovers.first?.date("handed_over_at") == date("2021-11-25T09:00:00+07:00"))
            #expect(try handovers.first?.date("recorded_at") == date("2021-11-25T16:00:00+07:00"))
            let allocations = try harness.database.query(
                "SELECT device_serial, handed_over_at FROM allocations ORDER BY device_serial")
            #expect(try allocations.map { try $0.optionalDate("handed_over_at") }
                    == [date("2021-11-25T09:00:00+07:00"), date("2021-11-25T09:00:00+07:00")])
            let statuses = try harness.database.query(
                "SELECT message_id, status FROM submissions WHERE type = 'handover_record' ORDER BY message_id")
            #expect(try statuses.map { try $0.string("message_id") } == ["ho-late", "ho-ok"])
            #expect(try statuses.map { try $0.string("status") } == ["late", "on_time"])
        }
    }

    // MARK: Idempotency and ordering

    @Test func sameMessageIDTwiceHasOneEffectAndTheSameOutcome() throws {
        try withWorker { harness in
            let first = F.inventory(id: "dup-1", items: [F.item("desktop", quantity: 12, year: 2015)])
            let original = try harness.send(first)
            expectAccepted(original, id: "dup-1", routingKey: "submission.accepted.equipment_inventory", status: "on_time")
            // Published again later, with another body: the first decision stands.
            let changed = F.inventory(id: "dup-1", procedure: "inventory", items: [F.item("laptop", quantity: 5, year: 2020)])
            try harness.publish(changed)
            try harness.awaitOutcomes(["dup-1"], count: 2)

            // Twice in a row (most likely one batch), the second with another body.
            try harness.publish([
                F.inventory(id: "dup-2", school: F.greekPrimary, items: [F.item("printer", quantity: 1, year: 2018)]),
                F.inventory(id: "dup-2", school: F.greekPrimary, items: [F.item("server", quantity: 9, year: 2019)]),
            ])
            try harness.awaitOutcomes(["dup-2"], count: 1)

            // A rejection stays a rejection even when the body is fixed under the same id.
            let wrong = try harness.send(F.inventory(id: "dup-3", sender: "someone@gmail.com",
                                                     items: [F.item("tablet", quantity: 3, year: 2021)]))
            expectRejected(wrong, id: "dup-3", routingKey: "submission.rejected.equipment_inventory", code: "not_official_account")
            try harness.publish(F.inventory(id: "dup-3", items: [F.item("tablet", quantity: 3, year: 2021)]))
            try harness.awaitOutcomes(["dup-3"], count: 2)

            // A command published again with a changed body has no effect either.
            var renamed = F.greekLyceum
            renamed.name = "Renamed"
            try harness.publish(F.schoolUpsert(id: "seed-school-\(F.greekLyceum.code)", renamed))
            try harness.awaitOutcomes(["seed-school-\(F.greekLyceum.code)"], count: 2)
            try harness.outcomes.drain(for: .milliseconds(500))

            for id in ["dup-1", "dup-2", "dup-3", "seed-school-\(F.greekLyceum.code)"] {
                let seen = harness.outcomes.outcomes(of: id)
                // A copy in the same batch shares the outcome just stored: published once.
                #expect(id == "dup-2" ? (1...2).contains(seen.count) : seen.count == 2, "\(id): \(seen.count) outcomes")
                #expect(Set(seen.map(\.messageID)) == ["outcome-\(id)"], "\(id)")
                #expect(Set(seen.map(\.routingKey)).count == 1, "\(id)")
                #expect(seen.allSatisfy { $0.body == seen[0].body }, "\(id)")
            }
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE message_id IN ('dup-1', 'dup-2', 'dup-3')") == 2)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id IN ('dup-1', 'dup-2', 'dup-3')") == 3)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE 'dup-%' AND outcome_body IS NOT NULL") == 3)
            let items = try harness.database.query(
                "SELECT submission_id, category, quantity FROM equipment_items ORDER BY submission_id")
            #expect(try items.map { try $0.string("submission_id") } == ["dup-1", "dup-2"])
            #expect(try items.map { try $0.string("category") } == ["desktop", "printer"])
            #expect(try items.map { try $0.int("quantity") } == [12, 1])
            #expect(try harness.scalar("SELECT count(*) FROM schools WHERE name = 'Renamed'") == 0)
        }
    }

    @Test func newestNeedsReportWinsWhateverTheDeliveryOrder() throws {
        try withWorker { harness in
            // The newer report arrives first, in its own batch.
            try harness.send(F.needsReport(id: "needs-newer", submittedAt: "2021-11-19T10:00:00+07:00", students: [
                F.student("HS-0001", "Nguyễn Văn An", grade: 5, "covid_orphan"),
                F.student("HS-0002", "Trần Thị Bình", grade: 2, "poor_household"),
            ]))
            try harness.send(F.needsReport(id: "needs-older", submittedAt: "2021-11-15T10:00:00+07:00", students: [
                F.student("HS-0001", "Nguyen Van An", grade: 3, "other_hardship"),
                F.student("HS-0003", "Lê Minh Châu", grade: 1, "near_poor_household"),
            ]))
            // Both orders within one batch.
            try harness.send([
                F.needsReport(id: "batch-newer", submittedAt: "2021-11-19T11:00:00+07:00",
                              students: [F.student("HS-0010", "Đỗ Thu Hà", grade: 4, "poor_household")]),
                F.needsReport(id: "batch-older", submittedAt: "2021-11-16T11:00:00+07:00",
                              students: [F.student("HS-0010", "Do Thu Ha", grade: 1, "other_hardship"),
                                         F.student("HS-0011", "Vũ Đức Long", grade: 3, "covid_orphan")]),
                F.needsReport(id: "batch-oldest", submittedAt: "2021-11-12T11:00:00+07:00",
                              students: [F.student("HS-0011", "Vu Duc Long", grade: 2, "other_hardship")]),
                F.needsReport(id: "batch-late", submittedAt: "2021-11-25T11:00:00+07:00",
                              students: [F.student("HS-0011", "Vũ Đức Long", grade: 4, "poor_household")]),
            ])

            func student(_ ref: String) throws -> PostgresRow {
                try #require(try harness.database.query("""
                    SELECT full_name, grade, category, reported_at, submission_id, first_on_time_at FROM students
                    WHERE campaign = $1 AND school_code = $2 AND student_ref = $3
                    """, [F.vietnameseCampaign, F.vietnamesePrimary.code, ref]).first)
            }
            let an = try student("HS-0001")
            #expect(try an.string("full_name") == "Nguyễn Văn An")
            #expect(try an.int("grade") == 5)
            #expect(try an.string("category") == "covid_orphan")
            #expect(try an.string("submission_id") == "needs-newer")
            #expect(try an.date("reported_at") == date("2021-11-19T10:00:00+07:00"))
            // Eligibility and ranking keep the earliest on-time report.
            #expect(try an.optionalDate("first_on_time_at") == date("2021-11-15T10:00:00+07:00"))

            let ha = try student("HS-0010")
            #expect(try ha.string("full_name") == "Đỗ Thu Hà")
            #expect(try ha.int("grade") == 4)
            #expect(try ha.string("category") == "poor_household")
            #expect(try ha.optionalDate("first_on_time_at") == date("2021-11-16T11:00:00+07:00"))

            // A late report is the newest: its details win, the on-time date stays.
            let long = try student("HS-0011")
            #expect(try long.int("grade") == 4)
            #expect(try long.string("category") == "poor_household")
            #expect(try long.string("submission_id") == "batch-late")
            #expect(try long.optionalDate("first_on_time_at") == date("2021-11-12T11:00:00+07:00"))
            #expect(try harness.scalar("SELECT count(*) FROM students") == 5)
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE status = 'late'") == 1)
        }
    }

    @Test func twoWorkersShareTheQueueAndTheNewestReportStillWins() throws {
        try withWorker(batchSize: 50) { harness in
            try harness.startWorker(batchSize: 50)
            let load = NeedsReportLoad(count: 1200, students: 40)
            try harness.publish(load.messages)
            let outcomes = try harness.awaitOutcomes(load.messages.map(\.messageID), timeout: .seconds(90))
            #expect(try harness.publisher.queueDepth("submissions").consumers == 2)

            let wrong = load.messages.map(\.messageID).filter { id in
                outcomes[id]?.status != (load.lateIDs.contains(id) ? "late" : "on_time")
            }
            #expect(wrong.isEmpty, "\(wrong.count) unexpected outcomes, e.g. \(wrong.prefix(3).map { outcomes[$0]?.body.jsonString ?? $0 })")
            let rows = try harness.database.query("""
                SELECT student_ref, full_name, grade, category, reported_at, submission_id, first_on_time_at
                FROM students WHERE campaign = $1 AND school_code = $2
                """, [F.vietnameseCampaign, F.vietnamesePrimary.code])
            #expect(rows.count == load.expected.count)
            var mismatches: [String] = []
            for row in rows {
                let ref = try row.string("student_ref")
                guard let expected = load.expected[ref] else {
                    mismatches.append("\(ref): unexpected")
                    continue
                }
                if try row.string("submission_id") != expected.submissionID || row.string("full_name") != expected.name
                    || row.int("grade") != expected.grade || row.string("category") != expected.category
                    || row.date("reported_at") != expected.reportedAt
                    || row.optionalDate("first_on_time_at") != expected.firstOnTimeAt {
                    mismatches.append("\(ref): \(try row.string("submission_id")) instead of \(expected.submissionID)")
                }
            }
            #expect(mismatches.isEmpty, "\(mismatches.count) students wrong, e.g. \(mismatches.prefix(5))")
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE type = 'device_need_report'") == load.count)
        }
    }

    // MARK: Rules

    @Test func authorisationDeadlineAndProcedureRulesAreApplied() throws {
        try withWorker { harness in
            let outcomes = try harness.send([
                F.inventory(id: "wrong-sender", sender: "director@gmail.com", items: [F.item("desktop", quantity: 1, year: 2015)]),
                F.inventory(id: "other-school-sender", sender: F.greekPrimary.email, items: [F.item("desktop", quantity: 1, year: 2015)]),
                F.donation(id: "donation-not-staff", ref: "DN-1", sender: F.vietnamesePrimary.email, devices: [F.device("LT-1")]),
                F.inventory(id: "late", submittedAt: "2022-01-25T12:00:00+02:00", items: [F.item("desktop", quantity: 4, year: 2016)]),
                F.inventory(id: "primary-inventory", school: F.greekPrimary, procedure: "inventory",
                            items: [F.item("desktop", quantity: 1, year: 2015)]),
                F.inventory(id: "not-open", submittedAt: "2021-11-20T12:00:00+02:00", items: [F.item("desktop", quantity: 1, year: 2015)]),
                F.inventory(id: "future", submittedAt: "2022-02-03T12:00:00+02:00", items: [F.item("desktop", quantity: 1, year: 2015)]),
                F.needsReport(id: "late-needs", submittedAt: "2021-11-21T08:00:00+07:00",
                              students: [F.student("HS-0001", "Nguyễn Văn An", grade: 4, "covid_orphan")]),
                F.submission("equipment_inventory", id: "unknown-campaign", body: [
                    "campaign": "gr-ict-1999", "school_code": .string(F.greekLyceum.code),
                    "submitted_by": .string(F.greekLyceum.email), "submitted_at": "2022-01-14T09:30:00+02:00",
                    "procedure": "insert", "items": [F.item("desktop", quantity: 1, year: 2015)],
                ]),
                F.inventory(id: "unknown-school", school: .init(code: "0000000", name: "", level: "primary", region: "",
                                                                email: "mail@0000000.sch.gr", language: "el"),
                            items: [F.item("desktop", quantity: 1, year: 2015)]),
                // A needs report belongs to a device_support campaign, not to the Greek inventory.
                F.submission("device_need_report", id: "wrong-kind", body: [
                    "campaign": .string(F.greekCampaign), "school_code": .string(F.greekLyceum.code),
                    "submitted_by": .string(F.greekLyceum.email), "submitted_at": "2022-01-14T09:30:00+02:00",
                    "students": [],
                ]),
            ])
            let expectedRejections: [(String, String, String)] = [
                ("wrong-sender", "equipment_inventory", "not_official_account"),
                ("other-school-sender", "equipment_inventory", "not_official_account"),
                ("donation-not-staff", "donation_record", "not_official_account"),
                ("primary-inventory", "equipment_inventory", "procedure_not_allowed"),
                ("not-open", "equipment_inventory", "campaign_not_open"),
                ("future", "equipment_inventory", "invalid_field"),
                ("unknown-campaign", "equipment_inventory", "unknown_campaign"),
                ("unknown-school", "equipment_inventory", "unknown_school"),
                ("wrong-kind", "device_need_report", "wrong_campaign_kind"),
            ]
            for (id, type, code) in expectedRejections {
                expectRejected(try #require(outcomes[id]), id: id, routingKey: "submission.rejected.\(type)", code: code)
            }
            #expect(try #require(outcomes["wrong-sender"]).errorFields == ["submitted_by"])
            #expect(try #require(outcomes["primary-inventory"]).errorFields == ["procedure"])

            let late = try #require(outcomes["late"])
            expectAccepted(late, id: "late", routingKey: "submission.accepted.equipment_inventory", status: "late")
            #expect(late.summary?["counts_for_planning"] == .bool(false))
            let lateNeeds = try #require(outcomes["late-needs"])
            expectAccepted(lateNeeds, id: "late-needs", routingKey: "submission.accepted.device_need_report", status: "late")
            #expect(lateNeeds.summary?["eligible_for_allocation"] == .bool(false))

            let stored = try harness.database.query("SELECT message_id, status FROM submissions ORDER BY message_id")
            #expect(try stored.map { try $0.string("message_id") } == ["late", "late-needs"])
            #expect(try stored.map { try $0.string("status") } == ["late", "late"])
            #expect(try harness.scalar("SELECT count(*) FROM equipment_items WHERE submission_id = 'late'") == 1)
            #expect(try harness.scalar("SELECT count(*) FROM students WHERE first_on_time_at IS NULL") == 1)
            #expect(try harness.scalar("SELECT count(*) FROM donations") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages") == 6 + 11)
        }
    }

    @Test func deadlineExtensionAppliesToLaterSubmissions() throws {
        try withWorker { harness in
            let before = try harness.send(F.inventory(id: "before-extension", submittedAt: "2022-01-28T12:00:00+02:00",
                                                      items: [F.item("desktop", quantity: 2, year: 2016)]))
            expectAccepted(before, id: "before-extension", routingKey: "submission.accepted.equipment_inventory", status: "late")

            let extended = try harness.send(F.greekCampaignUpsert(id: "extend", deadline: "2022-01-31T23:59:59+02:00"))
            expectAccepted(extended, id: "extend", routingKey: "command.accepted.campaign.upsert", status: "on_time")
            #expect(extended.summary?["created"] == .bool(false))
            #expect(extended.summary?["deadline_changed"] == .bool(true))
            #expect(extended.summary?["previous_deadline"]?.stringValue.flatMap(date) == date(F.greekDeadline))
            #expect(try harness.scalar("SELECT count(*) FROM campaign_deadlines WHERE campaign = $1", [F.greekCampaign]) == 2)
            let deadline = try #require(try harness.database.query(
                "SELECT deadline FROM campaigns WHERE campaign = $1", [F.greekCampaign]).first)
            #expect(try deadline.date("deadline") == date("2022-01-31T23:59:59+02:00"))

            let outcomes = try harness.send([
                F.inventory(id: "between", school: F.greekPrimary, submittedAt: "2022-01-28T12:00:00+02:00",
                            items: [F.item("laptop", quantity: 3, year: 2021)]),
                F.inventory(id: "after-new-deadline", submittedAt: "2022-02-01T09:00:00+02:00",
                            items: [F.item("laptop", quantity: 1, year: 2021)]),
            ])
            expectAccepted(try #require(outcomes["between"]), id: "between",
                           routingKey: "submission.accepted.equipment_inventory", status: "on_time")
            expectAccepted(try #require(outcomes["after-new-deadline"]), id: "after-new-deadline",
                           routingKey: "submission.accepted.equipment_inventory", status: "late")
            let statuses = try harness.database.query("SELECT message_id, status FROM submissions ORDER BY message_id")
            #expect(try statuses.map { try $0.string("message_id") } == ["after-new-deadline", "before-extension", "between"])
            // The earlier decision is not revisited.
            #expect(try statuses.map { try $0.string("status") } == ["late", "late", "on_time"])
        }
    }

    @Test func malformedMessagesAreRejectedAndTheWorkerKeepsGoing() throws {
        try withWorker { harness in
            let validBody = F.inventory(id: "x", items: [F.item("desktop", quantity: 1, year: 2015)]).body
            let noIDBody = Array("{\"campaign\":\"gr-ict-2022\",\"school_code\":\"0551010\",\"note\":\"no id\"}".utf8)
            let garbage = Array("\u{1}\u{2}not json at all".utf8)
            let messages = [
                AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_inventory",
                            messageID: "not-json", body: Array("{\"campaign\": ".utf8)),
                AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_inventory",
                            messageID: "json-array", body: Array("[1, 2, 3]".utf8)),
                // The client always sends the message_id property; an empty one is how a portal omits it.
                AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_inventory",
                            messageID: "", body: noIDBody),
                AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_census",
                            messageID: "", body: garbage),
                AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: "equipment_census",
                            messageID: "unknown-type", body: validBody),
                F.submission("equipment_inventory", id: "missing-fields", body: ["campaign": .string(F.greekCampaign)]),
                F.inventory(id: "valid-after", items: [F.item("desktop", quantity: 1, year: 2015)]),
            ]
            let noIDOutcomeID = "sha256-" + SHA256.hexDigest(of: noIDBody)
            let garbageOutcomeID = "sha256-" + SHA256.hexDigest(of: garbage)
            try harness.publish(messages)
            let outcomes = try harness.awaitOutcomes(["not-json", "json-array", noIDOutcomeID, garbageOutcomeID,
                                                      "unknown-type", "missing-fields", "valid-after"])

            expectRejected(try #require(outcomes["not-json"]), id: "not-json",
                           routingKey: "submission.rejected.equipment_inventory", code: "malformed")
            expectRejected(try #require(outcomes["json-array"]), id: "json-array",
                           routingKey: "submission.rejected.equipment_inventory", code: "malformed")
            let noID = try #require(outcomes[noIDOutcomeID])
            expectRejected(noID, id: noIDOutcomeID, routingKey: "submission.rejected.equipment_inventory", code: "malformed")
            #expect(noID.errorFields == ["message_id"])
            #expect(noID.body["campaign"]?.stringValue == F.greekCampaign)
            #expect(noID.body["school_code"]?.stringValue == F.greekLyceum.code)
            expectRejected(try #require(outcomes[garbageOutcomeID]), id: garbageOutcomeID,
                           routingKey: "submission.rejected.unknown", code: "malformed")
            expectRejected(try #require(outcomes["unknown-type"]), id: "unknown-type",
                           routingKey: "submission.rejected.unknown", code: "unknown_type")
            let missing = try #require(outcomes["missing-fields"])
            expectRejected(missing, id: "missing-fields", routingKey: "submission.rejected.equipment_inventory",
                           code: "invalid_field")
            #expect(Set(missing.errorFields).isSuperset(of: ["school_code", "submitted_by", "submitted_at", "procedure", "items"]))
            expectAccepted(try #require(outcomes["valid-after"]), id: "valid-after",
                           routingKey: "submission.accepted.equipment_inventory", status: "on_time")

            #expect(harness.workers.allSatisfy { $0.isRunning })
            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 1)
            // Nothing is dead-lettered: a rejection is an outcome, not a failure.
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
            #expect(try harness.publisher.queueDepth("submissions").messages == 0)
        }
    }

    // MARK: Crashes and shutdown

    @Test func killedWorkerLosesNothingAndAppliesNothingTwice() throws {
        try withWorker(batchSize: 200) { harness in
            let load = InventoryLoad(prefix: "crash", count: 3000)
            let reached = try load.publish(to: harness, awaitingOutcomesOf: load.count / 3)
            #expect(reached, "\(harness.workerLogs())")
            harness.workers[0].crash()
            let answeredAtKill = load.ids.count { !harness.outcomes.outcomes(of: $0).isEmpty }
            let committedAtKill = try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE 'crash-%'")
            #expect(committedAtKill < load.count, "the kill came after everything was processed: nothing was tested")

            let restarted = ContinuousClock.now
            try harness.startWorker(batchSize: 200)
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .seconds(1))
            let duplicates = load.ids.reduce(0) { $0 + harness.outcomes.outcomes(of: $1).count - 1 }
            print("crash test: \(answeredAtKill) outcomes seen and \(committedAtKill) committed at SIGKILL; "
                  + "rest processed in \(ContinuousClock.now - restarted) after restart; \(duplicates) extra outcomes (re-published duplicates) seen")

            try load.verify(harness)
        }
    }

    @Test func batchCommittedButNeverConfirmedIsRepublishedFromTheOutboxAfterACrash() throws {
        try withWorker(batchSize: 200) { harness in
            let load = InventoryLoad(prefix: "unconfirmed", count: 1500)
            try load.publish(to: harness, awaitingOutcomesOf: load.count / 3)
            let answeredBeforeRefusal = Set(load.ids.filter { !harness.outcomes.outcomes(of: $0).isEmpty })
            try harness.refuseEvents()
            // Wait for a batch committed after the broker started refusing its events, then crash.
            let committedBefore = try committedCount(harness, prefix: "unconfirmed")
            let deadline = ContinuousClock.now + .seconds(20)
            while try committedCount(harness, prefix: "unconfirmed") == committedBefore, ContinuousClock.now < deadline {
                try harness.checkWorkers()
                Thread.sleep(forTimeInterval: 0.005)
            }
            harness.workers[0].crash()
            let committed = Set(try harness.database.query(
                "SELECT message_id FROM processed_messages WHERE message_id LIKE 'unconfirmed-%'").map { try $0.string(0) })
            let committedUnconfirmed = committed.subtracting(answeredBeforeRefusal)
            #expect(!committedUnconfirmed.isEmpty, "no batch was committed while the broker refused events")

            try harness.acceptEvents()
            try harness.startWorker(batchSize: 200)
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .seconds(1))
            print("unconfirmed-batch test: \(committedUnconfirmed.count) messages committed but never confirmed at the crash")
            try load.verify(harness)
        }
    }

    @Test func intakeGoesOnWhileASubscriberRefusesEventsAndEveryOutcomeArrivesAfterwardsOnce() throws {
        try withWorker(batchSize: 100) { harness in
            let load = InventoryLoad(prefix: "refused", count: 3000)
            // A queue bound to schools.events that refuses every event (x-max-length 0, reject-publish): any
            // subscriber can set one up by mistake. Intake must not wait for it.
            try harness.refuseEvents()
            try harness.publish(load.messages)
            let deadline = ContinuousClock.now + .seconds(60)
            while try committedCount(harness, prefix: "refused") < load.count, ContinuousClock.now < deadline {
                try harness.checkWorkers()
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(try committedCount(harness, prefix: "refused") == load.count, "intake stopped while events were refused")
            // Everything taken in and acknowledged, while no outcome could be published.
            let settled = ContinuousClock.now + .seconds(10)
            while try harness.publisher.queueDepth(Topology.QueueName.submissions).messages > 0, ContinuousClock.now < settled {
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(try harness.publisher.queueDepth(Topology.QueueName.submissions).messages == 0)
            let waiting = try harness.scalar("SELECT count(*) FROM outbox WHERE message_id LIKE 'outcome-refused-%'")
            print("refused-events test: \(load.count) committed while refused, \(waiting) outcomes waiting in the outbox")
            #expect(waiting > 0, "the outcomes went out although the broker refused them: nothing was tested")

            try harness.acceptEvents()
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .seconds(1))
            try load.verify(harness)
            #expect(try harness.scalar("SELECT count(*) FROM outbox") == 0)
            #expect(try harness.publisher.queueDepth(Topology.QueueName.submissions + ".dead").messages == 0)
            #expect(harness.workers.allSatisfy { $0.isRunning })
            let log = harness.workers[0].logTail(lines: 200)
            #expect(log.contains("relaying events failed"), "the refusal was never seen: \(log)")
            #expect(!log.contains("reconnecting"), "the consumer was disturbed by the refusal: \(log)")
        }
    }

    @Test func outcomesCommittedByAKilledWorkerAreRelayedByAnotherOncePerID() throws {
        try withWorker(batchSize: 100) { harness in
            let load = InventoryLoad(prefix: "orphan", count: 1000)
            // The broker refuses events: the worker commits and acknowledges, its relay cannot publish.
            try harness.refuseEvents()
            try harness.publish(load.messages)
            let deadline = ContinuousClock.now + .seconds(60)
            while try committedCount(harness, prefix: "orphan") < load.count, ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(try committedCount(harness, prefix: "orphan") == load.count)
            // SIGKILL between commit and relay: the outcomes are orphaned in the outbox.
            harness.workers[0].crash()
            let orphaned = try harness.scalar("SELECT count(*) FROM outbox WHERE message_id LIKE 'outcome-orphan-%'")
            #expect(orphaned > 0, "nothing was left to relay: nothing was tested")
            try harness.acceptEvents()
            // Another worker's relay takes them: every outcome once, nothing processed twice.
            try harness.startWorker(batchSize: 100)
            try harness.awaitOutcomes(load.ids, timeout: .seconds(60))
            try harness.outcomes.drain(for: .seconds(1))
            print("orphan test: \(orphaned) outcomes orphaned by the killed worker, relayed by another")
            try load.verify(harness)
            #expect(try harness.scalar("SELECT count(*) FROM outbox") == 0)
        }
    }

    @Test func aMessageDeliveredTooOftenIsDeadLetteredUnlessItWasProcessedBefore() throws {
        try withWorker { harness in
            let processed = F.inventory(id: "often-processed", school: F.greekLyceum, items: [F.item("laptop", quantity: 3, year: 2020)])
            let first = try harness.send(processed)
            #expect(first.routingKey == "submission.accepted.equipment_inventory")
            #expect(harness.workers[0].terminate() == 0)

            // The processed message again (same id) and a new one, each given back to the queue five times
            // without an acknowledgement, as if each delivery had crashed a worker.
            let fresh = F.inventory(id: "often-fresh", school: F.greekPrimary, items: [F.item("desktop", quantity: 2, year: 2019)])
            try harness.publish(processed, fresh)
            let bouncer = try AMQPConnection(url: harness.virtualHost.amqpURL)
            defer { bouncer.close() }
            try bouncer.startConsuming(queue: Topology.QueueName.submissions, prefetch: 10)
            var rejections: [String: Int] = [:]
            var lastCount: [String: Int] = [:]
            while rejections.count < 2 || rejections.values.contains(where: { $0 < 5 }) {
                let delivery = try #require(try bouncer.nextDelivery(timeout: .seconds(10)))
                let id = delivery.messageID ?? ""
                // Held, not rejected, once given back five times: closing the connection returns it.
                if rejections[id, default: 0] < 5 {
                    lastCount[id] = delivery.deliveryCount
                    try bouncer.reject(delivery.deliveryTag, requeue: true)
                    rejections[id, default: 0] += 1
                }
            }
            try bouncer.cancelConsuming()
            bouncer.close()
            // The broker counts the returns: the fifth delivery says 4; the next one, the worker's, at least 5.
            #expect(lastCount == ["often-processed": 4, "often-fresh": 4], "x-delivery-count seen: \(lastCount)")

            try harness.startWorker()
            let outcomes = try harness.awaitOutcomes(["often-fresh"])
            try harness.awaitOutcomes(["often-processed"], count: 2)
            try harness.outcomes.drain(for: .milliseconds(500))
            let again = harness.outcomes.outcomes(of: "often-processed")
            #expect(again.count == 2)
            #expect(again.allSatisfy { $0.body == first.body && $0.routingKey == first.routingKey },
                    "a processed message must keep its outcome: \(again.map(\.body.jsonString))")
            let poisoned = try #require(outcomes["often-fresh"])
            expectRejected(poisoned, id: "often-fresh", routingKey: "submission.rejected.equipment_inventory",
                           code: "processing_failed")
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE message_id = 'often-fresh'") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE message_id = 'often-processed'") == 1)
            let dead = try harness.publisher.queueDepth(Topology.QueueName.submissions + ".dead")
            #expect(dead.messages == 1, "only the unprocessed message is kept for an operator")
        }
    }

    @Test func sigtermFinishesTheBatchInFlightAndExitsZero() throws {
        try withWorker(batchSize: 200) { harness in
            let load = InventoryLoad(prefix: "term", count: 3000)
            let reached = try load.publish(to: harness, awaitingOutcomesOf: load.count / 3)
            #expect(reached, "\(harness.workerLogs())")
            let signalled = ContinuousClock.now
            let status = harness.workers[0].terminate(timeout: .seconds(10))
            let exitTime = ContinuousClock.now - signalled
            #expect(status == 0, "exit status \(status.map(String.init) ?? "none (still running)")\n\(harness.workerLogs())")
            #expect(exitTime < .seconds(5))
            let committedAtStop = try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE 'term-%'")
            #expect(committedAtStop < load.count, "the stop came after everything was processed: nothing was tested")

            try harness.startWorker(batchSize: 200)
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .seconds(1))
            print("SIGTERM test: exit after \(exitTime), \(committedAtStop) messages committed before the stop")

            try load.verify(harness)
            // A graceful stop acknowledges everything it published: no outcome is published twice.
            let repeated = load.ids.filter { harness.outcomes.outcomes(of: $0).count != 1 }
            #expect(repeated.isEmpty, "\(repeated.count) messages got more than one outcome, e.g. \(repeated.prefix(3))")
        }
    }

    @Test func workerSurvivesItsDatabaseSessionBeingKilled() throws {
        try withWorker(batchSize: 100) { harness in
            let load = InventoryLoad(prefix: "pgkill", count: 1500)
            try load.publish(to: harness, awaitingOutcomesOf: load.count / 3)
            // Only this test's scratch database: the shared server keeps running.
            let terminated = try harness.scalar("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = $1 AND pid <> pg_backend_pid()
                """, [harness.scratchDatabase.name])
            #expect(terminated >= 1)
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .milliseconds(500))
            #expect(harness.workers.allSatisfy { $0.isRunning })
            try load.verify(harness)
        }
    }

    @Test func workerSurvivesTheBrokerDroppingItsConnections() throws {
        try withWorker(batchSize: 100) { harness in
            let load = InventoryLoad(prefix: "amqpdrop", count: 2000)
            let baseline = harness.outcomes.byCorrelationID.count
            // The management API lists a connection a few seconds after it opens.
            var dropped = 0
            let deadline = ContinuousClock.now + .seconds(20)
            var published = false
            while dropped == 0, ContinuousClock.now < deadline {
                if !published {
                    try harness.publish(load.messages)
                    published = true
                    try harness.outcomes.collect(timeout: .seconds(30), abort: harness.checkWorkers) { _ in
                        harness.outcomes.byCorrelationID.count - baseline >= load.count / 4
                    }
                }
                dropped = try BrokerConnections.close(in: harness, namePrefix: "schoolict-submissions@")
                if dropped == 0 { Thread.sleep(forTimeInterval: 0.5) }
            }
            #expect(dropped >= 1, "the worker's connections never showed in the management API")
            let droppedAt = harness.outcomes.byCorrelationID.count - baseline
            try harness.awaitOutcomes(load.ids, timeout: .seconds(90))
            try harness.outcomes.drain(for: .milliseconds(500))
            #expect(harness.workers.allSatisfy { $0.isRunning }, "the worker exited instead of reconnecting")
            print("broker drop test: \(dropped) connections closed by the broker after \(droppedAt) outcomes")
            try load.verify(harness)
        }
    }

    // MARK: Helpers

    /// A harness with one worker running and, with `seed`, the schools and both campaigns registered.
    private func withWorker(seed: Bool = true, batchSize: Int? = nil,
                            _ body: (IntegrationHarness) throws -> Void) throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker(batchSize: batchSize)
        if seed {
            let outcomes = try harness.send(F.registry)
            let rejected = outcomes.values.filter { !$0.routingKey.hasPrefix("command.accepted.") }
            try #require(rejected.isEmpty, "seeding the registry failed: \(rejected)")
        }
        try body(harness)
        try harness.checkWorkers()
    }

    private func expectAccepted(_ outcome: ObservedOutcome, id: String, routingKey: String, status: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.routingKey == routingKey, "\(id): \(outcome.body.jsonString)", sourceLocation: sourceLocation)
        expectEnvelope(outcome, id: id, sourceLocation: sourceLocation)
        #expect(outcome.status == status, "\(id)", sourceLocation: sourceLocation)
        #expect(outcome.body["errors"] == nil, "\(id)", sourceLocation: sourceLocation)
    }

    private func expectRejected(_ outcome: ObservedOutcome, id: String, routingKey: String, code: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.routingKey == routingKey, "\(id): \(outcome.body.jsonString)", sourceLocation: sourceLocation)
        expectEnvelope(outcome, id: id, sourceLocation: sourceLocation)
        #expect(outcome.errorCodes.contains(code), "\(id): \(outcome.body.jsonString)", sourceLocation: sourceLocation)
        #expect(outcome.status == nil, "\(id)", sourceLocation: sourceLocation)
        #expect(outcome.body["errors"]?.arrayValue?.allSatisfy { $0["message"]?.stringValue?.isEmpty == false } == true,
                "\(id)", sourceLocation: sourceLocation)
    }

    /// The contract's envelope: `outcome-<id>` as the message id, the id as correlation id and in the body.
    private func expectEnvelope(_ outcome: ObservedOutcome, id: String, sourceLocation: SourceLocation) {
        #expect(outcome.messageID == "outcome-\(id)", sourceLocation: sourceLocation)
        #expect(outcome.correlationID == id, sourceLocation: sourceLocation)
        #expect(outcome.body["message_id"]?.stringValue == id, sourceLocation: sourceLocation)
    }

    private func committedCount(_ harness: IntegrationHarness, prefix: String) throws -> Int {
        try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE $1", [prefix + "-%"])
    }

    private func date(_ text: String) -> Date? {
        ISO8601.parse(text)?.date
    }
}

/// Many distinct equipment inventories for the two Greek schools, every 25th from a wrong sender.
private struct InventoryLoad {
    let prefix: String
    let count: Int
    let messages: [AMQPMessage]
    let ids: [String]
    let acceptedIDs: Set<String>
    let expectedItems: Int
    let expectedUnits: Int

    init(prefix: String, count: Int) {
        self.prefix = prefix
        self.count = count
        let categories = ["desktop", "laptop", "tablet", "projector", "printer", "network_device"]
        let conditions = ["working", "faulty", "obsolete"]
        var messages: [AMQPMessage] = []
        var accepted = Set<String>()
        var items = 0
        var units = 0
        for index in 0..<count {
            let id = "\(prefix)-\(index)"
            let school = index % 2 == 0 ? Fixtures.greekLyceum : Fixtures.greekPrimary
            let lines = (0..<(index % 3 + 1)).map { line in
                Fixtures.item(categories[(index + line) % categories.count], quantity: (index + line) % 7 + 1,
                              year: 2010 + index % 12, condition: conditions[(index + line) % conditions.count])
            }
            let rejected = index % 25 == 0
            messages.append(Fixtures.inventory(id: id, school: school, sender: rejected ? "someone@gmail.com" : nil,
                                               submittedAt: "2022-01-1\(index % 10)T08:00:00+02:00", items: lines))
            if !rejected {
                accepted.insert(id)
                items += lines.count
                units += lines.reduce(0) { $0 + ($1["quantity"]?.intValue ?? 0) }
            }
        }
        self.messages = messages
        ids = messages.map(\.messageID)
        acceptedIDs = accepted
        expectedItems = items
        expectedUnits = units
    }

    /// Publishes the load and waits until `answered` of its messages have outcomes (the worker is mid-load).
    @discardableResult
    func publish(to harness: IntegrationHarness, awaitingOutcomesOf answered: Int) throws -> Bool {
        let baseline = harness.outcomes.byCorrelationID.count
        try harness.publish(messages)
        return try harness.outcomes.collect(timeout: .seconds(60), abort: harness.checkWorkers) { _ in
            harness.outcomes.byCorrelationID.count - baseline >= answered
        }
    }

    /// Each message took effect exactly once, and each got an outcome whose re-publications are identical.
    func verify(_ harness: IntegrationHarness, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let pattern = "\(prefix)-%"
        let stored = try harness.database.query("SELECT message_id, status FROM submissions WHERE message_id LIKE $1", [pattern])
        let storedIDs = try stored.map { try $0.string("message_id") }
        #expect(storedIDs.count == acceptedIDs.count, sourceLocation: sourceLocation)
        #expect(Set(storedIDs) == acceptedIDs, sourceLocation: sourceLocation)
        #expect(try stored.allSatisfy { try $0.string("status") == "on_time" }, sourceLocation: sourceLocation)
        #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE $1", [pattern]) == count,
                sourceLocation: sourceLocation)
        #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id LIKE $1 AND outcome_body IS NOT NULL",
                                   [pattern]) == count, sourceLocation: sourceLocation)
        #expect(try harness.scalar("SELECT count(*) FROM equipment_items WHERE submission_id LIKE $1", [pattern]) == expectedItems,
                sourceLocation: sourceLocation)
        #expect(try harness.scalar("SELECT coalesce(sum(quantity), 0) FROM equipment_items WHERE submission_id LIKE $1",
                                   [pattern]) == expectedUnits, sourceLocation: sourceLocation)

        var problems: [String] = []
        for id in ids {
            let seen = harness.outcomes.outcomes(of: id)
            guard let first = seen.first else {
                problems.append("\(id): no outcome")
                continue
            }
            let accepted = acceptedIDs.contains(id)
            let expectedKey = accepted ? "submission.accepted.equipment_inventory" : "submission.rejected.equipment_inventory"
            if first.routingKey != expectedKey { problems.append("\(id): \(first.routingKey)") }
            if !accepted, first.errorCodes != ["not_official_account"] { problems.append("\(id): \(first.errorCodes)") }
            if accepted, first.status != "on_time" { problems.append("\(id): status \(first.status ?? "none")") }
            for outcome in seen where outcome.messageID != "outcome-\(id)" || outcome.body != first.body
                || outcome.routingKey != first.routingKey {
                problems.append("\(id): a re-published outcome differs (\(outcome.messageID ?? "no id"))")
            }
        }
        #expect(problems.isEmpty, "\(problems.count) problems, e.g. \(problems.prefix(5))", sourceLocation: sourceLocation)
    }
}

/// Needs reports naming overlapping students, with distinct `submitted_at`, published in a shuffled order;
/// every 10th is late. Knows which report's details each student must end with.
private struct NeedsReportLoad {
    struct Expected {
        var submissionID: String
        var name: String
        var grade: Int
        var category: String
        var reportedAt: Date
        var firstOnTimeAt: Date?
    }

    let count: Int
    let messages: [AMQPMessage]
    let lateIDs: Set<String>
    let expected: [String: Expected]

    init(count: Int, students: Int) {
        self.count = count
        let categories = ["covid_orphan", "poor_household", "near_poor_household", "other_hardship"]
        let onTimeStart = ISO8601.parse("2021-11-01T00:00:00+07:00")!.date
        let lateStart = ISO8601.parse("2021-11-21T00:00:00+07:00")!.date
        var messages: [AMQPMessage] = []
        var late = Set<String>()
        var expected: [String: Expected] = [:]
        for index in 0..<count {
            let id = "needs-load-\(index)"
            let isLate = index % 10 == 0
            let submittedAt = (isLate ? lateStart : onTimeStart).addingTimeInterval(Double(index) * 60)
            var listed: [JSONValue] = []
            for slot in 0..<3 {
                let ref = "HS-" + String(1000 + (index * 7 + slot * 13) % students)
                let name = "Học sinh \(ref) bản \(index)"
                let grade = (index + slot) % 5 + 1
                let category = categories[(index + slot) % categories.count]
                listed.append(Fixtures.student(ref, name, grade: grade, category))
                var entry = expected[ref] ?? Expected(submissionID: id, name: name, grade: grade, category: category,
                                                      reportedAt: submittedAt, firstOnTimeAt: nil)
                if (submittedAt, id) >= (entry.reportedAt, entry.submissionID) {
                    entry.submissionID = id
                    entry.name = name
                    entry.grade = grade
                    entry.category = category
                    entry.reportedAt = submittedAt
                }
                if !isLate { entry.firstOnTimeAt = min(entry.firstOnTimeAt ?? submittedAt, submittedAt) }
                expected[ref] = entry
            }
            if isLate { late.insert(id) }
            messages.append(Fixtures.needsReport(id: id, submittedAt: ISO8601.format(submittedAt, offsetSeconds: 7 * 3600),
                                                 students: listed))
        }
        var generator = SplitMix64(seed: 2021)
        self.messages = messages.shuffled(using: &generator)
        lateIDs = late
        self.expected = expected
    }
}

/// The broker's side of a worker's connections, through the management API.
private enum BrokerConnections {
    /// Closes (as an operator or a broker restart would) every connection of the harness's vhost whose
    /// `connection_name` starts with the prefix. Returns how many were closed.
    static func close(in harness: IntegrationHarness, namePrefix: String) throws -> Int {
        var closed = 0
        for connection in try harness.virtualHost.connections() {
            guard let name = connection["name"]?.stringValue,
                  connection["client_properties"]?["connection_name"]?.stringValue?.hasPrefix(namePrefix) == true else { continue }
            // Already gone is possible: closing a worker's consumer makes it close its publisher too.
            if try harness.virtualHost.closeConnection(named: name) { closed += 1 }
        }
        return closed
    }
}
