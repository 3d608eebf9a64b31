import Foundation
import Shared
import TestSupport
import Testing

@testable import SubmissionWorker

/// Campaigns and schools for the rules, and the contract's example submissions decoded with edits.
enum RuleFixtures {
    static func date(_ text: String) -> Date {
        guard let parsed = ISO8601.parse(text) else { preconditionFailure("bad fixture time \(text)") }
        return parsed.date
    }

    static let greek = CampaignRecord(
        campaign: "gr-ict-2022", kind: .equipmentInventory, title: "Κτηματολόγιο υποδομών Τ.Π.Ε.",
        opensAt: date("2022-01-10T00:00:00+02:00"), deadline: date("2022-01-21T23:59:59+02:00"),
        timezone: "Europe/Athens", staffEmails: ["ict@minedu.gov.gr"])

    /// Concerns secondary schools of Attica only.
    static let greekRegional = CampaignRecord(
        campaign: "gr-attica-secondary", kind: .equipmentInventory, title: "Attica secondary",
        opensAt: date("2022-01-10T00:00:00+02:00"), deadline: date("2022-01-21T23:59:59+02:00"),
        timezone: "Europe/Athens", regions: ["Attica"], levels: [.secondary])

    static let vietnam = CampaignRecord(
        campaign: "vn-song-2021", kind: .deviceSupport, title: "Sóng và máy tính cho em",
        opensAt: date("2021-11-17T00:00:00+07:00"), deadline: date("2021-11-19T23:59:59+07:00"),
        timezone: "Asia/Ho_Chi_Minh", staffEmails: ["Office@TDM.edu.vn"], handoverDays: 1)

    static let schools: [SchoolRecord] = [
        SchoolRecord(schoolCode: "0551010", name: "1ο Δημοτικό Σχολείο", level: .primary, region: "Attica",
                     officialEmail: "mail@0551010.sch.gr", language: .greek, students: 240),
        SchoolRecord(schoolCode: "0551020", name: "1ο Γυμνάσιο", level: .secondary, region: "Attica",
                     officialEmail: "Mail@0551020.SCH.gr", language: .greek, students: 410),
        SchoolRecord(schoolCode: "0740010", name: "Γυμνάσιο Ηρακλείου", level: .secondary, region: "Crete",
                     officialEmail: "mail@0740010.sch.gr", language: .greek),
        SchoolRecord(schoolCode: "TDM-TH-01", name: "Trường Tiểu học Phú Hòa", level: .primary, region: "Bình Dương",
                     officialEmail: "th01@tdm.edu.vn", language: .vietnamese),
        SchoolRecord(schoolCode: "TDM-THCS-01", name: "Trường THCS Chánh Nghĩa", level: .lowerSecondary,
                     region: "Bình Dương", officialEmail: "thcs01@tdm.edu.vn", language: .vietnamese),
    ]

    /// A context that knows the campaigns and schools, at a moment after every fixture submission.
    static func context(now: String = "2022-06-01T00:00:00Z") -> SubmissionContext {
        var context = SubmissionContext(now: date(now))
        for campaign in [greek, greekRegional, vietnam] { context.campaigns[campaign.campaign] = campaign }
        for school in schools { context.schools[school.schoolCode] = school }
        return context
    }

    typealias Edit = ContractExamples.Edit

    /// A decoded submission: the example of `type` with `edits`.
    static func submission(_ type: SubmissionType, _ edits: [Edit] = [],
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> Submission {
        switch Submission.decode(type: type, from: ContractExamples.object(ContractExamples.example(type), edits)) {
        case .success(let submission): return submission
        case .failure(let failure):
            Issue.record("fixture does not decode: \(failure.errors)", sourceLocation: sourceLocation)
            throw failure
        }
    }
}

@Suite("SubmissionRules")
struct SubmissionRulesTests {
    typealias Edit = RuleFixtures.Edit

    enum Expected: Sendable, Equatable, CustomStringConvertible {
        case accepted(SubmissionStatus)
        /// `code field` of every error, sorted.
        case rejected([String])

        init(_ decision: SubmissionRules.Decision) {
            switch decision {
            case .accepted(let status, _): self = .accepted(status)
            case .rejected(let errors): self = .rejected(errors.map { "\($0.code.rawValue) \($0.field)" }.sorted())
            }
        }

        var description: String {
            switch self {
            case .accepted(let status): "accepted \(status.rawValue)"
            case .rejected(let errors): "rejected \(errors)"
            }
        }
    }

    struct RuleCase: Sendable, CustomTestStringConvertible {
        var name: String
        var type: SubmissionType
        var edits: [Edit]
        var adjust: @Sendable (inout SubmissionContext) -> Void
        var expected: Expected
        var testDescription: String { name }

        init(_ name: String, _ type: SubmissionType, _ edits: [Edit],
             context adjust: @escaping @Sendable (inout SubmissionContext) -> Void = { _ in }, _ expected: Expected) {
            self.name = name
            self.type = type
            self.edits = edits
            self.adjust = adjust
            if case .rejected(let errors) = expected { self.expected = .rejected(errors.sorted()) } else {
                self.expected = expected
            }
        }

        init(_ name: String, _ type: SubmissionType,
             context adjust: @escaping @Sendable (inout SubmissionContext) -> Void = { _ in }, _ expected: Expected) {
            self.init(name, type, [], context: adjust, expected)
        }
    }

    static let onTime = Expected.accepted(.onTime)
    static let late = Expected.accepted(.late)
    static func rejected(_ errors: String...) -> Expected { .rejected(errors) }

    // Context adjustments.
    static func now(_ text: String) -> @Sendable (inout SubmissionContext) -> Void {
        { $0.now = RuleFixtures.date(text) }
    }

    @Sendable static func extendGreekDeadline(_ context: inout SubmissionContext) {
        context.campaigns["gr-ict-2022"]?.deadline = RuleFixtures.date("2022-01-31T23:59:59+02:00")
    }

    /// LT-000123 donated in vn-song-2021 and allocated to HS-0001 of TDM-TH-01.
    @Sendable static func allocated(_ context: inout SubmissionContext) {
        context.deviceCampaigns["LT-000123"] = "vn-song-2021"
        context.allocations["LT-000123"] = .init(campaign: "vn-song-2021", schoolCode: "TDM-TH-01", studentRef: "HS-0001")
    }

    static let greekSecondary = [Edit("school_code", "0551020"), Edit("submitted_by", "mail@0551020.sch.gr")]
    static let lowerSecondary = [Edit("school_code", "TDM-THCS-01"), Edit("submitted_by", "thcs01@tdm.edu.vn")]

    static let cases: [RuleCase] = [
        // The contract's examples.
        .init("inventory example", .equipmentInventory, onTime),
        .init("needs report example", .deviceNeedReport, onTime),
        .init("donation example (after the needs deadline)", .donationRecord, late),
        .init("handover example (31 hours after the handover)", .handoverRecord, context: allocated, late),

        // Campaign.
        .init("unknown campaign", .equipmentInventory, [Edit("campaign", "gr-ict-2099")],
              rejected("unknown_campaign campaign")),
        .init("unknown campaign for a donation", .donationRecord, [Edit("campaign", "vn-other")],
              rejected("unknown_campaign campaign")),
        .init("needs report to an equipment campaign", .deviceNeedReport, [Edit("campaign", "gr-ict-2022")],
              rejected("wrong_campaign_kind campaign")),
        .init("inventory to a device campaign", .equipmentInventory, [Edit("campaign", "vn-song-2021")],
              rejected("wrong_campaign_kind campaign")),
        .init("handover to an equipment campaign", .handoverRecord, [Edit("campaign", "gr-ict-2022")],
              context: allocated, rejected("wrong_campaign_kind campaign")),

        // School.
        .init("unknown school", .equipmentInventory, [Edit("school_code", "0999999")],
              rejected("unknown_school school_code")),
        .init("donation to an unknown school", .donationRecord, [Edit("target_school_code", "TDM-XX-99")],
              rejected("unknown_school target_school_code")),
        .init("unknown school and a stranger's address: the first general failure alone", .equipmentInventory,
              [Edit("school_code", "0999999"), Edit("submitted_by", "someone@gmail.com")],
              rejected("unknown_school school_code")),
        .init("school outside the campaign's regions", .equipmentInventory,
              [Edit("campaign", "gr-attica-secondary"), Edit("school_code", "0740010"),
               Edit("submitted_by", "mail@0740010.sch.gr")],
              rejected("school_not_in_campaign school_code")),
        .init("school outside the campaign's levels", .equipmentInventory, [Edit("campaign", "gr-attica-secondary")],
              rejected("school_not_in_campaign school_code")),
        .init("school within the campaign's regions and levels", .equipmentInventory,
              [Edit("campaign", "gr-attica-secondary")] + greekSecondary, onTime),
        .init("donation targeted at a school the campaign leaves out", .donationRecord,
              context: { $0.campaigns["vn-song-2021"]?.levels = [.lowerSecondary] },
              rejected("school_not_in_campaign target_school_code")),
        .init("pool donation in a campaign limited by level", .donationRecord, [Edit("target_school_code", nil)],
              context: { $0.campaigns["vn-song-2021"]?.levels = [.lowerSecondary] }, late),

        // Account.
        .init("not the official account", .equipmentInventory, [Edit("submitted_by", "teacher@gmail.com")],
              rejected("not_official_account submitted_by")),
        .init("another school's official account", .equipmentInventory, [Edit("submitted_by", "mail@0551020.sch.gr")],
              rejected("not_official_account submitted_by")),
        .init("needs report from another school's account", .deviceNeedReport,
              [Edit("submitted_by", "thcs01@tdm.edu.vn")], rejected("not_official_account submitted_by")),
        .init("official account in other letter case", .equipmentInventory,
              [Edit("submitted_by", "MAIL@0551010.Sch.Gr")], onTime),
        .init("official address stored in mixed case", .equipmentInventory, greekSecondary, onTime),
        .init("donation from a staff address (stored in mixed case)", .donationRecord,
              [Edit("submitted_by", "OFFICE@tdm.edu.vn")], late),
        .init("donation from the target school's official account", .donationRecord,
              [Edit("submitted_by", "th01@tdm.edu.vn")], rejected("not_official_account submitted_by")),
        .init("donation to a campaign with no staff addresses", .donationRecord,
              context: { $0.campaigns["vn-song-2021"]?.staffEmails = [] }, rejected("not_official_account submitted_by")),
        .init("wrong account before opens_at: the account is reported", .equipmentInventory,
              [Edit("submitted_by", "teacher@gmail.com"), Edit("submitted_at", "2022-01-01T10:00:00+02:00")],
              rejected("not_official_account submitted_by")),

        // Opening.
        .init("one second before opens_at", .equipmentInventory, [Edit("submitted_at", "2022-01-09T23:59:59+02:00")],
              rejected("campaign_not_open submitted_at")),
        .init("exactly at opens_at", .equipmentInventory, [Edit("submitted_at", "2022-01-10T00:00:00+02:00")], onTime),
        .init("needs report before opens_at", .deviceNeedReport, [Edit("submitted_at", "2021-11-16T23:00:00+07:00")],
              rejected("campaign_not_open submitted_at")),
        .init("handover before opens_at", .handoverRecord,
              [Edit("submitted_at", "2021-11-16T10:00:00+07:00"), Edit("handed_over_at", "2021-11-16T09:00:00+07:00")],
              context: allocated, rejected("campaign_not_open submitted_at")),

        // Clock skew.
        .init("submitted_at 5 minutes and 1 second after now", .equipmentInventory,
              [Edit("submitted_at", "2022-01-14T09:35:01+02:00")], context: now("2022-01-14T09:30:00+02:00"),
              rejected("invalid_field submitted_at")),
        .init("submitted_at exactly 5 minutes after now", .equipmentInventory,
              [Edit("submitted_at", "2022-01-14T09:35:00+02:00")], context: now("2022-01-14T09:30:00+02:00"), onTime),
        .init("submitted_at 4 minutes after now", .equipmentInventory,
              [Edit("submitted_at", "2022-01-14T09:34:00+02:00")], context: now("2022-01-14T09:30:00+02:00"), onTime),
        .init("submitted_at an hour ahead, written in another offset", .equipmentInventory,
              [Edit("submitted_at", "2022-01-14T10:30:00+02:00")], context: now("2022-01-14T07:30:00Z"),
              rejected("invalid_field submitted_at")),
        .init("future handover record", .handoverRecord,
              [Edit("submitted_at", "2021-11-25T10:00:00+07:00"), Edit("handed_over_at", "2021-11-25T09:00:00+07:00")],
              context: { allocated(&$0); $0.now = RuleFixtures.date("2021-11-25T09:00:00+07:00") },
              rejected("invalid_field submitted_at")),

        // Deadline and extension.
        .init("exactly at the deadline", .equipmentInventory, [Edit("submitted_at", "2022-01-21T23:59:59+02:00")], onTime),
        .init("one second after the deadline", .equipmentInventory,
              [Edit("submitted_at", "2022-01-22T00:00:00+02:00")], late),
        .init("the deadline's instant written in UTC", .equipmentInventory,
              [Edit("submitted_at", "2022-01-21T21:59:59Z")], onTime),
        .init("one second after the deadline, written in UTC", .equipmentInventory,
              [Edit("submitted_at", "2022-01-21T22:00:00Z")], late),
        .init("after the first deadline, within the extension", .equipmentInventory,
              [Edit("submitted_at", "2022-01-22T00:00:00+02:00")], context: extendGreekDeadline, onTime),
        .init("exactly at the extended deadline", .equipmentInventory,
              [Edit("submitted_at", "2022-01-31T23:59:59+02:00")], context: extendGreekDeadline, onTime),
        .init("after the extended deadline", .equipmentInventory,
              [Edit("submitted_at", "2022-02-01T00:00:00+02:00")], context: extendGreekDeadline, late),
        .init("late needs report", .deviceNeedReport, [Edit("submitted_at", "2021-11-20T00:00:00+07:00")], late),
        .init("donation before the deadline", .donationRecord, [Edit("submitted_at", "2021-11-19T08:00:00+07:00")],
              onTime),

        // Procedure by level.
        .init("primary school: inventory", .equipmentInventory, [Edit("procedure", "inventory")],
              rejected("procedure_not_allowed procedure")),
        .init("primary school: late inventory", .equipmentInventory,
              [Edit("procedure", "inventory"), Edit("submitted_at", "2022-01-25T10:00:00+02:00")],
              rejected("procedure_not_allowed procedure")),
        .init("primary school: insert", .equipmentInventory, [Edit("procedure", "insert")], onTime),
        .init("secondary school: inventory", .equipmentInventory, greekSecondary + [Edit("procedure", "inventory")],
              onTime),
        .init("secondary school: inventory of nothing", .equipmentInventory,
              greekSecondary + [Edit("procedure", "inventory"), Edit("items", [])], onTime),
        .init("secondary school: insert", .equipmentInventory, greekSecondary, onTime),

        // Grades by level.
        .init("primary school: grade 1", .deviceNeedReport, [Edit("students[0].grade", 1)], onTime),
        .init("primary school: grade 5", .deviceNeedReport, [Edit("students[0].grade", 5)], onTime),
        .init("primary school: grade 6", .deviceNeedReport, [Edit("students[0].grade", 6)],
              rejected("invalid_field students[0].grade")),
        .init("lower secondary: grade 6", .deviceNeedReport, lowerSecondary + [Edit("students[0].grade", 6)], onTime),
        .init("lower secondary: grade 9", .deviceNeedReport, lowerSecondary + [Edit("students[0].grade", 9)], onTime),
        .init("lower secondary: grade 5", .deviceNeedReport, lowerSecondary + [Edit("students[0].grade", 5)],
              rejected("invalid_field students[0].grade")),
        .init("lower secondary: grade 10", .deviceNeedReport, lowerSecondary + [Edit("students[0].grade", 10)],
              rejected("invalid_field students[0].grade")),
        .init("every student with a wrong grade is reported", .deviceNeedReport,
              [Edit("students[0].grade", 8),
               Edit("students[1]", ["student_ref": "HS-0002", "full_name": "Trần Thị Bình", "grade": 3,
                                    "category": "poor_household"]),
               Edit("students[2]", ["student_ref": "HS-0003", "full_name": "Lê Văn Cường", "grade": 7,
                                    "category": "other_hardship"])],
              rejected("invalid_field students[0].grade", "invalid_field students[2].grade")),
        .init("no student needs a computer", .deviceNeedReport, [Edit("students", [])], onTime),

        // Equipment serials.
        .init("insert of a serial already recorded for the school", .equipmentInventory,
              context: { $0.equipmentSerials.insert(.init(campaign: "gr-ict-2022", schoolCode: "0551010", serial: "PJ-77")) },
              rejected("duplicate_serial items[1].serial_numbers")),
        .init("inventory repeating a recorded serial replaces the record", .equipmentInventory,
              greekSecondary + [Edit("procedure", "inventory")],
              context: { $0.equipmentSerials.insert(.init(campaign: "gr-ict-2022", schoolCode: "0551020", serial: "PJ-77")) },
              onTime),
        .init("insert of a serial recorded for another school", .equipmentInventory,
              context: { $0.equipmentSerials.insert(.init(campaign: "gr-ict-2022", schoolCode: "0551020", serial: "PJ-77")) },
              onTime),
        .init("insert of a serial recorded in another campaign", .equipmentInventory,
              context: { $0.equipmentSerials.insert(.init(campaign: "gr-ict-2021", schoolCode: "0551010", serial: "PJ-77")) },
              onTime),

        // Donations.
        .init("donated serial already recorded", .donationRecord,
              context: { $0.deviceCampaigns["LT-000123"] = "vn-song-2021" }, rejected("duplicate_serial devices[0].serial")),
        .init("donated serial recorded in another campaign", .donationRecord,
              context: { $0.deviceCampaigns["LT-000123"] = "vn-song-2020" }, rejected("duplicate_serial devices[0].serial")),
        .init("second device's serial already recorded", .donationRecord,
              [Edit("devices[0].serial", "LT-000900"), Edit("devices[1]", ["serial": "LT-000123", "kind": "tablet"])],
              context: { $0.deviceCampaigns["LT-000123"] = "vn-song-2021" }, rejected("duplicate_serial devices[1].serial")),
        .init("donation_ref already recorded", .donationRecord,
              context: { $0.donations.insert(.init(campaign: "vn-song-2021", donationRef: "DN-2021-0042")) },
              rejected("duplicate_donation donation_ref")),
        .init("donation_ref recorded in another campaign", .donationRecord,
              context: { $0.donations.insert(.init(campaign: "vn-song-2020", donationRef: "DN-2021-0042")) }, late),

        // Handovers.
        .init("handover of an unknown device", .handoverRecord, rejected("unknown_device device_serial")),
        .init("handover of another campaign's device", .handoverRecord,
              context: { allocated(&$0); $0.deviceCampaigns["LT-000123"] = "vn-song-2020" },
              rejected("unknown_device device_serial")),
        .init("handover of a device not allocated", .handoverRecord,
              context: { $0.deviceCampaigns["LT-000123"] = "vn-song-2021" },
              rejected("not_allocated_to_student student_ref")),
        .init("handover to another student", .handoverRecord, [Edit("student_ref", "HS-0002")], context: allocated,
              rejected("not_allocated_to_student student_ref")),
        .init("handover of a device allocated to another school", .handoverRecord, lowerSecondary,
              context: allocated, rejected("not_allocated_to_student student_ref")),
        .init("handover already recorded", .handoverRecord,
              context: { allocated(&$0); $0.handedOver.insert("LT-000123") }, rejected("already_handed_over device_serial")),
        .init("handover recorded exactly one day later", .handoverRecord,
              [Edit("submitted_at", "2021-11-26T09:00:00+07:00")], context: allocated, onTime),
        .init("handover recorded the same day (after the needs deadline)", .handoverRecord,
              [Edit("submitted_at", "2021-11-25T11:00:00+07:00")], context: allocated, onTime),
        .init("handover recorded one day and one second later", .handoverRecord,
              [Edit("submitted_at", "2021-11-26T09:00:01+07:00")], context: allocated, late),
        .init("handover within the campaign's 3 handover days", .handoverRecord,
              context: { allocated(&$0); $0.campaigns["vn-song-2021"]?.handoverDays = 3 }, onTime),
        .init("handover_days 0: recorded an hour later", .handoverRecord,
              [Edit("submitted_at", "2021-11-25T10:00:00+07:00")],
              context: { allocated(&$0); $0.campaigns["vn-song-2021"]?.handoverDays = 0 }, late),
    ]

    @Test("rules", arguments: cases)
    func rule(_ testCase: RuleCase) throws {
        let submission = try RuleFixtures.submission(testCase.type, testCase.edits)
        var context = RuleFixtures.context()
        testCase.adjust(&context)
        let decision = SubmissionRules.decide(submission, in: context)
        #expect(Expected(decision) == testCase.expected)
    }

    // MARK: - Summaries

    static func summary(_ decision: SubmissionRules.Decision) -> JSONValue? {
        if case .accepted(_, let summary) = decision { return summary }
        Issue.record("rejected: \(decision)")
        return nil
    }

    @Test("inventory summary: counts by category, whether it counts for planning")
    func inventorySummary() throws {
        let onTime = SubmissionRules.decide(try RuleFixtures.submission(.equipmentInventory), in: RuleFixtures.context())
        #expect(Self.summary(onTime) == [
            "procedure": "insert", "items": 2, "units": 13, "by_category": ["desktop": 12, "projector": 1],
            "counts_for_planning": true,
        ])
        let late = SubmissionRules.decide(try RuleFixtures.submission(.equipmentInventory, [
            Edit("submitted_at", "2022-01-22T10:00:00+02:00"), Edit("items[1].category", "desktop"),
        ]), in: RuleFixtures.context())
        #expect(Self.summary(late) == [
            "procedure": "insert", "items": 2, "units": 13, "by_category": ["desktop": 13],
            "counts_for_planning": false,
        ])
    }

    @Test("needs summary: counts by category, never names")
    func needsSummary() throws {
        let submission = try RuleFixtures.submission(.deviceNeedReport, [
            Edit("students[1]", ["student_ref": "HS-0002", "full_name": "Trần Thị Bình", "grade": 3,
                                 "category": "poor_household"]),
            Edit("students[2]", ["student_ref": "HS-0003", "full_name": "Lê Văn Cường", "grade": 5,
                                 "category": "covid_orphan"]),
        ])
        let decision = SubmissionRules.decide(submission, in: RuleFixtures.context())
        let summary = try #require(Self.summary(decision))
        #expect(summary == [
            "students": 3, "by_category": ["covid_orphan": 2, "poor_household": 1], "eligible_for_allocation": true,
        ])
        let text = summary.jsonString
        for name in ["Nguyễn", "Trần", "Lê Văn", "Bình", "HS-0001"] {
            #expect(!text.contains(name), "summary shows \(name)")
        }

        let late = SubmissionRules.decide(try RuleFixtures.submission(.deviceNeedReport, [
            Edit("submitted_at", "2021-11-20T08:00:00+07:00"),
        ]), in: RuleFixtures.context())
        #expect(Self.summary(late)?["eligible_for_allocation"] == false)

        let none = SubmissionRules.decide(try RuleFixtures.submission(.deviceNeedReport, [Edit("students", [])]),
                                          in: RuleFixtures.context())
        #expect(Self.summary(none) == ["students": 0, "by_category": .object([:]), "eligible_for_allocation": true])
    }

    @Test("donation summary: devices by kind, pool or targeted, no donor name")
    func donationSummary() throws {
        let targeted = SubmissionRules.decide(try RuleFixtures.submission(.donationRecord, [
            Edit("devices[1]", ["serial": "TB-1", "kind": "tablet"]), Edit("devices[2]", ["serial": "LT-2", "kind": "laptop"]),
        ]), in: RuleFixtures.context())
        let summary = try #require(Self.summary(targeted))
        #expect(summary == [
            "donation_ref": "DN-2021-0042", "devices": 3, "by_kind": ["laptop": 2, "tablet": 1], "pool": false,
        ])
        #expect(!summary.jsonString.contains("Công ty"))

        let pool = SubmissionRules.decide(try RuleFixtures.submission(.donationRecord, [Edit("target_school_code", nil)]),
                                          in: RuleFixtures.context())
        #expect(Self.summary(pool)?["pool"] == true)
    }

    @Test("handover summary")
    func handoverSummary() throws {
        var context = RuleFixtures.context()
        Self.allocated(&context)
        let late = SubmissionRules.decide(try RuleFixtures.submission(.handoverRecord), in: context)
        #expect(Self.summary(late) == ["device_serial": "LT-000123", "student_ref": "HS-0001", "late": true])
        let onTime = SubmissionRules.decide(try RuleFixtures.submission(.handoverRecord, [
            Edit("submitted_at", "2021-11-25T18:00:00+07:00"),
        ]), in: context)
        #expect(Self.summary(onTime)?["late"] == false)
    }

    @Test("rejection messages never contain submitted values")
    func rejectionMessages() throws {
        var context = RuleFixtures.context()
        context.equipmentSerials.insert(.init(campaign: "gr-ict-2022", schoolCode: "0551010", serial: "PJ-77"))
        let decisions = [
            SubmissionRules.decide(try RuleFixtures.submission(.equipmentInventory), in: context),
            SubmissionRules.decide(try RuleFixtures.submission(.deviceNeedReport, [Edit("students[0].grade", 11)]),
                                   in: context),
            SubmissionRules.decide(try RuleFixtures.submission(.deviceNeedReport, [Edit("submitted_by", "an@gmail.com")]),
                                   in: context),
        ]
        for decision in decisions {
            guard case .rejected(let errors) = decision else {
                Issue.record("accepted: \(decision)")
                continue
            }
            for error in errors {
                for value in ["PJ-77", "Nguyễn", "11", "an@gmail.com", "HS-0001"] {
                    #expect(!error.message.contains(value), "\(error)")
                }
            }
        }
    }

    // MARK: - CampaignRecord.concerns

    @Test("a campaign concerns the schools its regions and levels take in")
    func concerns() {
        let schools = Dictionary(uniqueKeysWithValues: RuleFixtures.schools.map { ($0.schoolCode, $0) })
        let all = RuleFixtures.greek
        #expect(RuleFixtures.schools.allSatisfy { all.concerns($0) })
        let regional = RuleFixtures.greekRegional
        #expect(regional.concerns(schools["0551020"]!))
        #expect(!regional.concerns(schools["0551010"]!))
        #expect(!regional.concerns(schools["0740010"]!))
        var regionsOnly = RuleFixtures.greek
        regionsOnly.regions = ["Crete", "Bình Dương"]
        #expect(regionsOnly.concerns(schools["0740010"]!))
        #expect(regionsOnly.concerns(schools["TDM-THCS-01"]!))
        #expect(!regionsOnly.concerns(schools["0551010"]!))
        var levelsOnly = RuleFixtures.vietnam
        levelsOnly.levels = [.primary, .lowerSecondary]
        #expect(levelsOnly.concerns(schools["TDM-TH-01"]!))
        #expect(levelsOnly.concerns(schools["TDM-THCS-01"]!))
        #expect(!levelsOnly.concerns(schools["0551020"]!))
    }

    @Test("grades by school level")
    func grades() {
        #expect(SchoolLevel.primary.grades == 1...5)
        #expect(SchoolLevel.lowerSecondary.grades == 6...9)
        #expect(SchoolLevel.secondary.grades == 6...12)
        #expect(SubmissionType.equipmentInventory.campaignKind == .equipmentInventory)
        #expect(SubmissionType.allCases.filter { $0.campaignKind == .deviceSupport }
                == [.deviceNeedReport, .donationRecord, .handoverRecord])
    }
}
