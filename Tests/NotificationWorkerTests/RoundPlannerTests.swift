import Foundation
import Mail
import Shared
import Testing

@testable import NotificationWorker

/// Who gets which e-mail for a due slot.
struct RoundPlannerTests {
    static func date(_ text: String) -> Date { ISO8601.parse(text)!.date }

    static let campaign = CampaignSettings(
        campaign: "gr-ict-2022", kind: .equipmentInventory, title: "Κτηματολόγιο υποδομών Τ.Π.Ε. 2022",
        opensAt: date("2022-01-10T00:00:00+02:00"), deadline: date("2022-01-21T23:59:59+02:00"),
        timezone: "Europe/Athens", staffEmails: ["ict@minedu.gov.gr", "ICT@minedu.gov.gr", "digest@minedu.gov.gr"],
        reminderDays: [7, 3, 1], handoverDays: 1)

    static func school(_ code: String, region: String, language: Language = .greek, onTime: Bool = false,
                       late: Bool = false) -> PlanningStore.ScopedSchool {
        PlanningStore.ScopedSchool(code: code, name: "Σχολείο \(code)", level: .secondary, region: region,
                                   officialEmail: "mail@\(code).sch.gr", language: language, onTime: onTime, late: late)
    }

    static let schools = [
        school("0551010", region: "Ανατολική Μακεδονία και Θράκη"),
        school("0551020", region: "Ανατολική Μακεδονία και Θράκη", onTime: true),
        school("1901010", region: "Αττική", language: .english),
        school("1901020", region: "Αττική", late: true),
    ]

    let planner = RoundPlanner(messageIDDomain: "schoolict.invalid")

    @Test func onlySchoolsWithoutAnOnTimeSubmissionAreReminded() throws {
        let slot = try #require(ReminderSchedule.dueReminder(of: Self.campaign.series, at: Self.date("2022-01-14T09:00:00+02:00")))
        let planned = planner.reminderRound(campaign: Self.campaign, slot: slot, schools: Self.schools, previousDeadline: nil)
        let reminders = planned.filter { $0.key.kind == .deadlineReminder }
        #expect(reminders.map(\.schoolCode) == ["0551010", "1901010", "1901020"])
        #expect(reminders.map(\.language) == [.greek, .english, .greek])
        #expect(reminders.allSatisfy { $0.key.day.description == "2022-01-14" && $0.key.series == "2022-01-21T21:59:59Z" })
        #expect(reminders.allSatisfy { $0.dueAt == Self.date("2022-01-14T07:00:00Z") })

        let digests = planned.filter { $0.key.kind == .staffDigest }
        #expect(digests.map(\.key.recipient) == ["ict@minedu.gov.gr", "digest@minedu.gov.gr"], "one per address, whatever its case")
        #expect(digests.allSatisfy { $0.language == .greek }, "the campaign's majority language")
        let digest = try StaffDigestPayload(json: try #require(digests.first).payload)
        #expect(digest.schoolsInScope == 4)
        #expect(digest.missingCount == 3)
        #expect(digest.missing.map(\.region) == ["Ανατολική Μακεδονία και Θράκη", "Αττική"])
        #expect(digest.missing.map(\.count) == [1, 2])
    }

    @Test func finalDigestCountsOnTimeLateAndMissingByRegion() throws {
        let slot = ReminderSchedule.finalDigest(of: Self.campaign.series)
        let planned = planner.finalDigest(campaign: Self.campaign, slot: slot, schools: Self.schools)
        #expect(planned.count == 2)
        let payload = try FinalDigestPayload(json: try #require(planned.first).payload)
        #expect(payload.regions.map(\.region) == ["Ανατολική Μακεδονία και Θράκη", "Αττική"])
        #expect(payload.regions.map(\.onTime) == [1, 0])
        #expect(payload.regions.map(\.late.count) == [0, 1])
        #expect(payload.regions.map(\.missing.count) == [1, 1])
        #expect(payload.regions[1].late.schools.map(\.code) == ["1901020"])
        #expect(planned.allSatisfy { $0.key.kind == .finalDigest && $0.key.day.description == "2022-01-22" })
    }

    @Test func digestListsAreCutButCountsStayComplete() throws {
        var planner = planner
        planner.policy.digestSchoolsPerRegion = 2
        let many = (0..<5).map { Self.school("S\($0)", region: "R") }
        let groups = planner.groupByRegion(many)
        #expect(groups == [RegionSchools(region: "R", count: 5, schools: many.prefix(2).map(\.ref))])
    }

    @Test func handoverRemindersOnePerSchoolListingItsDevices() throws {
        let devices = [
            PlanningStore.OverdueDevice(campaign: "vn", schoolCode: "B", serial: "LT-2", studentRef: "HS-2",
                                        allocatedAt: Self.date("2021-11-22T10:00:00+07:00")),
            PlanningStore.OverdueDevice(campaign: "vn", schoolCode: "A", serial: "LT-1", studentRef: "HS-1",
                                        allocatedAt: Self.date("2021-11-22T10:00:00+07:00")),
            PlanningStore.OverdueDevice(campaign: "vn", schoolCode: "B", serial: "LT-3", studentRef: "HS-3",
                                        allocatedAt: Self.date("2021-11-22T11:00:00+07:00")),
        ]
        var campaign = Self.campaign
        campaign.campaign = "vn"
        campaign.timezone = "Asia/Ho_Chi_Minh"
        let schools = ["A": Self.school("A", region: "x", language: .vietnamese),
                       "B": Self.school("B", region: "x", language: .vietnamese)]
        let day = LocalDay(year: 2021, month: 11, day: 23)
        let planned = planner.handoverReminders(campaign: campaign, day: day, now: Self.date("2021-11-23T12:00:00+07:00"),
                                                devices: devices, schools: schools)
        #expect(planned.map(\.schoolCode) == ["A", "B"])
        #expect(planned.allSatisfy { $0.key.series == "handover" && $0.key.day == day && $0.language == .vietnamese })
        let payload = try HandoverReminderPayload(json: planned[1].payload)
        #expect(payload.devices.map(\.serial) == ["LT-2", "LT-3"])
        #expect(payload.devices[1].dueAt == Self.date("2021-11-23T11:00:00+07:00"))
    }

    @Test func majorityLanguageBreaksTiesTowardsTheLocalLanguage() {
        #expect(PlanningStore.majorityLanguage([.english: 2, .greek: 2]) == .greek)
        #expect(PlanningStore.majorityLanguage([.english: 3, .vietnamese: 2]) == .english)
        #expect(PlanningStore.majorityLanguage([:]) == .english)
    }
}

struct NotificationKeyTests {
    @Test func messageIDIsDerivedFromTheKeyAlone() {
        let day = LocalDay(year: 2022, month: 1, day: 14)
        let key = NotificationKey(kind: .deadlineReminder, campaign: "gr-ict-2022", series: "2022-01-21T21:59:59Z",
                                  day: day, recipient: "Mail@0551010.SCH.gr")
        #expect(key.text == "deadline_reminder/gr-ict-2022/2022-01-21T21:59:59Z/2022-01-14/mail@0551010.sch.gr")
        let id = key.messageID(domain: "schoolict.invalid")
        #expect(id == key.messageID(domain: "schoolict.invalid"))
        #expect(id.hasPrefix("<") && id.hasSuffix(".deadline_reminder@schoolict.invalid>"))
        var otherDay = key
        otherDay.day = day.adding(days: 4)
        #expect(otherDay.messageID(domain: "schoolict.invalid") != id)
    }

    @Test func messageIDDomainComesFromMailFrom() {
        #expect(NotificationKey.messageIDDomain(from: "noreply@Minedu.gov.gr") == "minedu.gov.gr")
        #expect(NotificationKey.messageIDDomain(from: "noreply") == "schoolict.invalid")
        #expect(NotificationKey.messageIDDomain(from: "a@b c>") == "schoolict.invalid")
    }

    @Test func sentEventFollowsTheContract() throws {
        let record = NotificationStore.SentRecord(dedupKey: "k", kind: .deadlineReminder, recipient: "a@b",
                                                  campaign: "c", schoolCode: "S")
        let message = NotificationEvents.sent(record)
        #expect(message.exchange == "schools.events")
        #expect(message.routingKey == "notification.sent")
        #expect(message.messageID == NotificationEvents.sent(record).messageID)
        let body = try JSONParser.parse(message.body)
        #expect(body == ["kind": "deadline_reminder", "to": "a@b", "campaign": "c", "school_code": "S", "dedup_key": "k"])
        var staff = record
        staff.schoolCode = nil
        #expect(try JSONParser.parse(NotificationEvents.sent(staff).body)["school_code"] == nil)
    }
}

struct NotificationSettingsTests {
    @Test func defaultsAndEnvironment() throws {
        let defaults = try NotificationSettings(environment: [:])
        #expect(defaults == NotificationSettings())
        let custom = try NotificationSettings(environment: ["NOTIFY_DRY_RUN": "1", "NOTIFY_SENDERS": "4",
                                                            "NOTIFY_INTERVAL_SECONDS": "0.5"])
        #expect(custom.dryRun && custom.senders == 4 && custom.planInterval == 0.5 && custom.pollInterval == 0.5)
        #expect(throws: ConfigurationError.self) { try NotificationSettings(environment: ["NOTIFY_SENDERS": "0"]) }
        #expect(throws: ConfigurationError.self) { try NotificationSettings(environment: ["NOTIFY_DRY_RUN": "maybe"]) }
    }

    @Test func retryDelaysGrowExponentiallyWithJitterUpToTheCap() {
        var settings = NotificationSettings()
        settings.retryBase = 30
        settings.retryMaximum = 3600
        #expect(settings.retryDelay(afterAttempts: 1, random: 1) == 30)
        #expect(settings.retryDelay(afterAttempts: 1, random: 0) == 15)
        #expect(settings.retryDelay(afterAttempts: 3, random: 1) == 120)
        #expect(settings.retryDelay(afterAttempts: 30, random: 1) == 3600)
        #expect((1...50).allSatisfy { _ in (15...30).contains(settings.retryDelay(afterAttempts: 1)) })
    }

    @Test func smtpErrorsClassifyByReplyCode() {
        #expect(SMTPError.code(forReply: 451) == .transient)
        #expect(SMTPError.code(forReply: 550) == .permanent)
        #expect(SMTPError.code(forReply: nil) == .connection)
        #expect(SMTPError(code: .transient, message: "").isRetryable)
        #expect(!SMTPError(code: .permanent, message: "").isRetryable)
    }
}
