import Foundation

/// A campaign as the database knows it (`campaign.upsert`), with its current deadline.
public struct CampaignRecord: Sendable, Equatable {
    public var campaign: String
    public var kind: CampaignKind
    public var title: String
    public var opensAt: Date
    public var deadline: Date
    public var timezone: String
    public var staffEmails: [String]
    public var reminderDays: [Int]
    public var handoverDays: Int
    public var priority: [StudentCategory]
    public var regions: [String]?
    public var levels: [SchoolLevel]?
    /// `max_submission_lag` (hours, default 24): a submission whose `submitted_at` precedes its first receipt by
    /// more is stored flagged `backdated`, for an operator to see.
    public var maxSubmissionLagHours: Double

    public init(campaign: String, kind: CampaignKind, title: String, opensAt: Date, deadline: Date,
                timezone: String, staffEmails: [String] = [], reminderDays: [Int] = [7, 3, 1], handoverDays: Int = 1,
                priority: [StudentCategory] = StudentCategory.allCases, regions: [String]? = nil,
                levels: [SchoolLevel]? = nil, maxSubmissionLagHours: Double = 24) {
        self.maxSubmissionLagHours = maxSubmissionLagHours
        self.campaign = campaign
        self.kind = kind
        self.title = title
        self.opensAt = opensAt
        self.deadline = deadline
        self.timezone = timezone
        self.staffEmails = staffEmails
        self.reminderDays = reminderDays
        self.handoverDays = handoverDays
        self.priority = priority
        self.regions = regions
        self.levels = levels
    }

    /// Whether the campaign's `regions` and `levels` take this school in.
    public func concerns(_ school: SchoolRecord) -> Bool {
        if let regions, !regions.contains(school.region) { return false }
        if let levels, !levels.contains(school.level) { return false }
        return true
    }
}
