import Foundation

public struct AllocationRunCommand: Sendable, Equatable {
    public var campaign: String
    public var region: String?
    public var schoolCode: String?
}

/// `student.erase`: the name (and any free text) of one student, removed everywhere it is stored.
public struct StudentEraseCommand: Sendable, Equatable {
    public var campaign: String
    public var schoolCode: String
    public var studentRef: String
}

public struct ProcurementPlanCommand: Sendable, Equatable {
    public var campaign: String
    public var targetStudentsPerComputer: Double
}

/// A decoded operator command.
public enum Command: Sendable, Equatable {
    /// A school for the registry: the record as the database will know it.
    case schoolUpsert(SchoolRecord)
    /// A campaign for the registry, with its (possibly extended) deadline.
    case campaignUpsert(CampaignRecord)
    case allocationRun(AllocationRunCommand)
    case procurementPlan(ProcurementPlanCommand)
    case studentErase(StudentEraseCommand)

    public var key: CommandKey {
        switch self {
        case .schoolUpsert: .schoolUpsert
        case .campaignUpsert: .campaignUpsert
        case .allocationRun: .allocationRun
        case .procurementPlan: .procurementPlan
        case .studentErase: .studentErase
        }
    }

    /// The campaign the outcome names, if any.
    public var campaign: String? {
        switch self {
        case .schoolUpsert: nil
        case .campaignUpsert(let command): command.campaign
        case .allocationRun(let command): command.campaign
        case .procurementPlan(let command): command.campaign
        case .studentErase(let command): command.campaign
        }
    }

    public var schoolCode: String? {
        switch self {
        case .schoolUpsert(let command): command.schoolCode
        case .allocationRun(let command): command.schoolCode
        case .studentErase(let command): command.schoolCode
        default: nil
        }
    }

    /// Checks a command's shape and rules, reporting every problem found.
    public static func decode(key: CommandKey, from object: JSONObject) -> Result<Command, FieldErrors> {
        var reader = FieldReader()
        let command: Command?
        switch key {
        case .schoolUpsert:
            let code = reader.identifier(object, "school_code")
            let name = reader.string(object, "name")
            let level = reader.choice(object, "level", as: SchoolLevel.self)
            let region = reader.string(object, "region", maxLength: 100)
            let email = reader.email(object, "official_email")
            let language = reader.choice(object, "language", as: Language.self)
            let students = reader.integer(object, "students", required: false, range: 0...1_000_000)
            if let code, let name, let level, let region, let email, let language {
                command = .schoolUpsert(SchoolRecord(schoolCode: code, name: name, level: level, region: region,
                                                     officialEmail: email, language: language, students: students))
            } else {
                command = nil
            }
        case .campaignUpsert:
            command = decodeCampaign(object, &reader).map { .campaignUpsert($0) }
        case .allocationRun:
            let campaign = reader.identifier(object, "campaign")
            let region = reader.string(object, "region", required: false, maxLength: 100)
            let school = reader.identifier(object, "school_code", required: false)
            command = campaign.map { .allocationRun(AllocationRunCommand(campaign: $0, region: region, schoolCode: school)) }
        case .studentErase:
            let campaign = reader.identifier(object, "campaign")
            let school = reader.identifier(object, "school_code")
            let student = reader.identifier(object, "student_ref")
            if let campaign, let school, let student {
                command = .studentErase(StudentEraseCommand(campaign: campaign, schoolCode: school, studentRef: student))
            } else {
                command = nil
            }
        case .procurementPlan:
            let campaign = reader.identifier(object, "campaign")
            let target = reader.number(object, "target_students_per_computer", above: 0, atMost: 10_000)
            if let campaign, let target {
                command = .procurementPlan(ProcurementPlanCommand(campaign: campaign, targetStudentsPerComputer: target))
            } else {
                command = nil
            }
        }
        guard !reader.hasErrors, let command else { return .failure(reader.failure) }
        return .success(command)
    }

    private static func decodeCampaign(_ object: JSONObject, _ reader: inout FieldReader) -> CampaignRecord? {
        let campaign = reader.identifier(object, "campaign")
        let kind = reader.choice(object, "kind", as: CampaignKind.self)
        let title = reader.string(object, "title", maxLength: 300)
        let opensAt = reader.timestamp(object, "opens_at")
        let deadline = reader.timestamp(object, "deadline")
        let timezone = reader.string(object, "timezone", maxLength: 64)
        if let timezone, TimeZone(identifier: timezone) == nil {
            reader.fail("timezone", "must be an IANA time zone name, e.g. Europe/Athens")
        }
        if let opensAt, let deadline, deadline.date <= opensAt.date {
            reader.fail("deadline", "must be after opens_at")
        }
        var staff: [String] = []
        for (index, address) in (reader.stringArray(object, "staff_emails", required: false) ?? []).enumerated() {
            if FieldReader.isEmail(address) { staff.append(address.lowercased()) }
            else { reader.fail("staff_emails[\(index)]", "must be an e-mail address") }
        }
        var reminderDays: [Int] = [7, 3, 1]
        if let elements = reader.array(object, "reminder_days", required: false, maxCount: 60) {
            reminderDays = []
            for (index, element) in elements.enumerated() {
                guard case .number(let value) = element, value.rounded() == value, (0...365).contains(value) else {
                    reader.fail("reminder_days[\(index)]", "must be a whole number of days from 0 to 365")
                    continue
                }
                reminderDays.append(Int(value))
            }
            reminderDays = Array(Set(reminderDays)).sorted(by: >)
        }
        let handoverDays = reader.integer(object, "handover_days", required: false, range: 0...365) ?? 1
        var priority = StudentCategory.allCases
        if let names = reader.stringArray(object, "priority", required: false, maxCount: 10) {
            let parsed = names.compactMap(StudentCategory.init(rawValue:))
            if parsed.count != names.count || Set(parsed).count != parsed.count || parsed.isEmpty {
                reader.fail("priority", "must list distinct categories from: "
                            + StudentCategory.allCases.map(\.rawValue).joined(separator: ", "))
            } else {
                // Categories left out rank after the listed ones, in the contract's order.
                priority = parsed + StudentCategory.allCases.filter { !parsed.contains($0) }
            }
        }
        let regions = reader.stringArray(object, "regions", required: false)
        let maximumLag = reader.number(object, "max_submission_lag", required: false, above: 0, atMost: 8_760) ?? 24
        var levels: [SchoolLevel]? = nil
        if let names = reader.stringArray(object, "levels", required: false, maxCount: 3) {
            let parsed = names.compactMap(SchoolLevel.init(rawValue:))
            if parsed.count != names.count {
                reader.fail("levels", "must list levels from: primary, lower_secondary, secondary")
            } else {
                levels = parsed
            }
        }
        guard let campaign, let kind, let title, let opensAt, let deadline, let timezone, !reader.hasErrors else {
            return nil
        }
        return CampaignRecord(campaign: campaign, kind: kind, title: title, opensAt: opensAt.date,
                              deadline: deadline.date, timezone: timezone, staffEmails: staff,
                              reminderDays: reminderDays, handoverDays: handoverDays, priority: priority,
                              regions: regions.flatMap { $0.isEmpty ? nil : $0 }, levels: levels.flatMap { $0.isEmpty ? nil : $0 },
                              maxSubmissionLagHours: maximumLag)
    }
}
