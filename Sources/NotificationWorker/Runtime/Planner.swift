import Foundation
import Logging
import Shared

/// Plans the e-mails due at the school clock's "now": reminder rounds, final digests and handover reminders.
///
/// Safe on any number of workers at once: a round's slot row and every e-mail's key are unique in the database,
/// so whichever worker plans first wins and the others find nothing left to do.
final class Planner {
    struct Report: Sendable, Equatable {
        var reminderRounds = 0
        var finalDigests = 0
        var planned = 0
    }

    /// Schools planned per `INSERT`: bounds the memory a round of tens of thousands of schools needs.
    static let chunkSize = 2_000

    private let roundPlanner: RoundPlanner
    private let policy: ReminderPolicy
    private let logger: Logger
    /// Campaigns whose unknown time zone was already reported (planning runs every few seconds).
    private var reportedTimeZones = Set<String>()

    init(messageIDDomain: String, policy: ReminderPolicy = .standard, logger: Logger) {
        self.roundPlanner = RoundPlanner(messageIDDomain: messageIDDomain, policy: policy)
        self.policy = policy
        self.logger = logger
    }

    /// Plans everything due at `now` (school clock), each round in its own transaction.
    @discardableResult
    func plan(at now: Date, database: PostgresConnection) throws -> Report {
        var report = Report()
        let horizon = policy.finalDigestDelayDays + policy.finalDigestCatchUpDays + 1
        let campaigns = try PlanningStore.recentCampaigns(now: now, horizonDays: horizon, database: database)
        for campaign in campaigns {
            if CampaignCalendar(identifier: campaign.timezone) == nil, reportedTimeZones.insert(campaign.campaign).inserted {
                logger.warning("campaign time zone unknown; planning in UTC",
                               metadata: ["campaign": "\(campaign.campaign)", "campaign.timezone": "\(campaign.timezone)"])
            }
            let series = campaign.series
            if let slot = ReminderSchedule.dueReminder(of: series, at: now, policy: policy) {
                if let planned = try planReminderRound(campaign, slot: slot, database: database) {
                    report.reminderRounds += 1
                    report.planned += planned
                }
            }
            if let slot = ReminderSchedule.dueFinalDigest(of: series, at: now, policy: policy) {
                if let planned = try planFinalDigest(campaign, slot: slot, database: database) {
                    report.finalDigests += 1
                    report.planned += planned
                }
            }
        }
        report.planned += try planHandoverReminders(at: now, database: database)
        return report
    }

    /// Plans a reminder round once: `nil` when another worker (or an earlier cycle) already did.
    private func planReminderRound(_ campaign: CampaignSettings, slot: ReminderSlot,
                                   database: PostgresConnection) throws -> Int? {
        let seriesID = campaign.series.id
        if try NotificationStore.slotIsPlanned(campaign: campaign.campaign, slot: "reminder", series: seriesID,
                                               day: slot.day, database: database) { return nil }
        return try database.transaction { database throws -> Int? in
            guard try NotificationStore.takeSlot(campaign: campaign.campaign, slot: "reminder", series: seriesID,
                                                 day: slot.day, database: database) else { return nil }
            let schools = try PlanningStore.schoolsInScope(of: campaign, database: database)
            let previous = try PlanningStore.previousDeadline(of: campaign, database: database)
            var stored = 0
            var start = 0
            while start < schools.count {
                let chunk = schools[start..<min(schools.count, start + Self.chunkSize)]
                stored += try NotificationStore.insert(
                    roundPlanner.schoolReminders(campaign: campaign, slot: slot, schools: chunk, previousDeadline: previous),
                    database: database)
                start += Self.chunkSize
            }
            stored += try NotificationStore.insert(
                roundPlanner.staffDigests(campaign: campaign, slot: slot, schools: schools, previousDeadline: previous),
                database: database)
            logger.info("planned a reminder round", metadata: [
                "campaign": "\(campaign.campaign)", "reminder.day": "\(slot.day)",
                "reminder.days_before": "\(slot.daysBefore)", "notification.planned": "\(stored)",
            ])
            return stored
        }
    }

    private func planFinalDigest(_ campaign: CampaignSettings, slot: FinalDigestSlot,
                                 database: PostgresConnection) throws -> Int? {
        let seriesID = campaign.series.id
        if try NotificationStore.slotIsPlanned(campaign: campaign.campaign, slot: "final_digest", series: seriesID,
                                               day: slot.day, database: database) { return nil }
        return try database.transaction { database throws -> Int? in
            guard try NotificationStore.takeSlot(campaign: campaign.campaign, slot: "final_digest", series: seriesID,
                                                 day: slot.day, database: database) else { return nil }
            let schools = try PlanningStore.schoolsInScope(of: campaign, database: database)
            let planned = roundPlanner.finalDigest(campaign: campaign, slot: slot, schools: schools)
            let stored = try NotificationStore.insert(planned, database: database)
            logger.info("planned the final digest", metadata: [
                "campaign": "\(campaign.campaign)", "notification.planned": "\(stored)",
            ])
            return stored
        }
    }

    /// One reminder per school and local day while devices wait for their handover record, from `sendHour` on.
    private func planHandoverReminders(at now: Date, database: PostgresConnection) throws -> Int {
        let overdue = try PlanningStore.overdueHandovers(now: now, database: database)
        guard !overdue.isEmpty else { return 0 }
        let byCampaign = Dictionary(grouping: overdue, by: \.campaign)
        let campaigns = try PlanningStore.campaigns(Array(byCampaign.keys), database: database)
        var stored = 0
        for name in byCampaign.keys.sorted() {
            guard let campaign = campaigns[name], let devices = byCampaign[name],
                  let day = ReminderSchedule.handoverDay(at: now, calendar: campaign.calendar, policy: policy)
            else { continue }
            let alreadyPlanned = try PlanningStore.handoverRemindersPlanned(campaign: name, day: day, database: database)
            let due = devices.filter { !alreadyPlanned.contains($0.schoolCode) }
            guard !due.isEmpty else { continue }
            var schools: [String: PlanningStore.ScopedSchool] = [:]
            for code in Set(due.map(\.schoolCode)) {
                if let school = try PlanningStore.school(code, database: database) { schools[code] = school }
            }
            let planned = roundPlanner.handoverReminders(campaign: campaign, day: day, now: now, devices: due,
                                                         schools: schools)
            let count = try NotificationStore.insert(planned, database: database)
            if count > 0 {
                logger.info("planned handover reminders", metadata: [
                    "campaign": "\(name)", "reminder.day": "\(day)", "notification.planned": "\(count)",
                ])
            }
            stored += count
        }
        return stored
    }
}
