import Foundation
import TestSupport
import Testing

@testable import Shared

/// The contract's examples and the decoding of edited copies.
typealias MessageFixtures = ContractExamples

extension ContractExamples {
    static func decode(_ type: SubmissionType, _ edits: [Edit] = []) -> Result<Submission, FieldErrors> {
        Submission.decode(type: type, from: object(example(type), edits))
    }

    static func decode(_ key: CommandKey, _ edits: [Edit] = []) -> Result<Command, FieldErrors> {
        Command.decode(key: key, from: object(example(key), edits))
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }

    var successValue: Success? {
        if case .success(let success) = self { return success }
        return nil
    }
}

/// `code field`, sorted, for comparing error lists.
private func codesAndFields(_ errors: [FieldError]) -> [String] {
    errors.map { "\($0.code.rawValue) \($0.field)" }.sorted()
}

@Suite("Submission decoding")
struct MessageDecodingTests {
    typealias Edit = MessageFixtures.Edit

    @Test("every contract example decodes", arguments: SubmissionType.allCases)
    func examplesDecode(_ type: SubmissionType) throws {
        let result = MessageFixtures.decode(type)
        #expect(result.failureValue == nil, "\(result.failureValue?.errors ?? [])")
        let submission = try #require(result.successValue)
        #expect(submission.type == type)
    }

    @Test("the inventory example's fields")
    func inventoryFields() throws {
        let submission = try #require(MessageFixtures.decode(.equipmentInventory).successValue)
        guard case .equipmentInventory(let inventory) = submission else {
            Issue.record("wrong case")
            return
        }
        #expect(inventory.header.campaign == "gr-ict-2022")
        #expect(inventory.header.schoolCode == "0551010")
        #expect(inventory.header.submittedBy == "mail@0551010.sch.gr")
        #expect(inventory.header.submittedAt.date == Date(timeIntervalSince1970: 1_642_145_400))
        #expect(inventory.header.submittedAt.offsetSeconds == 7200)
        #expect(inventory.procedure == .insert)
        #expect(inventory.items == [
            EquipmentItem(category: .desktop, quantity: 12, acquiredYear: 2015, condition: .working, serialNumbers: nil),
            EquipmentItem(category: .projector, quantity: 1, acquiredYear: 2019, condition: .faulty,
                          serialNumbers: ["PJ-77"]),
        ])
        #expect(submission.schoolCode == "0551010")
    }

    @Test("the needs report example's fields")
    func needsFields() throws {
        let submission = try #require(MessageFixtures.decode(.deviceNeedReport).successValue)
        guard case .deviceNeedReport(let report) = submission else {
            Issue.record("wrong case")
            return
        }
        #expect(report.header.campaign == "vn-song-2021")
        #expect(report.header.schoolCode == "TDM-TH-01")
        #expect(report.header.submittedAt.date == Date(timeIntervalSince1970: 1_637_204_400))
        #expect(report.students == [
            ReportedStudent(studentRef: "HS-0001", fullName: "Nguyễn Văn An", grade: 4, category: .covidOrphan),
        ])
        // The description shows the reference only, never the name.
        #expect("\(report.students[0])" == "ReportedStudent(HS-0001)")
    }

    @Test("the donation example's fields")
    func donationFields() throws {
        let submission = try #require(MessageFixtures.decode(.donationRecord).successValue)
        guard case .donationRecord(let donation) = submission else {
            Issue.record("wrong case")
            return
        }
        #expect(donation.header.schoolCode == nil)
        #expect(donation.header.submittedBy == "office@tdm.edu.vn")
        #expect(donation.donationRef == "DN-2021-0042")
        #expect(donation.channel == .other)
        #expect(donation.donorName == "Công ty ABC")
        #expect(donation.donorKind == .company)
        #expect(donation.targetSchoolCode == "TDM-TH-01")
        #expect(donation.devices == [DonatedDevice(serial: "LT-000123", kind: .laptop, specs: "i3, 8GB, 256GB SSD")])
        #expect(submission.schoolCode == "TDM-TH-01")

        let pool = try #require(MessageFixtures.decode(.donationRecord, [Edit("target_school_code", nil)]).successValue)
        #expect(pool.schoolCode == nil)
    }

    @Test("the handover example's fields")
    func handoverFields() throws {
        let submission = try #require(MessageFixtures.decode(.handoverRecord).successValue)
        guard case .handoverRecord(let handover) = submission else {
            Issue.record("wrong case")
            return
        }
        #expect(handover.deviceSerial == "LT-000123")
        #expect(handover.studentRef == "HS-0001")
        #expect(handover.handedOverAt.date == Date(timeIntervalSince1970: 1_637_805_600))
        #expect(handover.header.submittedAt.date == Date(timeIntervalSince1970: 1_637_917_200))
    }

    @Test("addresses are lower-cased, text is trimmed, unknown fields are ignored")
    func normalisation() throws {
        let submission = try #require(MessageFixtures.decode(.equipmentInventory, [
            Edit("submitted_by", "Mail@0551010.SCH.gr"),
            Edit("school_code", " 0551010 "),
            Edit("portal_version", ["build": 7, "nested": [1, 2]]),
            Edit("items[0].colour", "grey"),
        ]).successValue)
        #expect(submission.header.submittedBy == "mail@0551010.sch.gr")
        #expect(submission.header.schoolCode == "0551010")
    }

    // MARK: - Field rules

    struct FieldCase: Sendable, CustomTestStringConvertible {
        var name: String
        var type: SubmissionType
        var edits: [Edit]
        /// `code field` of every expected error; empty = the submission is valid.
        var expected: [String]
        var testDescription: String { name }

        init(_ name: String, _ type: SubmissionType, _ edits: [Edit], _ expected: [String]) {
            self.name = name
            self.type = type
            self.edits = edits
            self.expected = expected.sorted()
        }
    }

    static let fieldCases: [FieldCase] = [
        // equipment_inventory: quantity
        .init("quantity 0", .equipmentInventory, [Edit("items[1].quantity", 0)], ["invalid_field items[1].quantity"]),
        .init("quantity 10001", .equipmentInventory, [Edit("items[0].quantity", 10_001)],
              ["invalid_field items[0].quantity"]),
        .init("quantity 10000", .equipmentInventory, [Edit("items[0].quantity", 10_000)], []),
        .init("quantity 1.5", .equipmentInventory, [Edit("items[0].quantity", 1.5)], ["invalid_field items[0].quantity"]),
        .init("quantity 12.0 is whole", .equipmentInventory, [Edit("items[0].quantity", 12.0)], []),
        .init("quantity as a string", .equipmentInventory, [Edit("items[0].quantity", "12")],
              ["invalid_field items[0].quantity"]),
        .init("quantity missing", .equipmentInventory, [Edit("items[0].quantity", nil)],
              ["invalid_field items[0].quantity"]),
        .init("quantity null", .equipmentInventory, [Edit("items[0].quantity", .null)],
              ["invalid_field items[0].quantity"]),
        // acquired_year
        .init("acquired_year 1979", .equipmentInventory, [Edit("items[0].acquired_year", 1979)],
              ["invalid_field items[0].acquired_year"]),
        .init("acquired_year 1980", .equipmentInventory, [Edit("items[0].acquired_year", 1980)], []),
        .init("acquired_year = year of submitted_at", .equipmentInventory, [Edit("items[1].acquired_year", 2022)], []),
        .init("acquired_year after submitted_at's year", .equipmentInventory, [Edit("items[1].acquired_year", 2023)],
              ["invalid_field items[1].acquired_year"]),
        .init("acquired_year uses submitted_at's local year (2022 locally, 2021 in UTC)", .equipmentInventory,
              [Edit("submitted_at", "2022-01-01T00:30:00+02:00"), Edit("items[0].acquired_year", 2022)], []),
        .init("acquired_year after the local year (2021 locally, 2022 in UTC)", .equipmentInventory,
              [Edit("submitted_at", "2021-12-31T23:30:00-02:00"), Edit("items[0].acquired_year", 2022)],
              ["invalid_field items[0].acquired_year"]),
        .init("acquired_year = local year 2021", .equipmentInventory,
              [Edit("submitted_at", "2021-12-31T23:30:00-02:00"), Edit("items[0].acquired_year", 2021)], []),
        // serial_numbers
        .init("more serial numbers than quantity", .equipmentInventory,
              [Edit("items[1].serial_numbers", ["PJ-77", "PJ-78"])], ["invalid_field items[1].serial_numbers"]),
        .init("fewer serial numbers than quantity", .equipmentInventory,
              [Edit("items[1].quantity", 3), Edit("items[1].serial_numbers", ["PJ-77", "PJ-78"])],
              ["invalid_field items[1].serial_numbers"]),
        .init("serial numbers matching quantity", .equipmentInventory,
              [Edit("items[1].quantity", 2), Edit("items[1].serial_numbers", ["PJ-77", "PJ-78"])], []),
        .init("serial repeated within an item", .equipmentInventory,
              [Edit("items[1].quantity", 2), Edit("items[1].serial_numbers", ["PJ-77", "PJ-77"])],
              ["duplicate_serial items[1].serial_numbers"]),
        .init("serial repeated across items", .equipmentInventory,
              [Edit("items[0].quantity", 1), Edit("items[0].serial_numbers", ["PJ-77"])],
              ["duplicate_serial items[1].serial_numbers"]),
        .init("serial_numbers not an array", .equipmentInventory, [Edit("items[1].serial_numbers", "PJ-77")],
              ["invalid_field items[1].serial_numbers"]),
        // vocabularies
        .init("unknown category", .equipmentInventory, [Edit("items[0].category", "smartphone")],
              ["invalid_field items[0].category"]),
        .init("unknown condition", .equipmentInventory, [Edit("items[1].condition", "broken")],
              ["invalid_field items[1].condition"]),
        .init("unknown procedure", .equipmentInventory, [Edit("procedure", "replace")], ["invalid_field procedure"]),
        .init("procedure inventory", .equipmentInventory, [Edit("procedure", "inventory")], []),
        .init("inventory with no items replaces the record with nothing", .equipmentInventory,
              [Edit("procedure", "inventory"), Edit("items", [])], []),
        .init("insert with no items", .equipmentInventory, [Edit("items", [])], ["invalid_field items"]),
        .init("items missing", .equipmentInventory, [Edit("items", nil)], ["invalid_field items"]),
        .init("items not an array", .equipmentInventory, [Edit("items", ["category": "desktop"])],
              ["invalid_field items"]),
        .init("item not an object", .equipmentInventory, [Edit("items[0]", "desktop")], ["invalid_field items[0]"]),
        .init("category of the wrong type", .equipmentInventory, [Edit("items[0].category", 3)],
              ["invalid_field items[0].category"]),
        // header
        .init("campaign missing", .equipmentInventory, [Edit("campaign", nil)], ["invalid_field campaign"]),
        .init("campaign blank", .equipmentInventory, [Edit("campaign", "   ")], ["invalid_field campaign"]),
        .init("campaign with a space", .equipmentInventory, [Edit("campaign", "gr ict")], ["invalid_field campaign"]),
        .init("campaign a number", .equipmentInventory, [Edit("campaign", 2022)], ["invalid_field campaign"]),
        .init("school_code missing", .equipmentInventory, [Edit("school_code", nil)], ["invalid_field school_code"]),
        .init("submitted_by missing", .deviceNeedReport, [Edit("submitted_by", nil)], ["invalid_field submitted_by"]),
        .init("submitted_by not an address", .deviceNeedReport, [Edit("submitted_by", "th01.tdm.edu.vn")],
              ["invalid_field submitted_by"]),
        .init("submitted_by without a domain dot", .deviceNeedReport, [Edit("submitted_by", "th01@localhost")],
              ["invalid_field submitted_by"]),
        .init("submitted_at missing", .handoverRecord, [Edit("submitted_at", nil)], ["invalid_field submitted_at"]),
        .init("submitted_at without offset", .equipmentInventory, [Edit("submitted_at", "2022-01-14T09:30:00")],
              ["invalid_field submitted_at"]),
        .init("submitted_at a date only", .deviceNeedReport, [Edit("submitted_at", "2021-11-18")],
              ["invalid_field submitted_at"]),
        .init("submitted_at a number", .deviceNeedReport, [Edit("submitted_at", 1_637_204_400)],
              ["invalid_field submitted_at"]),
        .init("submitted_at in UTC", .deviceNeedReport, [Edit("submitted_at", "2021-11-18T03:00:00Z")], []),
        // device_need_report
        .init("grade 0", .deviceNeedReport, [Edit("students[0].grade", 0)], ["invalid_field students[0].grade"]),
        .init("grade 13", .deviceNeedReport, [Edit("students[0].grade", 13)], ["invalid_field students[0].grade"]),
        .init("grade 1", .deviceNeedReport, [Edit("students[0].grade", 1)], []),
        .init("grade 12", .deviceNeedReport, [Edit("students[0].grade", 12)], []),
        .init("grade as a string", .deviceNeedReport, [Edit("students[0].grade", "4")],
              ["invalid_field students[0].grade"]),
        .init("unknown student category", .deviceNeedReport, [Edit("students[0].category", "orphan")],
              ["invalid_field students[0].category"]),
        .init("student_ref twice", .deviceNeedReport,
              [Edit("students[1]", ["student_ref": "HS-0001", "full_name": "Trần Thị Bình", "grade": 3,
                                    "category": "poor_household"])],
              ["invalid_field students[1].student_ref"]),
        .init("two different students", .deviceNeedReport,
              [Edit("students[1]", ["student_ref": "HS-0002", "full_name": "Trần Thị Bình", "grade": 3,
                                    "category": "poor_household"])], []),
        .init("no student needs a computer", .deviceNeedReport, [Edit("students", [])], []),
        .init("students missing", .deviceNeedReport, [Edit("students", nil)], ["invalid_field students"]),
        .init("full_name missing", .deviceNeedReport, [Edit("students[0].full_name", nil)],
              ["invalid_field students[0].full_name"]),
        .init("full_name blank", .deviceNeedReport, [Edit("students[0].full_name", " ")],
              ["invalid_field students[0].full_name"]),
        .init("student_ref missing", .deviceNeedReport, [Edit("students[0].student_ref", nil)],
              ["invalid_field students[0].student_ref"]),
        .init("student not an object", .deviceNeedReport, [Edit("students[0]", "HS-0001")],
              ["invalid_field students[0]"]),
        // donation_record
        .init("empty devices", .donationRecord, [Edit("devices", [])], ["invalid_field devices"]),
        .init("devices missing", .donationRecord, [Edit("devices", nil)], ["invalid_field devices"]),
        .init("donor missing", .donationRecord, [Edit("donor", nil)], ["invalid_field donor"]),
        .init("donor not an object", .donationRecord, [Edit("donor", "Công ty ABC")], ["invalid_field donor"]),
        .init("donor name missing", .donationRecord, [Edit("donor.name", nil)], ["invalid_field donor.name"]),
        .init("unknown donor kind", .donationRecord, [Edit("donor.kind", "charity")], ["invalid_field donor.kind"]),
        .init("unknown channel", .donationRecord, [Edit("channel", "gift")], ["invalid_field channel"]),
        .init("ministry channel", .donationRecord, [Edit("channel", "ministry")], []),
        .init("donation_ref missing", .donationRecord, [Edit("donation_ref", nil)], ["invalid_field donation_ref"]),
        .init("unknown device kind", .donationRecord, [Edit("devices[0].kind", "phone")],
              ["invalid_field devices[0].kind"]),
        .init("device serial missing", .donationRecord, [Edit("devices[0].serial", nil)],
              ["invalid_field devices[0].serial"]),
        .init("specs optional", .donationRecord, [Edit("devices[0].specs", nil)], []),
        .init("target_school_code optional", .donationRecord, [Edit("target_school_code", nil)], []),
        .init("serial twice in one donation", .donationRecord,
              [Edit("devices[1]", ["serial": "LT-000123", "kind": "tablet"])],
              ["duplicate_serial devices[1].serial"]),
        .init("school_code is not required of a donation", .donationRecord, [Edit("school_code", nil)], []),
        // handover_record
        .init("device_serial missing", .handoverRecord, [Edit("device_serial", nil)], ["invalid_field device_serial"]),
        .init("student_ref missing", .handoverRecord, [Edit("student_ref", nil)], ["invalid_field student_ref"]),
        .init("handed_over_at without offset", .handoverRecord, [Edit("handed_over_at", "2021-11-25T09:00:00")],
              ["invalid_field handed_over_at"]),
        .init("handed over after it was recorded", .handoverRecord, [Edit("handed_over_at", "2021-11-27T09:00:00+07:00")],
              ["invalid_field handed_over_at"]),
        .init("handed over 4 minutes after submitted_at (clock skew)", .handoverRecord,
              [Edit("handed_over_at", "2021-11-26T16:04:00+07:00")], []),
        // several errors at once
        .init("several errors reported together", .equipmentInventory,
              [Edit("procedure", nil), Edit("items[0].quantity", 0), Edit("items[1].category", "smartphone"),
               Edit("items[1].acquired_year", 1970), Edit("submitted_by", "nobody")],
              ["invalid_field procedure", "invalid_field items[0].quantity", "invalid_field items[1].category",
               "invalid_field items[1].acquired_year", "invalid_field submitted_by"]),
        .init("several errors in a needs report", .deviceNeedReport,
              [Edit("campaign", nil), Edit("students[0].grade", 0), Edit("students[0].category", "rich"),
               Edit("students[1]", ["student_ref": "HS-0001", "full_name": "Trần Thị Bình", "grade": 30])],
              ["invalid_field campaign", "invalid_field students[0].grade", "invalid_field students[0].category",
               "invalid_field students[1].grade", "invalid_field students[1].category",
               "invalid_field students[1].student_ref"]),
    ]

    @Test("field rules", arguments: fieldCases)
    func fieldRules(_ testCase: FieldCase) {
        let result = MessageFixtures.decode(testCase.type, testCase.edits)
        switch result {
        case .success(let submission):
            #expect(testCase.expected.isEmpty, "accepted, expected \(testCase.expected)")
            #expect(submission.type == testCase.type)
        case .failure(let failure):
            #expect(codesAndFields(failure.errors) == testCase.expected)
        }
    }

    @Test("a large valid inventory with serial numbers decodes")
    func largeInventory() throws {
        let serials: [JSONValue] = (0..<500).map { .string("SN-\($0)") }
        let submission = try #require(MessageFixtures.decode(.equipmentInventory, [
            Edit("items[0].quantity", 500), Edit("items[0].serial_numbers", .array(serials)),
        ]).successValue)
        guard case .equipmentInventory(let inventory) = submission else {
            Issue.record("wrong case")
            return
        }
        #expect(inventory.items[0].serialNumbers?.count == 500)
        #expect(inventory.items[0].serialNumbers?.last == "SN-499")
    }

    @Test("error messages never contain a student's name or other submitted values")
    func noPersonalDataInErrors() throws {
        let name = "Nguyễn Văn An"
        let longName = String(repeating: "Nguyễn Thị Minh Khai ", count: 20)
        let failure = try #require(MessageFixtures.decode(.deviceNeedReport, [
            Edit("submitted_by", "Nguyễn Văn An"),
            Edit("campaign", "Nguyễn Văn An"),
            Edit("students[0].grade", 99),
            Edit("students[0].category", "Nguyễn Văn An"),
            Edit("students[1]", ["student_ref": "HS-0002", "full_name": .string(longName), "grade": "Nguyễn Văn An",
                                 "category": "covid_orphan"]),
            Edit("students[2]", ["student_ref": "HS-0002", "full_name": 7, "grade": 4, "category": "covid_orphan"]),
        ]).failureValue)
        #expect(failure.errors.count >= 7)
        #expect(codesAndFields(failure.errors).contains("invalid_field students[1].full_name"))
        for error in failure.errors {
            #expect(!error.message.contains(name), "\(error)")
            #expect(!error.message.contains("Nguy"), "\(error)")
            #expect(!error.message.contains("99"), "\(error)")
            #expect(!error.message.contains("HS-0002"), "\(error)")
            #expect(!error.description.contains("Nguyễn"), "\(error)")
        }
    }
}

@Suite("Command decoding")
struct CommandDecodingTests {
    typealias Edit = MessageFixtures.Edit

    @Test("every command example decodes", arguments: CommandKey.allCases)
    func examplesDecode(_ key: CommandKey) throws {
        let result = MessageFixtures.decode(key)
        #expect(result.failureValue == nil, "\(result.failureValue?.errors ?? [])")
        let command = try #require(result.successValue)
        #expect(command.key == key)
    }

    @Test("school.upsert fields")
    func schoolUpsert() throws {
        let command = try #require(MessageFixtures.decode(.schoolUpsert, [
            Edit("official_email", "Mail@0551010.SCH.GR"),
        ]).successValue)
        #expect(command == .schoolUpsert(SchoolRecord(
            schoolCode: "0551010", name: "1ο Δημοτικό Σχολείο Αθηνών", level: .primary, region: "Αττική",
            officialEmail: "mail@0551010.sch.gr", language: .greek, students: 240)))
        #expect(command.schoolCode == "0551010")
        #expect(command.campaign == nil)

        let noCount = try #require(MessageFixtures.decode(.schoolUpsert, [Edit("students", nil)]).successValue)
        guard case .schoolUpsert(let school) = noCount else {
            Issue.record("wrong case")
            return
        }
        #expect(school.students == nil)
    }

    @Test("campaign.upsert fields, and the record it carries")
    func campaignUpsert() throws {
        let command = try #require(MessageFixtures.decode(.campaignUpsert).successValue)
        guard case .campaignUpsert(let upsert) = command else {
            Issue.record("wrong case")
            return
        }
        #expect(command.campaign == "vn-song-2021")
        #expect(upsert.kind == .deviceSupport)
        #expect(upsert.title == "Sóng và máy tính cho em")
        #expect(upsert.opensAt == Date(timeIntervalSince1970: 1_637_082_000))
        #expect(upsert.deadline == Date(timeIntervalSince1970: 1_637_341_199))
        #expect(upsert.timezone == "Asia/Ho_Chi_Minh")
        #expect(upsert.staffEmails == ["office@tdm.edu.vn"])
        #expect(upsert.reminderDays == [7, 3, 1])
        #expect(upsert.handoverDays == 1)
        #expect(upsert.priority == [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship])
        #expect(upsert.regions == ["Bình Dương"])
        #expect(upsert.levels == [.primary, .lowerSecondary])

        let record: CampaignRecord = upsert
        #expect(record.campaign == "vn-song-2021")
        #expect(record.kind == .deviceSupport)
        #expect(record.deadline == upsert.deadline)
        #expect(record.opensAt == upsert.opensAt)
        #expect(record.staffEmails == ["office@tdm.edu.vn"])
        #expect(record.handoverDays == 1)
        #expect(record.regions == ["Bình Dương"])
        #expect(record.levels == [.primary, .lowerSecondary])
    }

    @Test("campaign.upsert defaults and normalisation")
    func campaignDefaults() throws {
        let command = try #require(MessageFixtures.decode(.campaignUpsert, [
            Edit("reminder_days", nil), Edit("handover_days", nil), Edit("priority", nil), Edit("regions", nil),
            Edit("levels", nil), Edit("staff_emails", nil),
        ]).successValue)
        guard case .campaignUpsert(let defaults) = command else {
            Issue.record("wrong case")
            return
        }
        #expect(defaults.reminderDays == [7, 3, 1])
        #expect(defaults.handoverDays == 1)
        #expect(defaults.priority == StudentCategory.allCases)
        #expect(defaults.regions == nil)
        #expect(defaults.levels == nil)
        #expect(defaults.staffEmails == [])

        let adjusted = try #require(MessageFixtures.decode(.campaignUpsert, [
            Edit("reminder_days", [1, 14, 3, 3, 0]), Edit("handover_days", 3),
            Edit("priority", ["poor_household", "other_hardship"]), Edit("regions", []), Edit("levels", []),
        ]).successValue)
        guard case .campaignUpsert(let upsert) = adjusted else {
            Issue.record("wrong case")
            return
        }
        #expect(upsert.reminderDays == [14, 3, 1, 0])
        #expect(upsert.handoverDays == 3)
        // Categories left out rank after the listed ones, in the contract's order.
        #expect(upsert.priority == [.poorHousehold, .otherHardship, .covidOrphan, .nearPoorHousehold])
        #expect(upsert.regions == nil)
        #expect(upsert.levels == nil)
    }

    @Test("allocation.run and procurement.plan fields")
    func runAndPlan() throws {
        let run = try #require(MessageFixtures.decode(.allocationRun).successValue)
        #expect(run == .allocationRun(AllocationRunCommand(campaign: "vn-song-2021", region: "Bình Dương",
                                                           schoolCode: "TDM-TH-01")))
        #expect(run.campaign == "vn-song-2021")
        #expect(run.schoolCode == "TDM-TH-01")
        let whole = try #require(MessageFixtures.decode(.allocationRun, [Edit("region", nil), Edit("school_code", nil)])
            .successValue)
        #expect(whole == .allocationRun(AllocationRunCommand(campaign: "vn-song-2021", region: nil, schoolCode: nil)))

        let plan = try #require(MessageFixtures.decode(.procurementPlan, [Edit("target_students_per_computer", 12.5)])
            .successValue)
        #expect(plan == .procurementPlan(ProcurementPlanCommand(campaign: "gr-ict-2022", targetStudentsPerComputer: 12.5)))
        #expect(plan.campaign == "gr-ict-2022")
    }

    struct CommandCase: Sendable, CustomTestStringConvertible {
        var name: String
        var key: CommandKey
        var edits: [Edit]
        var expected: [String]
        var testDescription: String { name }

        init(_ name: String, _ key: CommandKey, _ edits: [Edit], _ expected: [String]) {
            self.name = name
            self.key = key
            self.edits = edits
            self.expected = expected.sorted()
        }
    }

    static let commandCases: [CommandCase] = [
        // school.upsert
        .init("school: unknown level", .schoolUpsert, [Edit("level", "high_school")], ["invalid_field level"]),
        .init("school: lower_secondary", .schoolUpsert, [Edit("level", "lower_secondary")], []),
        .init("school: unknown language", .schoolUpsert, [Edit("language", "fr")], ["invalid_field language"]),
        .init("school: bad official_email", .schoolUpsert, [Edit("official_email", "mail at school")],
              ["invalid_field official_email"]),
        .init("school: negative students", .schoolUpsert, [Edit("students", -1)], ["invalid_field students"]),
        .init("school: fractional students", .schoolUpsert, [Edit("students", 10.5)], ["invalid_field students"]),
        .init("school: name missing", .schoolUpsert, [Edit("name", nil)], ["invalid_field name"]),
        .init("school: region missing", .schoolUpsert, [Edit("region", nil)], ["invalid_field region"]),
        .init("school: school_code with a space", .schoolUpsert, [Edit("school_code", "055 1010")],
              ["invalid_field school_code"]),
        // campaign.upsert
        .init("campaign: bad timezone", .campaignUpsert, [Edit("timezone", "Mars/Olympus_Mons")],
              ["invalid_field timezone"]),
        .init("campaign: Europe/Athens", .campaignUpsert, [Edit("timezone", "Europe/Athens")], []),
        .init("campaign: deadline before opens_at", .campaignUpsert, [Edit("deadline", "2021-11-16T23:59:59+07:00")],
              ["invalid_field deadline"]),
        .init("campaign: deadline equal to opens_at", .campaignUpsert, [Edit("deadline", "2021-11-17T00:00:00+07:00")],
              ["invalid_field deadline"]),
        .init("campaign: deadline without offset", .campaignUpsert, [Edit("deadline", "2021-11-19T23:59:59")],
              ["invalid_field deadline"]),
        .init("campaign: unknown priority category", .campaignUpsert, [Edit("priority", ["covid_orphan", "rich"])],
              ["invalid_field priority"]),
        .init("campaign: repeated priority category", .campaignUpsert,
              [Edit("priority", ["covid_orphan", "covid_orphan"])], ["invalid_field priority"]),
        .init("campaign: empty priority", .campaignUpsert, [Edit("priority", [])], ["invalid_field priority"]),
        .init("campaign: priority not an array", .campaignUpsert, [Edit("priority", "covid_orphan")],
              ["invalid_field priority"]),
        .init("campaign: unknown level", .campaignUpsert, [Edit("levels", ["primary", "high_school"])],
              ["invalid_field levels"]),
        .init("campaign: unknown kind", .campaignUpsert, [Edit("kind", "survey")], ["invalid_field kind"]),
        .init("campaign: bad staff address", .campaignUpsert, [Edit("staff_emails", ["ok@tdm.edu.vn", "nope"])],
              ["invalid_field staff_emails[1]"]),
        .init("campaign: negative reminder day", .campaignUpsert, [Edit("reminder_days", [7, -1])],
              ["invalid_field reminder_days[1]"]),
        .init("campaign: handover_days out of range", .campaignUpsert, [Edit("handover_days", 366)],
              ["invalid_field handover_days"]),
        .init("campaign: title missing", .campaignUpsert, [Edit("title", nil)], ["invalid_field title"]),
        .init("campaign: several errors", .campaignUpsert,
              [Edit("timezone", "Nowhere/Land"), Edit("deadline", "2021-11-01T00:00:00+07:00"), Edit("kind", nil)],
              ["invalid_field timezone", "invalid_field deadline", "invalid_field kind"]),
        // allocation.run
        .init("run: campaign missing", .allocationRun, [Edit("campaign", nil)], ["invalid_field campaign"]),
        .init("run: school_code not a string", .allocationRun, [Edit("school_code", 5)], ["invalid_field school_code"]),
        // procurement.plan
        .init("plan: target 0", .procurementPlan, [Edit("target_students_per_computer", 0)],
              ["invalid_field target_students_per_computer"]),
        .init("plan: negative target", .procurementPlan, [Edit("target_students_per_computer", -5)],
              ["invalid_field target_students_per_computer"]),
        .init("plan: target as a string", .procurementPlan, [Edit("target_students_per_computer", "10")],
              ["invalid_field target_students_per_computer"]),
        .init("plan: target missing", .procurementPlan, [Edit("target_students_per_computer", nil)],
              ["invalid_field target_students_per_computer"]),
        .init("plan: target 10000", .procurementPlan, [Edit("target_students_per_computer", 10_000)], []),
        .init("plan: target 10001", .procurementPlan, [Edit("target_students_per_computer", 10_001)],
              ["invalid_field target_students_per_computer"]),
        .init("plan: target 0.5", .procurementPlan, [Edit("target_students_per_computer", 0.5)], []),
        .init("plan: campaign missing", .procurementPlan, [Edit("campaign", nil)], ["invalid_field campaign"]),
    ]

    @Test("command rules", arguments: commandCases)
    func commandRules(_ testCase: CommandCase) {
        switch MessageFixtures.decode(testCase.key, testCase.edits) {
        case .success(let command):
            #expect(testCase.expected.isEmpty, "accepted, expected \(testCase.expected)")
            #expect(command.key == testCase.key)
        case .failure(let failure):
            #expect(codesAndFields(failure.errors) == testCase.expected)
        }
    }
}
