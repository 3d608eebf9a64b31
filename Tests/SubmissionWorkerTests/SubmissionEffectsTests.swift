import Foundation
import Shared
import Testing

@testable import SubmissionWorker

@Suite("SubmissionEffects")
struct SubmissionEffectsTests {
    typealias Edit = RuleFixtures.Edit

    static let primaryKey = SubmissionEffects.SchoolKey(campaign: "gr-ict-2022", schoolCode: "0551010")
    static let secondaryKey = SubmissionEffects.SchoolKey(campaign: "gr-ict-2022", schoolCode: "0551020")
    static let secondary = [Edit("school_code", "0551020"), Edit("submitted_by", "mail@0551020.sch.gr")]

    /// An insert for the secondary school: one desktop line and a projector with serial PJ-77.
    static func insert(at time: String = "2022-01-14T09:30:00+02:00") throws -> Submission {
        try RuleFixtures.submission(.equipmentInventory, secondary + [Edit("submitted_at", .string(time))])
    }

    /// An inventory for the secondary school: one laptop line with serials LT-1, LT-2.
    static func inventory(at time: String = "2022-01-15T09:30:00+02:00") throws -> Submission {
        try RuleFixtures.submission(.equipmentInventory, secondary + [
            Edit("submitted_at", .string(time)), Edit("procedure", "inventory"),
            Edit("items", [["category": "laptop", "quantity": 2, "acquired_year": 2021, "condition": "working",
                            "serial_numbers": ["LT-1", "LT-2"]]]),
        ])
    }

    static func serials(_ context: SubmissionContext, _ schoolCode: String) -> Set<String> {
        Set(context.equipmentSerials.filter { $0.schoolCode == schoolCode }.map(\.serial))
    }

    /// Decides and, when accepted, adds — what the processor does for each message of a batch.
    @discardableResult
    static func process(_ submission: Submission, id: String, effects: inout SubmissionEffects,
                        context: inout SubmissionContext) -> SubmissionRules.Decision {
        let decision = SubmissionRules.decide(submission, in: context)
        if case .accepted(let status, _) = decision {
            effects.add(submission, id: id, status: status, context: &context)
        }
        return decision
    }

    // MARK: - Equipment

    @Test("insert then inventory in one batch: the inventory replaces the insert's lines")
    func insertThenInventory() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        #expect(effects.isEmpty)
        effects.add(try Self.insert(), id: "m1", status: .onTime, context: &context)
        #expect(effects.replacedRecords.isEmpty)
        #expect(effects.items[Self.secondaryKey]?.map(\.submissionID) == ["m1", "m1"])
        #expect(Self.serials(context, "0551020") == ["PJ-77"])

        effects.add(try Self.inventory(), id: "m2", status: .onTime, context: &context)
        #expect(effects.replacedRecords == [Self.secondaryKey])
        let lines = try #require(effects.items[Self.secondaryKey])
        #expect(lines.map(\.submissionID) == ["m2"])
        #expect(lines.map(\.lineNo) == [0])
        #expect(lines.first?.item.category == .laptop)
        #expect(lines.first?.item.serialNumbers == ["LT-1", "LT-2"])
        #expect(lines.first?.schoolCode == "0551020")
        #expect(lines.first?.campaign == "gr-ict-2022")
        // The insert's serials went with its lines.
        #expect(Self.serials(context, "0551020") == ["LT-1", "LT-2"])
        // Both submissions are still recorded.
        #expect(effects.submissions.map(\.messageID) == ["m1", "m2"])
        #expect(effects.submissions.map(\.procedure) == ["insert", "inventory"])
        #expect(!effects.isEmpty)
    }

    @Test("inventory then insert in one batch: both submissions' lines are kept")
    func inventoryThenInsert() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        effects.add(try Self.inventory(), id: "m1", status: .onTime, context: &context)
        effects.add(try Self.insert(at: "2022-01-16T09:30:00+02:00"), id: "m2", status: .onTime, context: &context)
        #expect(effects.replacedRecords == [Self.secondaryKey])
        let lines = try #require(effects.items[Self.secondaryKey])
        #expect(lines.map(\.submissionID) == ["m1", "m2", "m2"])
        #expect(lines.map(\.lineNo) == [0, 0, 1])
        #expect(lines.map(\.item.category) == [.laptop, .desktop, .projector])
        #expect(Self.serials(context, "0551020") == ["LT-1", "LT-2", "PJ-77"])
    }

    @Test("an inventory replaces only its own school's record")
    func inventoryIsPerSchool() throws {
        var context = RuleFixtures.context()
        context.equipmentSerials.insert(.init(campaign: "gr-ict-2022", schoolCode: "0551020", serial: "OLD-1"))
        context.equipmentSerials.insert(.init(campaign: "gr-ict-2021", schoolCode: "0551020", serial: "OLD-2"))
        var effects = SubmissionEffects()
        effects.add(try RuleFixtures.submission(.equipmentInventory), id: "p1", status: .onTime, context: &context)
        effects.add(try Self.inventory(), id: "s1", status: .late, context: &context)
        #expect(effects.replacedRecords == [Self.secondaryKey])
        #expect(effects.items[Self.primaryKey]?.map(\.submissionID) == ["p1", "p1"])
        #expect(effects.items[Self.secondaryKey]?.map(\.submissionID) == ["s1"])
        #expect(Self.serials(context, "0551010") == ["PJ-77"])
        // The record replaced is this campaign's: the serial recorded under another campaign stays.
        #expect(Set(context.equipmentSerials.filter { $0.schoolCode == "0551020" }.map { "\($0.campaign)/\($0.serial)" })
                == ["gr-ict-2021/OLD-2", "gr-ict-2022/LT-1", "gr-ict-2022/LT-2"])
        #expect(effects.submissions.map(\.status) == [.onTime, .late])
    }

    @Test("within a batch, an insert sees the serials of the batch's earlier insert")
    func batchSeesItsOwnSerials() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        let first = Self.process(try Self.insert(), id: "m1", effects: &effects, context: &context)
        #expect(first == .accepted(.onTime, summary: [
            "procedure": "insert", "items": 2, "units": 13, "by_category": ["desktop": 12, "projector": 1],
            "counts_for_planning": true,
        ]))
        let second = Self.process(try Self.insert(at: "2022-01-14T10:00:00+02:00"), id: "m2", effects: &effects,
                                  context: &context)
        guard case .rejected(let errors) = second else {
            Issue.record("second insert accepted")
            return
        }
        #expect(errors.map(\.code) == [.duplicateSerial])
        #expect(errors.map(\.field) == ["items[1].serial_numbers"])
        #expect(effects.submissions.map(\.messageID) == ["m1"])
        // An inventory after them replaces the record, so it may repeat the serial.
        let inventory = try RuleFixtures.submission(.equipmentInventory, Self.secondary + [Edit("procedure", "inventory")])
        guard case .accepted = Self.process(inventory, id: "m3", effects: &effects, context: &context) else {
            Issue.record("inventory rejected")
            return
        }
        #expect(effects.items[Self.secondaryKey]?.map(\.submissionID) == ["m3", "m3"])
    }

    // MARK: - Students

    static let studentKey = SubmissionEffects.StudentKey(campaign: "vn-song-2021", schoolCode: "TDM-TH-01",
                                                         studentRef: "HS-0001")

    static func report(at time: String, grade: Int, category: String = "covid_orphan") throws -> Submission {
        try RuleFixtures.submission(.deviceNeedReport, [
            Edit("submitted_at", .string(time)), Edit("students[0].grade", .int(grade)),
            Edit("students[0].category", .string(category)),
        ])
    }

    static let earlier = "2021-11-18T10:00:00+07:00"
    static let later = "2021-11-19T10:00:00+07:00"
    static let afterDeadline = "2021-11-21T10:00:00+07:00"

    @Test("two reports for one student in a batch: the newest submitted_at wins, whatever the order",
          arguments: [false, true])
    func newestWins(_ reversed: Bool) throws {
        var reports = [("a", try Self.report(at: Self.earlier, grade: 3)),
                       ("b", try Self.report(at: Self.later, grade: 4, category: "poor_household"))]
        if reversed { reports.reverse() }
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        for (id, report) in reports {
            effects.add(report, id: id, status: .onTime, context: &context)
        }
        #expect(effects.students.count == 1)
        let row = try #require(effects.students[Self.studentKey])
        #expect(row.student.grade == 4)
        #expect(row.student.category == .poorHousehold)
        #expect(row.submissionID == "b")
        #expect(row.reportedAt == RuleFixtures.date(Self.later))
        #expect(row.firstOnTimeAt == RuleFixtures.date(Self.earlier))
        #expect(effects.submissions.count == 2)
    }

    @Test("a late update wins but keeps the earliest on-time report", arguments: [false, true])
    func lateUpdate(_ reversed: Bool) throws {
        var reports: [(String, Submission, SubmissionStatus)] = [
            ("a", try Self.report(at: Self.earlier, grade: 3), .onTime),
            ("b", try Self.report(at: Self.afterDeadline, grade: 5), .late),
        ]
        if reversed { reports.reverse() }
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        for (id, report, status) in reports {
            effects.add(report, id: id, status: status, context: &context)
        }
        let row = try #require(effects.students[Self.studentKey])
        #expect(row.student.grade == 5)
        #expect(row.submissionID == "b")
        #expect(row.firstOnTimeAt == RuleFixtures.date(Self.earlier))
    }

    @Test("only late reports: no on-time time")
    func onlyLate() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        effects.add(try Self.report(at: Self.afterDeadline, grade: 5), id: "a", status: .late, context: &context)
        #expect(effects.students[Self.studentKey]?.firstOnTimeAt == nil)
        #expect(effects.students[Self.studentKey]?.reportedAt == RuleFixtures.date(Self.afterDeadline))
    }

    @Test("the same submitted_at: the message id breaks the tie, whatever the order", arguments: [false, true])
    func tie(_ reversed: Bool) throws {
        var reports = [("m-1", try Self.report(at: Self.earlier, grade: 2)),
                       ("m-2", try Self.report(at: Self.earlier, grade: 5))]
        if reversed { reports.reverse() }
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        for (id, report) in reports {
            effects.add(report, id: id, status: .onTime, context: &context)
        }
        #expect(effects.students[Self.studentKey]?.submissionID == "m-2")
        #expect(effects.students[Self.studentKey]?.student.grade == 5)
    }

    @Test("students are kept apart by school and reference")
    func studentKeys() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        effects.add(try RuleFixtures.submission(.deviceNeedReport, [
            Edit("students[1]", ["student_ref": "HS-0002", "full_name": "Trần Thị Bình", "grade": 3,
                                 "category": "poor_household"]),
        ]), id: "a", status: .onTime, context: &context)
        effects.add(try RuleFixtures.submission(.deviceNeedReport, [
            Edit("school_code", "TDM-THCS-01"), Edit("submitted_by", "thcs01@tdm.edu.vn"), Edit("students[0].grade", 7),
        ]), id: "b", status: .onTime, context: &context)
        #expect(effects.students.count == 3)
        #expect(effects.students[Self.studentKey]?.student.grade == 4)
        #expect(effects.students[.init(campaign: "vn-song-2021", schoolCode: "TDM-TH-01", studentRef: "HS-0002")]?
            .student.category == .poorHousehold)
        #expect(effects.students[.init(campaign: "vn-song-2021", schoolCode: "TDM-THCS-01", studentRef: "HS-0001")]?
            .student.grade == 7)
        // An empty report still records the submission (the school has reported).
        effects.add(try RuleFixtures.submission(.deviceNeedReport, [Edit("students", [])]), id: "c", status: .onTime,
                    context: &context)
        #expect(effects.students.count == 3)
        #expect(effects.submissions.map(\.messageID) == ["a", "b", "c"])
        #expect(effects.submissions.last?.type == .deviceNeedReport)
        #expect(effects.submissions.last?.schoolCode == "TDM-TH-01")
        #expect(effects.submissions.last?.procedure == nil)
    }

    // MARK: - Donations and handovers

    @Test("a donation updates the context: its ref and serials are known to the rest of the batch")
    func donation() throws {
        var context = RuleFixtures.context()
        var effects = SubmissionEffects()
        let donation = try RuleFixtures.submission(.donationRecord, [
            Edit("devices[1]", ["serial": "TB-9", "kind": "tablet"]),
        ])
        guard case .accepted(let status, _) = Self.process(donation, id: "d1", effects: &effects, context: &context) else {
            Issue.record("donation rejected")
            return
        }
        #expect(status == .late)
        #expect(effects.donations.count == 1)
        #expect(effects.donations.first?.submissionID == "d1")
        #expect(effects.donations.first?.0.donationRef == "DN-2021-0042")
        #expect(context.donations == [.init(campaign: "vn-song-2021", donationRef: "DN-2021-0042")])
        #expect(context.deviceCampaigns == ["LT-000123": "vn-song-2021", "TB-9": "vn-song-2021"])
        let row = try #require(effects.submissions.first)
        #expect(row.type == .donationRecord)
        #expect(row.schoolCode == "TDM-TH-01")
        #expect(row.submittedBy == "office@tdm.edu.vn")
        #expect(row.status == .late)

        // The same donation again in the batch: a duplicate.
        let again = Self.process(donation, id: "d2", effects: &effects, context: &context)
        #expect(again == .rejected([FieldError(.duplicateDonation, field: "donation_ref",
                                               "a donation with this reference is already recorded in the campaign")]))
        // Another donation reusing a serial.
        let reuse = try RuleFixtures.submission(.donationRecord, [Edit("donation_ref", "DN-2021-0043"),
                                                                  Edit("devices[0].serial", "TB-9")])
        guard case .rejected(let errors) = Self.process(reuse, id: "d3", effects: &effects, context: &context) else {
            Issue.record("reused serial accepted")
            return
        }
        #expect(errors.map(\.code) == [.duplicateSerial])
        #expect(effects.donations.count == 1)
        #expect(effects.submissions.count == 1)
    }

    @Test("a handover updates the context: a second handover of the device is rejected")
    func handover() throws {
        var context = RuleFixtures.context()
        SubmissionRulesTests.allocated(&context)
        var effects = SubmissionEffects()
        let handover = try RuleFixtures.submission(.handoverRecord)
        let first = Self.process(handover, id: "h1", effects: &effects, context: &context)
        #expect(first == .accepted(.late, summary: ["device_serial": "LT-000123", "student_ref": "HS-0001", "late": true]))
        #expect(context.handedOver == ["LT-000123"])
        let row = try #require(effects.handovers.first)
        #expect(effects.handovers.count == 1)
        #expect(row.serial == "LT-000123")
        #expect(row.campaign == "vn-song-2021")
        #expect(row.schoolCode == "TDM-TH-01")
        #expect(row.studentRef == "HS-0001")
        #expect(row.handedOverAt == RuleFixtures.date("2021-11-25T09:00:00+07:00"))
        #expect(row.recordedAt == RuleFixtures.date("2021-11-26T16:00:00+07:00"))
        #expect(row.late)
        #expect(row.submissionID == "h1")

        let second = Self.process(try RuleFixtures.submission(.handoverRecord, [
            Edit("submitted_at", "2021-11-25T10:00:00+07:00"),
        ]), id: "h2", effects: &effects, context: &context)
        guard case .rejected(let errors) = second else {
            Issue.record("second handover accepted")
            return
        }
        #expect(errors.map(\.code) == [.alreadyHandedOver])
        #expect(effects.handovers.count == 1)
    }

    @Test("an on-time handover row is not late")
    func onTimeHandover() throws {
        var context = RuleFixtures.context()
        SubmissionRulesTests.allocated(&context)
        var effects = SubmissionEffects()
        let handover = try RuleFixtures.submission(.handoverRecord, [Edit("submitted_at", "2021-11-25T10:00:00+07:00")])
        #expect(Self.process(handover, id: "h1", effects: &effects, context: &context)
                == .accepted(.onTime, summary: ["device_serial": "LT-000123", "student_ref": "HS-0001", "late": false]))
        #expect(effects.handovers.first?.late == false)
        #expect(effects.submissions.first?.status == .onTime)
    }
}
