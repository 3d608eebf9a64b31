// The contract's closed vocabularies. Raw values are the wire values.

public enum SchoolLevel: String, Sendable, CaseIterable, Codable {
    case primary
    case lowerSecondary = "lower_secondary"
    case secondary

    /// Grades a school of this level teaches (Vietnam: primary 1–5, lower secondary 6–9;
    /// a secondary school is taken as grades 6–12).
    public var grades: ClosedRange<Int> {
        switch self {
        case .primary: 1...5
        case .lowerSecondary: 6...9
        case .secondary: 6...12
        }
    }
}

public enum Language: String, Sendable, CaseIterable, Codable {
    case greek = "el"
    case vietnamese = "vi"
    case english = "en"
}

public enum CampaignKind: String, Sendable, CaseIterable, Codable {
    case equipmentInventory = "equipment_inventory"
    case deviceSupport = "device_support"
}

public enum SubmissionType: String, Sendable, CaseIterable, Codable {
    case equipmentInventory = "equipment_inventory"
    case deviceNeedReport = "device_need_report"
    case donationRecord = "donation_record"
    case handoverRecord = "handover_record"

    /// The kind of campaign this type of submission belongs to.
    public var campaignKind: CampaignKind {
        self == .equipmentInventory ? .equipmentInventory : .deviceSupport
    }
}

public enum CommandKey: String, Sendable, CaseIterable, Codable {
    case allocationRun = "allocation.run"
    case procurementPlan = "procurement.plan"
    case campaignUpsert = "campaign.upsert"
    case schoolUpsert = "school.upsert"
    /// Erases a student's name wherever it is stored (added; see `docs/asyncapi.yaml`).
    case studentErase = "student.erase"
}

public enum InventoryProcedure: String, Sendable, CaseIterable, Codable {
    /// Adds the items to the school's record (the only procedure a primary school may use).
    case insert
    /// Replaces the school's whole record.
    case inventory
}

public enum EquipmentCategory: String, Sendable, CaseIterable, Codable {
    case desktop, laptop, tablet, projector
    case interactiveWhiteboard = "interactive_whiteboard"
    case printer
    case networkDevice = "network_device"
    case server, other

    /// Counts as a computer for the procurement plan.
    public var isComputer: Bool { self == .desktop || self == .laptop || self == .tablet }
}

public enum EquipmentCondition: String, Sendable, CaseIterable, Codable {
    case working, faulty, obsolete
}

public enum StudentCategory: String, Sendable, CaseIterable, Codable {
    case covidOrphan = "covid_orphan"
    case poorHousehold = "poor_household"
    case nearPoorHousehold = "near_poor_household"
    case otherHardship = "other_hardship"
}

public enum DonationChannel: String, Sendable, CaseIterable, Codable {
    case ministry, other
}

public enum DonorKind: String, Sendable, CaseIterable, Codable {
    case company, individual, organisation, government
}

public enum DeviceKind: String, Sendable, CaseIterable, Codable {
    case laptop, desktop, tablet
}

public enum SubmissionStatus: String, Sendable, Codable {
    case onTime = "on_time"
    case late
}
