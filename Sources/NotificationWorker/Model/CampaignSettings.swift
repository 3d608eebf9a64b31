import Foundation
import Shared

/// A campaign as the NotificationWorker needs it.
struct CampaignSettings: Sendable {
    var campaign: String
    var kind: CampaignKind
    var title: String
    var opensAt: Date
    var deadline: Date
    var timezone: String
    var staffEmails: [String]
    var reminderDays: [Int]
    var handoverDays: Int
    var regions: [String]?
    var levels: [String]?

    /// The submission type whose on-time arrival stops a school's reminders.
    var reportType: SubmissionType {
        kind == .equipmentInventory ? .equipmentInventory : .deviceNeedReport
    }

    /// The calendar of its time zone; UTC when the name is unknown (the SubmissionWorker validates it).
    var calendar: CampaignCalendar {
        CampaignCalendar(identifier: timezone) ?? CampaignCalendar(timeZone: TimeZone(identifier: "UTC")!)
    }

    /// The current deadline's reminder series.
    var series: DeadlineSeries {
        DeadlineSeries(campaign: campaign, deadline: deadline, opensAt: opensAt, reminderDays: reminderDays,
                       calendar: calendar)
    }

    func context(deadline: Date?, dueAt: Date) -> MailContext {
        MailContext(campaign: campaign, title: title, kind: kind, calendar: calendar, deadline: deadline, dueAt: dueAt)
    }
}
