import Foundation

/// Which e-mails are due at a given instant: pure functions of the campaign's settings and the clock.
///
/// - A series has one reminder slot per entry of `reminder_days`: `sendHour` local time, that many calendar days
///   before the deadline's local day. Slots at or after the deadline, or before the campaign opens, are dropped.
/// - Catch-up: at any instant only the *latest* slot already due is due, so a worker that was down over several
///   slots sends one reminder, not a burst of stale ones. Once the deadline has passed no reminder is due.
/// - The final digest falls due `finalDigestDelayDays` after the deadline's day at `sendHour`, and stays due
///   (for catch-up) for `finalDigestCatchUpDays`.
/// - Handover reminders are due once per local day from `sendHour` on.
enum ReminderSchedule {
    /// Every reminder slot of the series, earliest first.
    static func slots(of series: DeadlineSeries, policy: ReminderPolicy = .standard) -> [ReminderSlot] {
        let deadlineDay = series.deadlineDay
        return Set(series.reminderDays.filter { $0 >= 0 }).sorted(by: >).compactMap { daysBefore in
            let day = deadlineDay.adding(days: -daysBefore)
            let dueAt = series.calendar.instant(of: day, hour: policy.sendHour)
            guard dueAt < series.deadline, dueAt >= series.opensAt else { return nil }
            return ReminderSlot(daysBefore: daysBefore, day: day, dueAt: dueAt)
        }
    }

    /// The reminder due at `now`: the latest slot already reached, if the deadline has not passed.
    static func dueReminder(of series: DeadlineSeries, at now: Date,
                            policy: ReminderPolicy = .standard) -> ReminderSlot? {
        guard now < series.deadline else { return nil }
        return slots(of: series, policy: policy).last { $0.dueAt <= now }
    }

    /// When the series' final digest falls due.
    static func finalDigest(of series: DeadlineSeries, policy: ReminderPolicy = .standard) -> FinalDigestSlot {
        let day = series.deadlineDay.adding(days: policy.finalDigestDelayDays)
        return FinalDigestSlot(day: day, dueAt: series.calendar.instant(of: day, hour: policy.sendHour))
    }

    /// The final digest if it is due at `now` (reached, and not older than the catch-up window).
    static func dueFinalDigest(of series: DeadlineSeries, at now: Date,
                               policy: ReminderPolicy = .standard) -> FinalDigestSlot? {
        let slot = finalDigest(of: series, policy: policy)
        let window = Double(policy.finalDigestCatchUpDays) * 86_400
        guard now >= slot.dueAt, now < slot.dueAt.addingTimeInterval(window) else { return nil }
        return slot
    }

    /// Whether the series still has something to send (a reminder or its final digest) at or after `now`.
    static func isOpen(_ series: DeadlineSeries, at now: Date, policy: ReminderPolicy = .standard) -> Bool {
        let slot = finalDigest(of: series, policy: policy)
        return now < slot.dueAt.addingTimeInterval(Double(policy.finalDigestCatchUpDays) * 86_400)
    }

    /// The local day a handover reminder planned at `now` is for, once `sendHour` has been reached that day.
    static func handoverDay(at now: Date, calendar: CampaignCalendar,
                            policy: ReminderPolicy = .standard) -> LocalDay? {
        let wall = calendar.wallTime(of: now)
        return wall.hour >= policy.sendHour ? wall.day : nil
    }

    /// When a device allocated at `allocatedAt` is overdue for its handover record.
    static func handoverOverdue(allocatedAt: Date, handoverDays: Int) -> Date {
        allocatedAt.addingTimeInterval(Double(max(0, handoverDays)) * 86_400)
    }
}
