import Foundation
import Shared
import Testing

@testable import NotificationWorker

/// Every kind of e-mail in every language: real text with the campaign, the dates in local time and what to do.
struct TemplateTests {
    static func date(_ text: String) -> Date { ISO8601.parse(text)!.date }

    /// The text with its wrapping undone, to look for phrases that may straddle a line break.
    func flat(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: " ") }

    static let greekContext = MailContext(campaign: "gr-ict-2022", title: "Κτηματολόγιο υποδομών Τ.Π.Ε. 2022",
                                          kind: .equipmentInventory,
                                          calendar: CampaignCalendar(identifier: "Europe/Athens")!,
                                          deadline: date("2022-01-21T23:59:59+02:00"),
                                          dueAt: date("2022-01-14T09:00:00+02:00"))
    static let vietnameseContext = MailContext(campaign: "vn-song-2021", title: "Sóng và máy tính cho em",
                                               kind: .deviceSupport,
                                               calendar: CampaignCalendar(identifier: "Asia/Ho_Chi_Minh")!,
                                               deadline: date("2021-11-20T23:59:59+07:00"),
                                               dueAt: date("2021-11-17T09:00:00+07:00"))

    static func reminder(level: SchoolLevel = .primary, days: Int = 7, previous: Date? = nil) -> DeadlineReminderPayload {
        DeadlineReminderPayload(school: SchoolRef(code: "0551010", name: "1ο Δημοτικό Σχολείο Αλεξανδρούπολης"),
                                level: level, officialEmail: "mail@0551010.sch.gr", daysBefore: days,
                                previousDeadline: previous)
    }

    @Test func greekReminderNamesTheDeadlineInAthensTimeAndThePrimaryProcedure() {
        let mail = DeadlineReminderTemplate.document(Self.reminder(), context: Self.greekContext, language: .greek).rendered()
        #expect(mail.subject == "Υπενθύμιση: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022 — προθεσμία έως Παρασκευή 21 Ιανουαρίου 2022")
        #expect(flat(mail.text).contains("Παρασκευή 21 Ιανουαρίου 2022, 23:59 (ώρα Ελλάδας, UTC+02:00)"))
        #expect(flat(mail.text).contains("λήγει σε 7 ημέρες"))
        #expect(flat(mail.text).contains("«Εισαγωγή»"))
        #expect(flat(mail.text).contains("mail@0551010.sch.gr"))
        #expect(mail.html.contains("<html lang=\"el\">"))
        #expect(mail.html.contains("ώρα Ελλάδας"))
    }

    @Test func secondarySchoolsAreToldToRunTheInventory() {
        let mail = DeadlineReminderTemplate.document(Self.reminder(level: .secondary, days: 1),
                                                     context: Self.greekContext, language: .greek).rendered()
        #expect(flat(mail.text).contains("«Απογραφή», όπως και μέχρι σήμερα"))
        #expect(flat(mail.text).contains("λήγει αύριο"))
    }

    @Test func anExtendedDeadlineMentionsTheOldOne() {
        var context = Self.greekContext
        context.deadline = Self.date("2022-01-31T23:59:59+02:00")
        let mail = DeadlineReminderTemplate.document(Self.reminder(previous: Self.date("2022-01-21T23:59:59+02:00")),
                                                     context: context, language: .greek).rendered()
        #expect(mail.subject.hasSuffix("Δευτέρα 31 Ιανουαρίου 2022"))
        #expect(flat(mail.text).contains("η προηγούμενη προθεσμία ήταν Παρασκευή 21 Ιανουαρίου 2022, 23:59"))
    }

    @Test func vietnameseReminderAsksForTheNeedsReport() {
        let payload = DeadlineReminderPayload(school: SchoolRef(code: "TDM-TH-01", name: "Trường Tiểu học Phú Hòa 1"),
                                              level: .primary, officialEmail: "th01@tdm.edu.vn", daysBefore: 3)
        let mail = DeadlineReminderTemplate.document(payload, context: Self.vietnameseContext, language: .vietnamese).rendered()
        #expect(mail.subject == "Nhắc nhở: Sóng và máy tính cho em — hạn chót thứ Bảy, ngày 20/11/2021")
        #expect(flat(mail.text).contains("23:59, thứ Bảy, ngày 20/11/2021 (giờ Việt Nam, UTC+07:00)"))
        #expect(flat(mail.text).contains("Kính gửi Ban Giám hiệu Trường Tiểu học Phú Hòa 1 (mã trường TDM-TH-01),"))
        #expect(flat(mail.text).contains("hộ nghèo, hộ cận nghèo"))
        #expect(flat(mail.text).contains("COVID-19"))
        #expect(flat(mail.text).contains("sau 3 ngày nữa"))
    }

    @Test func englishReminder() {
        let mail = DeadlineReminderTemplate.document(Self.reminder(days: 0), context: Self.greekContext,
                                                     language: .english).rendered()
        #expect(mail.subject == "Reminder: Κτηματολόγιο υποδομών Τ.Π.Ε. 2022 — due Friday 21 January 2022")
        #expect(flat(mail.text).contains("Friday 21 January 2022, 23:59 (Athens time, UTC+02:00)"))
        #expect(flat(mail.text).contains("is today"))
    }

    @Test func staffDigestListsMissingSchoolsByRegionWithCounts() {
        let payload = StaffDigestPayload(daysBefore: 7, schoolsInScope: 5, missing: [
            RegionSchools(region: "Αττική", count: 1, schools: [SchoolRef(code: "1901020", name: "Ελληνογαλλική Σχολή")]),
            RegionSchools(region: "Κρήτη", count: 3, schools: [SchoolRef(code: "9101010", name: "1ο ΓΕΛ Ηρακλείου")]),
        ])
        let mail = StaffDigestTemplate.document(payload, context: Self.greekContext, language: .greek).rendered()
        #expect(mail.subject == "Σύνοψη: 4 σχολεία χωρίς εμπρόθεσμη υποβολή — Κτηματολόγιο υποδομών Τ.Π.Ε. 2022")
        #expect(mail.text.contains("Αττική: 1 σχολείο"))
        #expect(flat(mail.text).contains("Κρήτη: 3 σχολεία"))
        #expect(flat(mail.text).contains("1901020 — Ελληνογαλλική Σχολή"))
        #expect(flat(mail.text).contains("… και ακόμη 2 σχολεία"))
        #expect(mail.html.contains("<td style=\"border:1px solid #bbb;padding:3px 8px;text-align:left\">Κρήτη</td>"))
    }

    @Test func finalDigestSeparatesOnTimeLateAndMissing() {
        let payload = FinalDigestPayload(schoolsInScope: 4, regions: [
            RegionOutcome(region: "Bình Dương", onTime: 2,
                          late: RegionSchools(region: "Bình Dương", count: 1,
                                              schools: [SchoolRef(code: "TDM-TH-03", name: "Trường Tiểu học Hiệp Thành")]),
                          missing: RegionSchools(region: "Bình Dương", count: 1,
                                                 schools: [SchoolRef(code: "TDM-THCS-02", name: "Trường THCS Chánh Nghĩa")])),
        ])
        let mail = FinalDigestTemplate.document(payload, context: Self.vietnameseContext, language: .vietnamese).rendered()
        #expect(mail.subject == "Tổng hợp cuối: Sóng và máy tính cho em — đúng hạn 2, trễ hạn 1, chưa báo cáo 1")
        #expect(flat(mail.text).contains("Trường báo cáo trễ hạn"))
        #expect(flat(mail.text).contains("TDM-TH-03 — Trường Tiểu học Hiệp Thành"))
        #expect(flat(mail.text).contains("Trường chưa báo cáo"))
        #expect(flat(mail.text).contains("Tổng cộng"))
    }

    @Test func allocationNoticeListsStudentRefsAndTheHandoverDeadline() {
        var context = Self.vietnameseContext
        context.deadline = nil
        let payload = AllocationNoticePayload(
            school: SchoolRef(code: "TDM-TH-01", name: "Trường Tiểu học Phú Hòa 1"), runID: "run-1", handoverDays: 1,
            handoverDueAt: Self.date("2021-11-23T10:00:00+07:00"),
            allocations: [.init(studentRef: "HS-0001", deviceSerial: "LT-000123"),
                          .init(studentRef: "HS-0002", deviceSerial: "LT-000124")])
        let mail = AllocationNoticeTemplate.document(payload, context: context, language: .vietnamese).rendered()
        #expect(mail.subject == "Thông báo phân bổ: nhà trường nhận 2 máy tính — Sóng và máy tính cho em")
        #expect(flat(mail.text).contains("HS-0001"))
        #expect(flat(mail.text).contains("LT-000124"))
        #expect(flat(mail.text).contains("chậm nhất 1 ngày"))
        #expect(flat(mail.text).contains("10:00, thứ Ba, ngày 23/11/2021"))
        let greek = AllocationNoticeTemplate.document(payload, context: context, language: .greek).rendered()
        #expect(greek.subject.contains("λαμβάνει 2 υπολογιστές"))
    }

    @Test func handoverReminderAndAllocationSummary() {
        var context = Self.vietnameseContext
        context.deadline = nil
        let handover = HandoverReminderPayload(
            school: SchoolRef(code: "TDM-TH-01", name: "Trường Tiểu học Phú Hòa 1"), handoverDays: 1,
            devices: [.init(serial: "LT-000123", studentRef: "HS-0001", dueAt: Self.date("2021-11-23T10:00:00+07:00"))])
        let reminder = HandoverReminderTemplate.document(handover, context: context, language: .vietnamese).rendered()
        #expect(reminder.subject == "Nhắc nhở: 1 máy tính chưa được ghi nhận bàn giao — Sóng và máy tính cho em")
        #expect(reminder.text.contains("LT-000123"))
        let english = HandoverReminderTemplate.document(handover, context: context, language: .english).rendered()
        #expect(english.subject == "Reminder: 1 computer without a recorded handover — Sóng và máy tính cho em")

        let summary = AllocationSummaryPayload(runID: "run-1", allocated: 3, waiting: 5,
                                               schools: [.init(code: "TDM-TH-01", devices: 2), .init(code: "TDM-TH-02", devices: 1)])
        let mail = AllocationSummaryTemplate.document(summary, context: context, language: .vietnamese).rendered()
        #expect(mail.subject == "Kết quả phân bổ run-1: 3 máy tính cho 2 trường — Sóng và máy tính cho em")
        #expect(flat(mail.text).contains("Học sinh đủ điều kiện còn chờ máy: 5"))
    }

    @Test(arguments: NotificationKind.allCases)
    func everyKindRendersInEveryLanguageFromItsStoredPayload(kind: NotificationKind) throws {
        let payload: JSONValue = switch kind {
        case .deadlineReminder: Self.reminder().json
        case .staffDigest: StaffDigestPayload(daysBefore: 3, schoolsInScope: 0, missing: []).json
        case .finalDigest: FinalDigestPayload(schoolsInScope: 0, regions: []).json
        case .allocationNotice:
            AllocationNoticePayload(school: SchoolRef(code: "S", name: "School & <Co>"), runID: "r", handoverDays: 2,
                                    handoverDueAt: Self.date("2021-11-24T10:00:00+07:00"),
                                    allocations: [.init(studentRef: "HS-1", deviceSerial: "D-1")]).json
        case .allocationSummary: AllocationSummaryPayload(runID: "r", allocated: 0, waiting: 0, schools: []).json
        case .handoverReminder:
            HandoverReminderPayload(school: SchoolRef(code: "S", name: "School & <Co>"), handoverDays: 1,
                                    devices: [.init(serial: "D-1", studentRef: "HS-1",
                                                    dueAt: Self.date("2021-11-24T10:00:00+07:00"))]).json
        }
        // Through the database's text form, as the sender reads it.
        let stored = try JSONParser.parse(Array(payload.jsonString.utf8))
        var subjects = Set<String>()
        for language in Language.allCases {
            let mail = try MailTemplates.render(kind: kind, payload: stored, context: Self.greekContext, language: language)
            subjects.insert(mail.subject)
            #expect(!mail.subject.isEmpty)
            #expect(mail.subject.contains("Κτηματολόγιο υποδομών Τ.Π.Ε. 2022"))
            #expect(!flat(mail.text).contains("\\("))
            #expect(mail.html.contains("<html lang=\"\(language.rawValue)\">"))
            #expect(!mail.html.contains("School & <Co>"), "HTML must be escaped")
            #expect(mail.text.hasSuffix("\n"))
        }
        #expect(subjects.count == 3, "each language has its own subject")
    }

    @Test func aPayloadOfTheWrongShapeIsAnError() {
        #expect(throws: PayloadError.self) {
            try MailTemplates.render(kind: .deadlineReminder, payload: ["school": ["code": "x"]],
                                     context: Self.greekContext, language: .greek)
        }
    }

    @Test func plainTextIsWrappedAndTablesAligned() {
        let document = MailDocument(language: .english, subject: "s", greeting: "Hello,", blocks: [
            .paragraph(String(repeating: "word ", count: 40)),
            .table(columns: ["Code", "Devices"], rows: [["A-1", "2"], ["LONGER-CODE", "10"]]),
        ], closing: ["Bye"])
        let text = document.plainText()
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= MailDocument.textWidth })
        #expect(text.contains("  Code         Devices\n  -----------  -------\n  A-1          2\n  LONGER-CODE  10"))
    }
}
