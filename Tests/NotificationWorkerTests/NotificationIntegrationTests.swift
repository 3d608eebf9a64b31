import Foundation
import Mail
import Shared
import Testing

@testable import NotificationWorker

/// The NotificationWorker against the real PostgreSQL and a real SMTP server (scripts/smtp_sink.py), with messages
/// parsed back by Python's `email` package. Each test has its own database and sink.
@Suite(.notificationIntegration, .serialized)
struct NotificationIntegrationTests {
    /// The text with its wrapping undone.
    func flat(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: " ")
    }

    // MARK: The Greek campaign

    static let greekSeed = """
        INSERT INTO schools (school_code, name, level, region, official_email, language, students) VALUES
          ('0551010', '1ο Δημοτικό Σχολείο Αλεξανδρούπολης', 'primary', 'Ανατολική Μακεδονία και Θράκη', 'mail@0551010.sch.gr', 'el', 230),
          ('0551020', '2ο Γυμνάσιο Αλεξανδρούπολης', 'lower_secondary', 'Ανατολική Μακεδονία και Θράκη', 'mail@0551020.sch.gr', 'el', 400),
          ('1901010', 'Πειραματικό Λύκειο Αθηνών', 'secondary', 'Αττική', 'mail@1901010.sch.gr', 'el', 500),
          ('1901020', 'Ελληνογαλλική Σχολή Αθηνών', 'secondary', 'Αττική', 'mail@1901020.sch.gr', 'en', 300),
          ('9101010', '1ο ΓΕΛ Ηρακλείου', 'secondary', 'Κρήτη', 'mail@9101010.sch.gr', 'el', 450);
        INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days, regions)
        VALUES ('gr-ict-2022', 'equipment_inventory', 'Κτηματολόγιο υποδομών Τ.Π.Ε. 2022', '2022-01-10T00:00:00+02:00',
                '2022-01-21T23:59:59+02:00', 'Europe/Athens', '{ict@minedu.gov.gr,digest@minedu.gov.gr}', '{7,3,1}',
                ARRAY['Ανατολική Μακεδονία και Θράκη', 'Αττική']);
        INSERT INTO campaign_deadlines (campaign, deadline, set_at) VALUES ('gr-ict-2022', '2022-01-21T23:59:59+02:00', '2022-01-10T10:00:00+02:00');
        INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status) VALUES
          ('gr-1901010', 'equipment_inventory', 'gr-ict-2022', '1901010', 'mail@1901010.sch.gr', '2022-01-12T10:00:00+02:00', 'on_time');
        """

    static func submit(_ id: String, school: String, at time: String, status: String) -> String {
        """
        INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status)
        VALUES ('\(id)', 'equipment_inventory', 'gr-ict-2022', '\(school)', 'mail@\(school).sch.gr', '\(time)', '\(status)');
        """
    }

    @Test func greekCampaignRemindsAtSevenThreeAndOneDaysThenFollowsTheExtensionAndSendsTheFinalDigest() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.sink.start()
        try harness.execute(Self.greekSeed)
        let staff = ["digest@minedu.gov.gr", "ict@minedu.gov.gr"]

        // The day before T-7: nothing.
        #expect(try harness.cycle(at: "2022-01-13T12:00:00+02:00").sent == 0)

        // T-7 (Friday 14 January, 09:00 Athens): three schools without an on-time submission and two digests.
        // 1901010 submitted on time; 9101010 (Crete) is outside the campaign's regions.
        #expect(try harness.cycle(at: "2022-01-14T09:00:10+02:00").sent == 5)
        var mails = try harness.mails()
        #expect(Set(mails.flatMap(\.to)) == Set(["mail@0551010.sch.gr", "mail@0551020.sch.gr", "mail@1901020.sch.gr"] + staff))
        let primary = try #require(mails.first { $0.to == ["mail@0551010.sch.gr"] })
        #expect(primary.subject == "Υπενθύμιση: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022 — προθεσμία έως Παρασκευή 21 Ιανουαρίου 2022")
        #expect(primary.headers["content-language"] == "el")
        #expect(flat(primary.text).contains("σε 7 ημέρες"))
        #expect(primary.text.contains("«Εισαγωγή»"))
        #expect(primary.html.contains("ώρα Ελλάδας"))
        let english = try #require(mails.first { $0.to == ["mail@1901020.sch.gr"] })
        #expect(english.subject == "Reminder: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022 — due Friday 21 January 2022")
        #expect(english.headers["content-language"] == "en")
        let digest = try #require(mails.first { $0.to == ["ict@minedu.gov.gr"] })
        #expect(digest.subject == "Σύνοψη: 3 σχολεία χωρίς εμπρόθεσμη υποβολή — Κτηματολόγιο υποδομών Τ.Π.Ε. 2022")
        #expect(digest.text.contains("Ανατολική Μακεδονία και Θράκη: 2 σχολεία"))
        #expect(digest.text.contains("Αττική: 1 σχολείο"))
        #expect(!digest.text.contains("1901010"), "the school that submitted on time is not listed")
        #expect(mails.allSatisfy { $0.defects.isEmpty })

        // Planning again the same day sends nothing more.
        #expect(try harness.cycle(at: "2022-01-14T15:00:00+02:00").sent == 0)

        // T-3 (Tuesday 18 January).
        #expect(try harness.cycle(at: "2022-01-18T09:00:10+02:00").sent == 5)
        #expect(try harness.mails().allSatisfy { $0.text.contains("3") })

        // 0551020 submits on time: it gets no T-1 reminder and leaves the digest.
        try harness.execute(Self.submit("gr-0551020", school: "0551020", at: "2022-01-19T11:00:00+02:00", status: "on_time"))
        #expect(try harness.cycle(at: "2022-01-20T09:00:10+02:00").sent == 4)
        mails = try harness.mails()
        #expect(Set(mails.flatMap(\.to)) == Set(["mail@0551010.sch.gr", "mail@1901020.sch.gr"] + staff))
        #expect(mails.first { $0.to == ["mail@0551010.sch.gr"] }.map { flat($0.text).contains("λήγει αύριο") } == true)

        // The extension to Monday 31 January (circular 4108/ΓΔ4).
        try harness.execute("""
            UPDATE campaigns SET deadline = '2022-01-31T23:59:59+02:00' WHERE campaign = 'gr-ict-2022';
            INSERT INTO campaign_deadlines (campaign, deadline, set_at) VALUES ('gr-ict-2022', '2022-01-31T23:59:59+02:00', '2022-01-20T12:00:00+02:00');
            """)
        // The old deadline passes without a final digest (it is no longer the deadline), and nothing is due yet.
        #expect(try harness.cycle(at: "2022-01-22T09:00:10+02:00").sent == 0)

        // The new series: T-7 on Monday 24 January.
        #expect(try harness.cycle(at: "2022-01-24T09:00:10+02:00").sent == 4)
        mails = try harness.mails()
        let extended = try #require(mails.first { $0.to == ["mail@0551010.sch.gr"] })
        #expect(extended.subject.hasSuffix("προθεσμία έως Δευτέρα 31 Ιανουαρίου 2022"))
        #expect(extended.text.contains("Παρασκευή 21 Ιανουαρίου 2022, 23:59"), "mentions the previous deadline")
        #expect(try harness.rows(where: "day = '2022-01-24'").allSatisfy { $0.series == "2022-01-31T21:59:59Z" })

        // No worker runs on the 28th (T-3): on the 30th only T-1 goes out, not a burst of T-3 and T-1.
        #expect(try harness.cycle(at: "2022-01-30T10:30:00+02:00").sent == 4)
        mails = try harness.mails()
        #expect(mails.filter { $0.to == ["mail@0551010.sch.gr"] }.count == 1)
        #expect(try harness.rows(where: "day = '2022-01-28'").isEmpty)

        // 0551010 submits late (after the new deadline); the final digest on 1 February lists it as late.
        try harness.execute(Self.submit("gr-0551010", school: "0551010", at: "2022-02-01T08:00:00+02:00", status: "late"))
        #expect(try harness.cycle(at: "2022-02-01T09:00:10+02:00").sent == 2)
        mails = try harness.mails()
        #expect(Set(mails.flatMap(\.to)) == Set(staff))
        let final = try #require(mails.first)
        #expect(final.subject == "Τελική σύνοψη: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022 — εμπρόθεσμα 2, εκπρόθεσμα 1, χωρίς υποβολή 1")
        #expect(final.text.contains("0551010 — 1ο Δημοτικό Σχολείο Αλεξανδρούπολης"))
        #expect(final.text.contains("1901020 — Ελληνογαλλική Σχολή Αθηνών"))

        // Nothing after that; the school that submitted on time from the start never got a single e-mail.
        #expect(try harness.cycle(at: "2022-02-03T09:00:10+02:00").sent == 0)
        let rows = try harness.rows()
        #expect(rows.allSatisfy { $0.status == "sent" && $0.attempts == 1 && $0.replyCode == 250 })
        #expect(!rows.contains { $0.schoolCode == "1901010" || $0.schoolCode == "9101010" })
        #expect(rows.count == 5 + 5 + 4 + 4 + 4 + 2)
        #expect(Set(rows.map(\.messageID)).count == rows.count)

        // Every sent e-mail has its notification.sent event in the outbox, for the relay.
        let events = try harness.database.query("""
            SELECT body FROM outbox WHERE routing_key = 'notification.sent'
            """)
        #expect(events.count == rows.count)
        let event = try JSONParser.parse(Array(try events[0].string(0).utf8))
        #expect(event["campaign"] == "gr-ict-2022")
        #expect(event["dedup_key"]?.stringValue?.isEmpty == false)
    }

    @Test func aReminderStillPendingWhenTheDeadlineIsExtendedIsCancelled() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.sink.start()
        try harness.execute(Self.greekSeed)
        try harness.sink.setMode("4xx")
        let deferred = try harness.cycle(at: "2022-01-20T09:00:10+02:00")
        #expect(deferred.sent == 0 && deferred.retrying > 0)
        try harness.execute("""
            UPDATE campaigns SET deadline = '2022-01-31T23:59:59+02:00' WHERE campaign = 'gr-ict-2022';
            INSERT INTO campaign_deadlines (campaign, deadline) VALUES ('gr-ict-2022', '2022-01-31T23:59:59+02:00');
            """)
        try harness.sink.setMode("ok")
        Thread.sleep(forTimeInterval: 0.3)
        let after = try harness.cycle(at: "2022-01-20T12:00:00+02:00")
        #expect(after.sent == 0)
        #expect(after.cancelled == 5)
        #expect(try harness.rows().allSatisfy { $0.status == "cancelled" && $0.reply == "superseded: the deadline was changed" })
        #expect(try harness.sink.messages().isEmpty)
    }

    // MARK: The Vietnamese campaign

    static let vietnameseSeed = """
        INSERT INTO schools (school_code, name, level, region, official_email, language) VALUES
          ('TDM-TH-01', 'Trường Tiểu học Phú Hòa 1', 'primary', 'Thủ Dầu Một', 'th01@tdm.edu.vn', 'vi'),
          ('TDM-TH-02', 'Trường Tiểu học Hiệp Thành', 'primary', 'Thủ Dầu Một', 'th02@tdm.edu.vn', 'vi'),
          ('TDM-THCS-01', 'Trường THCS Chánh Nghĩa', 'lower_secondary', 'Thủ Dầu Một', 'thcs01@tdm.edu.vn', 'vi');
        INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails, reminder_days, handover_days)
        VALUES ('vn-song-2021', 'device_support', 'Sóng và máy tính cho em', '2021-11-17T00:00:00+07:00',
                '2021-11-20T23:59:59+07:00', 'Asia/Ho_Chi_Minh', '{pgd@tdm.edu.vn}', '{7,3,1}', 1);
        INSERT INTO campaign_deadlines (campaign, deadline) VALUES ('vn-song-2021', '2021-11-20T23:59:59+07:00');
        """

    @Test func vietnameseCampaignNeedsReportRemindersAllocationNoticeAndDailyHandoverReminders() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.sink.start()
        try harness.execute(Self.vietnameseSeed)

        // T-7 falls before the letter opened the campaign: the first reminder is T-3, Wednesday 17 November.
        #expect(try harness.cycle(at: "2021-11-16T09:00:10+07:00").sent == 0)
        #expect(try harness.cycle(at: "2021-11-17T09:00:10+07:00").sent == 4)
        var mails = try harness.mails()
        let school = try #require(mails.first { $0.to == ["th01@tdm.edu.vn"] })
        #expect(school.subject == "Nhắc nhở: Sóng và máy tính cho em — hạn chót thứ Bảy, ngày 20/11/2021")
        #expect(school.headers["content-language"] == "vi")
        #expect(school.text.contains("(giờ Việt Nam, UTC+07:00)"))
        #expect(flat(school.text).contains("hộ nghèo, hộ cận nghèo"))
        let digest = try #require(mails.first { $0.to == ["pgd@tdm.edu.vn"] })
        #expect(digest.subject == "Tổng hợp: 3 trường chưa báo cáo — Sóng và máy tính cho em")

        // Two schools report on time (one of them with no student needing a computer); the third reports late.
        try harness.execute("""
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status) VALUES
              ('vn-1', 'device_need_report', 'vn-song-2021', 'TDM-TH-01', 'th01@tdm.edu.vn', '2021-11-18T10:00:00+07:00', 'on_time'),
              ('vn-2', 'device_need_report', 'vn-song-2021', 'TDM-TH-02', 'th02@tdm.edu.vn', '2021-11-19T15:00:00+07:00', 'on_time');
            """)
        #expect(try harness.cycle(at: "2021-11-19T09:00:10+07:00").sent == 2)
        _ = try harness.mails()
        try harness.execute("""
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status) VALUES
              ('vn-3', 'device_need_report', 'vn-song-2021', 'TDM-THCS-01', 'thcs01@tdm.edu.vn', '2021-11-21T08:00:00+07:00', 'late');
            """)
        #expect(try harness.cycle(at: "2021-11-21T09:00:10+07:00").sent == 1)
        mails = try harness.mails()
        #expect(mails.first?.subject == "Tổng hợp cuối: Sóng và máy tính cho em — đúng hạn 2, trễ hạn 1, chưa báo cáo 0")

        // Allocation: two computers for TDM-TH-01, allocated on Monday 22 November at 10:00.
        try harness.execute("""
            INSERT INTO students (campaign, school_code, student_ref, full_name, grade, category, reported_at, submission_id, first_on_time_at) VALUES
              ('vn-song-2021', 'TDM-TH-01', 'HS-0001', 'Nguyễn Văn An', 4, 'covid_orphan', '2021-11-18T10:00:00+07:00', 'vn-1', '2021-11-18T10:00:00+07:00'),
              ('vn-song-2021', 'TDM-TH-01', 'HS-0002', 'Trần Thị Bình', 3, 'poor_household', '2021-11-18T10:00:00+07:00', 'vn-1', '2021-11-18T10:00:00+07:00');
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status) VALUES
              ('vn-donation', 'donation_record', 'vn-song-2021', NULL, 'pgd@tdm.edu.vn', '2021-11-22T08:00:00+07:00', 'on_time');
            INSERT INTO donations (campaign, donation_ref, submission_id, channel, donor_name, donor_kind, submitted_at)
              VALUES ('vn-song-2021', 'DN-2021-0042', 'vn-donation', 'ministry', 'Bộ GD&ĐT', 'government', '2021-11-22T08:00:00+07:00');
            INSERT INTO devices (serial, campaign, donation_ref, kind, received_at) VALUES
              ('LT-000123', 'vn-song-2021', 'DN-2021-0042', 'laptop', '2021-11-22T08:00:00+07:00'),
              ('LT-000124', 'vn-song-2021', 'DN-2021-0042', 'laptop', '2021-11-22T08:00:00+07:00');
            INSERT INTO allocation_runs (run_id, campaign, finished_at, allocated, waiting)
              VALUES ('run-2021-11-22', 'vn-song-2021', '2021-11-22T10:00:00+07:00', 2, 0);
            INSERT INTO allocations (device_serial, campaign, school_code, student_ref, run_id, rank, category, rule, allocated_at) VALUES
              ('LT-000123', 'vn-song-2021', 'TDM-TH-01', 'HS-0001', 'run-2021-11-22', 1, 'covid_orphan', 'priority', '2021-11-22T10:00:00+07:00'),
              ('LT-000124', 'vn-song-2021', 'TDM-TH-01', 'HS-0002', 'run-2021-11-22', 2, 'poor_household', 'priority', '2021-11-22T10:00:00+07:00');
            """)
        let event: JSONValue = [
            "campaign": "vn-song-2021", "run_id": "run-2021-11-22", "school_code": "TDM-TH-01",
            "allocations": [
                ["student_ref": "HS-0001", "device_serial": "LT-000123", "category": "covid_orphan", "rank": 1, "rule": "priority"],
                ["student_ref": "HS-0002", "device_serial": "LT-000124", "category": "poor_household", "rank": 2, "rule": "priority"],
            ],
        ]
        let handler = AllocationEventHandler(schoolNow: { NotificationHarness.date("2021-11-22T10:05:00+07:00") },
                                             messageIDDomain: "schoolict.invalid", logger: NotificationHarness.quiet)
        // Forged events first: a run the database does not hold, a school the run gave nothing, and a real run with
        // allocations of its own invention. Nobody is mailed anything the database does not hold.
        func with(_ value: JSONValue, _ key: String, _ new: JSONValue) -> JSONValue {
            guard case .object(var fields) = value else { return value }
            fields[key] = new
            return .object(fields)
        }
        let forged = with(event, "run_id", "run-forged")
        let otherSchool = with(event, "school_code", "TDM-TH-02")
        let forgedSummary: JSONValue = ["campaign": "vn-song-2021", "run_id": "run-forged", "allocated": 99, "waiting": 0,
                                        "schools": [["school_code": "TDM-TH-01", "devices": 99]]]
        let forgeries = [
            AMQPDelivery(deliveryTag: 1, exchange: "schools.events", routingKey: "allocation.school",
                         messageID: "forged-1", body: forged.serialized()),
            AMQPDelivery(deliveryTag: 2, exchange: "schools.events", routingKey: "allocation.school",
                         messageID: "forged-2", body: otherSchool.serialized()),
            AMQPDelivery(deliveryTag: 3, exchange: "schools.events", routingKey: "allocation.completed",
                         messageID: "forged-3", body: forgedSummary.serialized()),
        ]
        #expect(try handler.handle(forgeries, database: harness.database).counts == ["unknown": 3])
        #expect(try harness.rows(where: "kind IN ('allocation_notice', 'allocation_summary')").isEmpty)
        let invented = with(event, "allocations", [["student_ref": "HS-9999", "device_serial": "LT-FAKE",
                                                    "category": "covid_orphan", "rank": 1, "rule": "priority"]])
        let delivery = AMQPDelivery(deliveryTag: 1, exchange: "schools.events", routingKey: "allocation.school",
                                    messageID: "allocation.school-run-2021-11-22-TDM-TH-01", body: invented.serialized())
        #expect(try handler.handle([delivery, delivery], database: harness.database).counts == ["planned": 1, "duplicate": 1])
        #expect(try handler.handle([delivery], database: harness.database).counts == ["duplicate": 1])
        #expect(try harness.cycle(at: "2021-11-22T10:05:10+07:00").sent == 1)
        mails = try harness.mails()
        let notice = try #require(mails.first)
        #expect(notice.to == ["th01@tdm.edu.vn"])
        #expect(notice.subject == "Thông báo phân bổ: nhà trường nhận 2 máy tính — Sóng và máy tính cho em")
        #expect(notice.text.contains("HS-0001") && notice.text.contains("LT-000124"))
        #expect(!notice.text.contains("HS-9999") && !notice.text.contains("LT-FAKE"), "the event's list is not believed")
        #expect(flat(notice.text).contains("10:00, thứ Ba, ngày 23/11/2021"))

        // Tuesday 23 November, 09:00: the day has a reminder hour, but the devices are not overdue before 10:00.
        #expect(try harness.cycle(at: "2021-11-23T09:00:10+07:00").sent == 0)
        #expect(try harness.cycle(at: "2021-11-23T11:00:00+07:00").sent == 1)
        mails = try harness.mails()
        #expect(mails.first?.subject == "Nhắc nhở: 2 máy tính chưa được ghi nhận bàn giao — Sóng và máy tính cho em")
        #expect(try harness.cycle(at: "2021-11-23T16:00:00+07:00").sent == 0, "one reminder per school per day")

        // One handover is recorded: Wednesday's reminder lists the other device only.
        try harness.execute("""
            INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status) VALUES
              ('vn-h1', 'handover_record', 'vn-song-2021', 'TDM-TH-01', 'th01@tdm.edu.vn', '2021-11-23T17:00:00+07:00', 'on_time');
            INSERT INTO handovers (device_serial, campaign, school_code, student_ref, handed_over_at, recorded_at, late, submission_id)
              VALUES ('LT-000123', 'vn-song-2021', 'TDM-TH-01', 'HS-0001', '2021-11-23T16:00:00+07:00', '2021-11-23T17:00:00+07:00', false, 'vn-h1');
            """)
        #expect(try harness.cycle(at: "2021-11-24T09:00:10+07:00").sent == 1)
        mails = try harness.mails()
        #expect(mails.first?.subject == "Nhắc nhở: 1 máy tính chưa được ghi nhận bàn giao — Sóng và máy tính cho em")
        #expect(mails.first?.text.contains("LT-000124") == true)
        #expect(mails.first?.text.contains("LT-000123") == false)

        // The last one recorded (through the allocation row this time): no more reminders.
        try harness.execute("UPDATE allocations SET handed_over_at = '2021-11-24T10:00:00+07:00' WHERE device_serial = 'LT-000124'")
        #expect(try harness.cycle(at: "2021-11-25T09:00:10+07:00").sent == 0)

        // Student names never leave the database.
        let everything = try harness.database.query("SELECT string_agg(payload::text, ' ') FROM notifications")
        #expect(try everything[0].optionalString(0)?.contains("Nguyễn") == false)
        for kind in ["allocation_notice", "handover_reminder"] {
            #expect(try harness.rows(where: "kind = '\(kind)'").allSatisfy { $0.status == "sent" })
        }
    }

    // MARK: Delivery failures

    @Test func smtpServerDownThenUpDeliversEverythingExactlyOnce() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.execute(Self.greekSeed)
        // Nothing listens on the sink's port yet.
        let down = try harness.cycle(at: "2022-01-14T09:00:10+02:00")
        #expect(down.planned == 5 && down.sent == 0 && down.retrying == 1)
        var rows = try harness.rows()
        #expect(rows.allSatisfy { $0.status == "pending" })
        #expect(rows.map(\.attempts).reduce(0, +) == 1, "the first failure pauses the batch; the rest wait untried")

        // A 4xx from the server is a retry too.
        try harness.sink.start()
        try harness.sink.setMode("4xx")
        Thread.sleep(forTimeInterval: 0.3)
        let deferred = try harness.cycle(at: "2022-01-14T09:01:00+02:00")
        #expect(deferred.sent == 0 && deferred.retrying == 5)
        rows = try harness.rows()
        #expect(rows.allSatisfy { $0.status == "pending" && $0.replyCode == 451 && $0.reply?.hasPrefix("451") == true })

        try harness.sink.setMode("ok")
        var sent = 0
        for _ in 0..<50 where sent < 5 {
            Thread.sleep(forTimeInterval: 0.1)
            sent += try harness.cycle(at: "2022-01-14T09:02:00+02:00").sent
        }
        #expect(sent == 5)
        let mails = try harness.mails()
        #expect(mails.count == 5)
        #expect(Set(mails.compactMap { $0.headers["message-id"] }).count == 5)
        rows = try harness.rows()
        #expect(rows.allSatisfy { $0.status == "sent" && $0.replyCode == 250 && $0.attempts >= 2 })
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try harness.cycle(at: "2022-01-14T10:00:00+02:00").sent == 0)
        #expect(try harness.sink.messages().isEmpty)
    }

    @Test func aPermanentRejectionIsRecordedAsFailedAndNotRetried() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.sink.start()
        try harness.execute(Self.greekSeed)
        try harness.sink.setMode("5xx")
        let report = try harness.cycle(at: "2022-01-14T09:00:10+02:00")
        #expect(report.failed == 5 && report.sent == 0)
        let rows = try harness.rows()
        #expect(rows.allSatisfy { row in
            row.status == "failed" && row.attempts == 1 && row.replyCode == 550 && row.reply == "550 5.1.1 mailbox unavailable"
        })
        try harness.sink.setMode("ok")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try harness.cycle(at: "2022-01-14T12:00:00+02:00").sent == 0)
        #expect(try harness.sink.messages().isEmpty)
        #expect(try harness.database.query("SELECT 1 FROM outbox").isEmpty, "no notification.sent for a failed e-mail")
    }

    @Test func aCrashAfterTheServerTookAMessageResendsItWithTheSameMessageID() throws {
        let harness = try NotificationHarness()
        defer { harness.tearDown() }
        try harness.sink.start()
        try harness.execute(Self.greekSeed)
        let now = NotificationHarness.date("2022-01-14T09:00:10+02:00")
        let planner = Planner(messageIDDomain: "schoolict.invalid", logger: NotificationHarness.quiet)
        try planner.plan(at: now, database: harness.database)

        // A sender claims one e-mail, the server takes it, and the sender dies before recording it.
        let claimed = try #require(try NotificationStore.claim(limit: 1, token: UUID(), lease: 600,
                                                               database: harness.database).first)
        let campaign = try #require(try PlanningStore.campaigns(["gr-ict-2022"], database: harness.database)["gr-ict-2022"])
        let client = try SMTPClient(url: harness.sink.url)
        defer { client.close() }
        try client.send(try Sender.compose(claimed, campaign: campaign, mailFrom: harness.mailFrom, date: now),
                        from: harness.mailFrom, to: [claimed.recipient])

        // Until the claim lapses, nobody else sends it.
        #expect(try harness.cycle(at: "2022-01-14T09:00:20+02:00").sent == 4)
        // The claim lapses; another sender takes the e-mail over and sends it again, with the same Message-ID.
        try harness.execute("UPDATE notifications SET next_attempt_at = now() WHERE status = 'sending'")
        #expect(try harness.cycle(at: "2022-01-14T09:10:00+02:00").sent == 1)
        let ids = try harness.mails().compactMap { $0.headers["message-id"] }
        #expect(ids.count == 6)
        #expect(ids.filter { $0 == claimed.messageID }.count == 2)
        #expect(Set(ids).count == 5)
        #expect(try harness.rows().allSatisfy { $0.status == "sent" })
    }
}
