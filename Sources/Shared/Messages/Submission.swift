import Foundation

/// Fields every submission carries.
public struct SubmissionHeader: Sendable, Equatable {
    public var campaign: String
    /// Absent for donations (they name a `target_school_code` instead).
    public var schoolCode: String?
    public var submittedBy: String
    public var submittedAt: ParsedTimestamp
}

public struct EquipmentItem: Sendable, Equatable {
    public var category: EquipmentCategory
    public var quantity: Int
    public var acquiredYear: Int
    public var condition: EquipmentCondition
    public var serialNumbers: [String]?
}

public struct EquipmentInventory: Sendable, Equatable {
    public var header: SubmissionHeader
    public var procedure: InventoryProcedure
    public var items: [EquipmentItem]
}

/// A student in a needs report. Holds personal data: its `description` shows the reference only.
public struct ReportedStudent: Sendable, Equatable, CustomStringConvertible {
    public var studentRef: String
    public var fullName: String
    public var grade: Int
    public var category: StudentCategory
    public var description: String { "ReportedStudent(\(studentRef))" }
}

public struct DeviceNeedReport: Sendable, Equatable {
    public var header: SubmissionHeader
    public var students: [ReportedStudent]
}

public struct DonatedDevice: Sendable, Equatable {
    public var serial: String
    public var kind: DeviceKind
    public var specs: String?
}

public struct DonationRecord: Sendable, Equatable {
    public var header: SubmissionHeader
    public var donationRef: String
    public var channel: DonationChannel
    public var donorName: String
    public var donorKind: DonorKind
    public var targetSchoolCode: String?
    public var devices: [DonatedDevice]
}

public struct HandoverRecord: Sendable, Equatable {
    public var header: SubmissionHeader
    public var deviceSerial: String
    public var studentRef: String
    public var handedOverAt: ParsedTimestamp
}

/// A decoded submission of any of the four types.
public enum Submission: Sendable, Equatable {
    case equipmentInventory(EquipmentInventory)
    case deviceNeedReport(DeviceNeedReport)
    case donationRecord(DonationRecord)
    case handoverRecord(HandoverRecord)

    public var type: SubmissionType {
        switch self {
        case .equipmentInventory: .equipmentInventory
        case .deviceNeedReport: .deviceNeedReport
        case .donationRecord: .donationRecord
        case .handoverRecord: .handoverRecord
        }
    }

    public var header: SubmissionHeader {
        switch self {
        case .equipmentInventory(let message): message.header
        case .deviceNeedReport(let message): message.header
        case .donationRecord(let message): message.header
        case .handoverRecord(let message): message.header
        }
    }

    /// The school the outcome names: the submitting school, or a donation's target school.
    public var schoolCode: String? {
        if case .donationRecord(let donation) = self { return donation.targetSchoolCode }
        return header.schoolCode
    }
}

/// A parsed ISO 8601 timestamp (see `ISO8601.parse`).
public typealias ParsedTimestamp = ISO8601.ParsedTimestamp
