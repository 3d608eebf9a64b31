import Foundation

/// One deadline of a campaign and the reminders it gets: an extension is a new series.
struct DeadlineSeries: Sendable, Equatable {
    var campaign: String
    var deadline: Date
    var opensAt: Date
    /// Calendar days before the deadline's local day (`[7, 3, 1]`); 0 is the deadline's own day.
    var reminderDays: [Int]
    var calendar: CampaignCalendar

    /// The series id stored with each of its e-mails: the deadline in UTC, ISO 8601.
    var id: String { Self.id(for: deadline) }

    static func id(for deadline: Date) -> String { ISO8601Text.utc(deadline) }

    /// The deadline's local day.
    var deadlineDay: LocalDay { calendar.day(of: deadline) }

    static func == (lhs: DeadlineSeries, rhs: DeadlineSeries) -> Bool {
        lhs.campaign == rhs.campaign && lhs.deadline == rhs.deadline && lhs.opensAt == rhs.opensAt
            && lhs.reminderDays == rhs.reminderDays && lhs.calendar.identifier == rhs.calendar.identifier
    }
}

/// A reminder of a series: the day it is for and the instant it falls due.
struct ReminderSlot: Sendable, Equatable {
    var daysBefore: Int
    var day: LocalDay
    var dueAt: Date
}

/// The final digest of a series.
struct FinalDigestSlot: Sendable, Equatable {
    var day: LocalDay
    var dueAt: Date
}
