import Foundation

/// Wall-clock time in a campaign's IANA time zone: which local day an instant falls on, and which instant a local
/// time of day is.
struct CampaignCalendar: Sendable {
    let timeZone: TimeZone
    private let calendar: Calendar

    /// `nil` for a name the system's time-zone database does not know.
    init?(identifier: String) {
        guard let timeZone = TimeZone(identifier: identifier) else { return nil }
        self.init(timeZone: timeZone)
    }

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// The IANA name, e.g. `Europe/Athens`.
    var identifier: String { timeZone.identifier }

    /// The local day `date` falls on.
    func day(of date: Date) -> LocalDay {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return LocalDay(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    /// The local date and time of `date`, to the minute.
    func wallTime(of date: Date) -> WallTime {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return WallTime(day: LocalDay(year: parts.year!, month: parts.month!, day: parts.day!),
                        hour: parts.hour!, minute: parts.minute!,
                        offsetSeconds: timeZone.secondsFromGMT(for: date))
    }

    /// The instant the local clock shows `hour:minute` on `day`. On a day when the clocks jump forward over that
    /// time, the first instant after the gap.
    func instant(of day: LocalDay, hour: Int, minute: Int = 0) -> Date {
        let parts = DateComponents(year: day.year, month: day.month, day: day.day, hour: hour, minute: minute)
        if let date = calendar.date(from: parts) { return date }
        // Not reachable for the hours used here; keep a defined answer anyway: UTC at that time.
        let offset = timeZone.secondsFromGMT()
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        return utc.date(from: parts)!.addingTimeInterval(Double(-offset))
    }
}

/// A local date and time of day, with the UTC offset in force then.
struct WallTime: Sendable, Equatable {
    var day: LocalDay
    var hour: Int
    var minute: Int
    var offsetSeconds: Int

    /// `UTC+02:00`.
    var offsetLabel: String {
        let minutes = abs(offsetSeconds) / 60
        let sign = offsetSeconds < 0 ? "-" : "+"
        return "UTC\(sign)\(Self.pad(minutes / 60)):\(Self.pad(minutes % 60))"
    }

    /// `23:59`.
    var clock: String { "\(Self.pad(hour)):\(Self.pad(minute))" }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
