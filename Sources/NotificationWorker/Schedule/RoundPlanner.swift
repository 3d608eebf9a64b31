import Foundation
import Shared

/// Turns a due slot and the state of the schools into the e-mails to store: pure, so the whole decision "who
/// gets what" is testable without a database.
struct RoundPlanner: Sendable {
    var messageIDDomain: String
    var policy: ReminderPolicy = .standard

    /// A reminder round: one reminder to each school in scope without an on-time submission, and one digest to
    /// each staff address listing those schools by region.
    func reminderRound(campaign: CampaignSettings, slot: ReminderSlot, schools: [PlanningStore.ScopedSchool],
                       previousDeadline: Date?) -> [PlannedNotification] {
        schoolReminders(campaign: campaign, slot: slot, schools: schools[...], previousDeadline: previousDeadline)
            + staffDigests(campaign: campaign, slot: slot, schools: schools, previousDeadline: previousDeadline)
    }

    /// The school reminders of a round, for a slice of the schools in scope (planning goes in chunks, so that
    /// tens of thousands of schools never sit in memory as e-mails at once).
    func schoolReminders(campaign: CampaignSettings, slot: ReminderSlot, schools: ArraySlice<PlanningStore.ScopedSchool>,
                         previousDeadline: Date?) -> [PlannedNotification] {
        let seriesID = campaign.series.id
        return schools.filter { !$0.onTime }.map { school in
            let key = NotificationKey(kind: .deadlineReminder, campaign: campaign.campaign, series: seriesID,
                                      day: slot.day, recipient: school.officialEmail)
            let payload = DeadlineReminderPayload(school: school.ref, level: school.level,
                                                  officialEmail: school.officialEmail, daysBefore: slot.daysBefore,
                                                  previousDeadline: previousDeadline)
            return PlannedNotification(key: key, messageIDDomain: messageIDDomain, deadline: campaign.deadline,
                                       schoolCode: school.code, language: school.language,
                                       payload: payload.json, dueAt: slot.dueAt)
        }
    }

    /// The staff digests of a round: every school in scope goes in, for the counts.
    func staffDigests(campaign: CampaignSettings, slot: ReminderSlot, schools: [PlanningStore.ScopedSchool],
                      previousDeadline: Date?) -> [PlannedNotification] {
        let missing = schools.filter { !$0.onTime }
        let digest = StaffDigestPayload(daysBefore: slot.daysBefore, schoolsInScope: schools.count,
                                        missing: groupByRegion(missing), previousDeadline: previousDeadline)
        let language = PlanningStore.staffLanguage(of: schools)
        return uniqueAddresses(campaign.staffEmails).map { address in
            let key = NotificationKey(kind: .staffDigest, campaign: campaign.campaign, series: campaign.series.id,
                                      day: slot.day, recipient: address)
            return PlannedNotification(key: key, messageIDDomain: messageIDDomain, deadline: campaign.deadline,
                                       language: language, payload: digest.json, dueAt: slot.dueAt)
        }
    }

    /// The final digest to each staff address: on time, late and missing, by region.
    func finalDigest(campaign: CampaignSettings, slot: FinalDigestSlot,
                     schools: [PlanningStore.ScopedSchool]) -> [PlannedNotification] {
        var regions: [RegionOutcome] = []
        for (region, members) in regionsInOrder(schools) {
            let late = members.filter { !$0.onTime && $0.late }
            let missing = members.filter { !$0.onTime && !$0.late }
            regions.append(RegionOutcome(region: region, onTime: members.filter(\.onTime).count,
                                         late: listed(region, late), missing: listed(region, missing)))
        }
        let payload = FinalDigestPayload(schoolsInScope: schools.count, regions: regions)
        let language = PlanningStore.staffLanguage(of: schools)
        return uniqueAddresses(campaign.staffEmails).map { address in
            let key = NotificationKey(kind: .finalDigest, campaign: campaign.campaign, series: campaign.series.id,
                                      day: slot.day, recipient: address)
            return PlannedNotification(key: key, messageIDDomain: messageIDDomain, deadline: campaign.deadline,
                                       language: language, payload: payload.json, dueAt: slot.dueAt)
        }
    }

    /// One handover reminder per school with overdue devices, for `day`.
    func handoverReminders(campaign: CampaignSettings, day: LocalDay, now: Date,
                           devices: [PlanningStore.OverdueDevice],
                           schools: [String: PlanningStore.ScopedSchool]) -> [PlannedNotification] {
        var bySchool: [String: [PlanningStore.OverdueDevice]] = [:]
        for device in devices { bySchool[device.schoolCode, default: []].append(device) }
        return bySchool.keys.sorted().compactMap { code in
            guard let school = schools[code], let overdue = bySchool[code] else { return nil }
            let payload = HandoverReminderPayload(
                school: school.ref, handoverDays: campaign.handoverDays,
                devices: overdue.map { device in
                    HandoverReminderPayload.Device(
                        serial: device.serial, studentRef: device.studentRef,
                        dueAt: ReminderSchedule.handoverOverdue(allocatedAt: device.allocatedAt,
                                                                handoverDays: campaign.handoverDays))
                })
            let key = NotificationKey(kind: .handoverReminder, campaign: campaign.campaign,
                                      series: NotificationKey.handoverSeries, day: day, recipient: school.officialEmail)
            return PlannedNotification(key: key, messageIDDomain: messageIDDomain, schoolCode: code,
                                       language: school.language, payload: payload.json, dueAt: now)
        }
    }

    // MARK: Grouping

    /// Schools grouped by region, regions in order of name.
    private func regionsInOrder(_ schools: [PlanningStore.ScopedSchool]) -> [(String, [PlanningStore.ScopedSchool])] {
        var groups: [String: [PlanningStore.ScopedSchool]] = [:]
        for school in schools { groups[school.region, default: []].append(school) }
        return groups.keys.sorted().map { ($0, groups[$0]!.sorted { $0.code < $1.code }) }
    }

    func groupByRegion(_ schools: [PlanningStore.ScopedSchool]) -> [RegionSchools] {
        regionsInOrder(schools).map { region, members in listed(region, members) }
    }

    private func listed(_ region: String, _ schools: [PlanningStore.ScopedSchool]) -> RegionSchools {
        RegionSchools(region: region, count: schools.count,
                      schools: schools.prefix(policy.digestSchoolsPerRegion).map(\.ref))
    }

    /// Staff addresses once each, whatever their case (the key lowercases them).
    private func uniqueAddresses(_ addresses: [String]) -> [String] {
        var seen = Set<String>()
        return addresses.filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
    }
}
