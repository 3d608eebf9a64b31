import Foundation
import Shared
import Testing

@testable import NotificationWorker

/// The reminder schedule as pure functions of the campaign and the clock.
struct ReminderScheduleTests {
    static let athens = CampaignCalendar(identifier: "Europe/Athens")!
    static let hoChiMinh = CampaignCalendar(identifier: "Asia/Ho_Chi_Minh")!

    static func date(_ text: String) -> Date { ISO8601.parse(text)!.date }

    /// The Greek circular: open from 10 January 2022, due Friday 21 January 2022.
    static let greek = DeadlineSeries(campaign: "gr-ict-2022", deadline: date("2022-01-21T23:59:59+02:00"),
                                      opensAt: date("2022-01-10T00:00:00+02:00"), reminderDays: [7, 3, 1],
                                      calendar: athens)

    /// The Vietnamese letter of 17 November 2021: needs reports due by 20 November 2021.
    static let vietnamese = DeadlineSeries(campaign: "vn-song-2021", deadline: date("2021-11-20T23:59:59+07:00"),
                                           opensAt: date("2021-11-17T00:00:00+07:00"), reminderDays: [7, 3, 1],
                                           calendar: hoChiMinh)

    @Test func greekSlotsAreAtNineInAthensSevenThreeAndOneDayBefore() {
        let slots = ReminderSchedule.slots(of: Self.greek)
        #expect(slots.map(\.daysBefore) == [7, 3, 1])
        #expect(slots.map(\.day.description) == ["2022-01-14", "2022-01-18", "2022-01-20"])
        #expect(slots.map(\.dueAt) == [Self.date("2022-01-14T07:00:00Z"), Self.date("2022-01-18T07:00:00Z"),
                                       Self.date("2022-01-20T07:00:00Z")])
    }

    @Test func nothingIsDueBeforeTheFirstSlot() {
        #expect(ReminderSchedule.dueReminder(of: Self.greek, at: Self.date("2022-01-14T08:59:59+02:00")) == nil)
        let due = ReminderSchedule.dueReminder(of: Self.greek, at: Self.date("2022-01-14T09:00:00+02:00"))
        #expect(due?.daysBefore == 7)
    }

    @Test func catchUpPicksOnlyTheLatestSlotReached() {
        // A worker that was down from before T-7 until after T-3 sends T-3 only.
        let due = ReminderSchedule.dueReminder(of: Self.greek, at: Self.date("2022-01-19T15:00:00+02:00"))
        #expect(due?.daysBefore == 3)
        #expect(due?.day == LocalDay(year: 2022, month: 1, day: 18))
        let lastDay = ReminderSchedule.dueReminder(of: Self.greek, at: Self.date("2022-01-21T23:00:00+02:00"))
        #expect(lastDay?.daysBefore == 1)
    }

    @Test func noReminderOnceTheDeadlineHasPassed() {
        #expect(ReminderSchedule.dueReminder(of: Self.greek, at: Self.date("2022-01-22T00:00:00+02:00")) == nil)
    }

    @Test func anExtensionIsASeriesOfItsOwn() {
        var extended = Self.greek
        extended.deadline = Self.date("2022-01-31T23:59:59+02:00")
        #expect(extended.id != Self.greek.id)
        #expect(extended.id == "2022-01-31T21:59:59Z")
        #expect(ReminderSchedule.slots(of: extended).map(\.day.description) == ["2022-01-24", "2022-01-28", "2022-01-30"])
        // Between the old deadline and the new series' first slot nothing is due.
        #expect(ReminderSchedule.dueReminder(of: extended, at: Self.date("2022-01-22T10:00:00+02:00")) == nil)
        // The old series' T-1 slot belongs to the old deadline only.
        #expect(ReminderSchedule.dueReminder(of: extended, at: Self.date("2022-01-20T10:00:00+02:00")) == nil)
        #expect(ReminderSchedule.dueReminder(of: extended, at: Self.date("2022-01-24T09:00:00+02:00"))?.daysBefore == 7)
    }

    @Test func vietnameseSlotsBeforeTheCampaignOpensAreDropped() {
        let slots = ReminderSchedule.slots(of: Self.vietnamese)
        #expect(slots.map(\.daysBefore) == [3, 1])
        #expect(slots.map(\.dueAt) == [Self.date("2021-11-17T02:00:00Z"), Self.date("2021-11-19T02:00:00Z")])
    }

    @Test func theDeadlinesLocalDayCountsNotItsUTCDay() {
        // 00:30 on 20 November in Hồ Chí Minh City is still 19 November in UTC.
        var series = Self.vietnamese
        series.deadline = Self.date("2021-11-20T00:30:00+07:00")
        series.opensAt = Self.date("2021-11-01T00:00:00+07:00")
        #expect(series.deadlineDay == LocalDay(year: 2021, month: 11, day: 20))
        #expect(ReminderSchedule.slots(of: series).last?.dueAt == Self.date("2021-11-19T09:00:00+07:00"))
    }

    @Test func daylightSavingTimeMovesTheUTCInstantNotTheLocalHour() {
        // Athens moved to summer time on Sunday 27 March 2022.
        let series = DeadlineSeries(campaign: "c", deadline: Self.date("2022-04-01T23:59:59+03:00"),
                                    opensAt: Self.date("2022-03-01T00:00:00+02:00"), reminderDays: [7, 3],
                                    calendar: Self.athens)
        #expect(ReminderSchedule.slots(of: series).map(\.dueAt)
                == [Self.date("2022-03-25T07:00:00Z"), Self.date("2022-03-29T06:00:00Z")])
    }

    @Test func aSlotAtOrAfterTheDeadlineIsDropped() {
        var series = Self.greek
        series.reminderDays = [0, 1]
        series.deadline = Self.date("2022-01-21T08:00:00+02:00")
        #expect(ReminderSchedule.slots(of: series).map(\.daysBefore) == [1])
        series.deadline = Self.date("2022-01-21T18:00:00+02:00")
        #expect(ReminderSchedule.slots(of: series).map(\.daysBefore) == [1, 0])
    }

    @Test func duplicateAndNegativeReminderDaysAreIgnored() {
        var series = Self.greek
        series.reminderDays = [3, 7, 3, -1]
        #expect(ReminderSchedule.slots(of: series).map(\.daysBefore) == [7, 3])
    }

    @Test func finalDigestIsTheMorningAfterTheDeadlineAndIsCaughtUpForAWhile() {
        let slot = ReminderSchedule.finalDigest(of: Self.greek)
        #expect(slot.day == LocalDay(year: 2022, month: 1, day: 22))
        #expect(slot.dueAt == Self.date("2022-01-22T09:00:00+02:00"))
        #expect(ReminderSchedule.dueFinalDigest(of: Self.greek, at: Self.date("2022-01-22T08:59:00+02:00")) == nil)
        #expect(ReminderSchedule.dueFinalDigest(of: Self.greek, at: Self.date("2022-01-25T12:00:00+02:00")) == slot)
        #expect(ReminderSchedule.dueFinalDigest(of: Self.greek, at: Self.date("2022-03-01T12:00:00+02:00")) == nil)
        #expect(ReminderSchedule.isOpen(Self.greek, at: Self.date("2022-02-20T00:00:00+02:00")))
        #expect(!ReminderSchedule.isOpen(Self.greek, at: Self.date("2022-02-22T00:00:00+02:00")))
    }

    @Test func handoverRemindersStartAtNineLocalTime() {
        #expect(ReminderSchedule.handoverDay(at: Self.date("2021-11-23T08:59:00+07:00"), calendar: Self.hoChiMinh) == nil)
        #expect(ReminderSchedule.handoverDay(at: Self.date("2021-11-23T09:00:00+07:00"), calendar: Self.hoChiMinh)
                == LocalDay(year: 2021, month: 11, day: 23))
        // 02:30 UTC on the 23rd is 09:30 in Vietnam but 04:30 in Athens.
        let instant = Self.date("2021-11-23T02:30:00Z")
        #expect(ReminderSchedule.handoverDay(at: instant, calendar: Self.hoChiMinh) != nil)
        #expect(ReminderSchedule.handoverDay(at: instant, calendar: Self.athens) == nil)
        #expect(ReminderSchedule.handoverOverdue(allocatedAt: Self.date("2021-11-22T10:00:00+07:00"), handoverDays: 1)
                == Self.date("2021-11-23T10:00:00+07:00"))
    }
}

struct LocalDayTests {
    @Test func arithmeticCrossesMonthsYearsAndLeapDays() {
        let day = LocalDay(year: 2022, month: 1, day: 21)
        #expect(day.adding(days: -7).description == "2022-01-14")
        #expect(day.adding(days: 11).description == "2022-02-01")
        #expect(LocalDay(year: 2024, month: 2, day: 28).adding(days: 1).description == "2024-02-29")
        #expect(LocalDay(year: 2023, month: 2, day: 28).adding(days: 1).description == "2023-03-01")
        #expect(LocalDay(year: 2021, month: 12, day: 31).adding(days: 1).description == "2022-01-01")
        #expect(LocalDay(year: 2022, month: 1, day: 31).days(since: LocalDay(year: 2021, month: 11, day: 20)) == 72)
    }

    @Test func weekdays() {
        #expect(LocalDay(year: 2022, month: 1, day: 21).weekday == 5)  // Friday
        #expect(LocalDay(year: 2021, month: 11, day: 20).weekday == 6)  // Saturday
        #expect(LocalDay(year: 1970, month: 1, day: 1).weekday == 4)  // Thursday
        #expect(LocalDay(year: 1969, month: 12, day: 28).weekday == 0)  // Sunday
    }

    @Test func parsesOnlyValidISODates() {
        #expect(LocalDay(iso: "2022-01-21") == LocalDay(year: 2022, month: 1, day: 21))
        #expect(LocalDay(iso: "2022-02-29") == nil)
        #expect(LocalDay(iso: "2022-1-21") == nil)
        #expect(LocalDay(iso: "21/01/2022") == nil)
        #expect(LocalDay(year: 2022, month: 1, day: 1) < LocalDay(year: 2022, month: 1, day: 2))
    }
}
