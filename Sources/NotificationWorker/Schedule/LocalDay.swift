import Shared

/// A calendar day in a campaign's time zone, e.g. 21 January 2022 in Athens.
///
/// Day arithmetic is done on the proleptic Gregorian day count, so adding days never passes through a time of
/// day and is immune to daylight-saving changes.
struct LocalDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    let year: Int
    let month: Int
    let day: Int

    init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` (PostgreSQL's `date` output).
    init?(iso text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// `YYYY-MM-DD`.
    var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// The day `days` later (earlier when negative).
    func adding(days: Int) -> LocalDay {
        Self(dayNumber: dayNumber + days)
    }

    /// Whole days from `other` to this day.
    func days(since other: LocalDay) -> Int {
        dayNumber - other.dayNumber
    }

    /// 0 = Sunday … 6 = Saturday.
    var weekday: Int {
        // 1970-01-01 (day 0) was a Thursday.
        ((dayNumber % 7) + 7 + 4) % 7
    }

    static func < (lhs: LocalDay, rhs: LocalDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    // MARK: Day numbers (days since 1970-01-01), after H. Hinnant's civil-date algorithms

    private var dayNumber: Int {
        CivilCalendar.daysSinceEpoch(year: year, month: month, day: day)
    }

    private init(dayNumber: Int) {
        let (year, month, day) = CivilCalendar.date(fromDaysSinceEpoch: dayNumber)
        self.init(year: year, month: month, day: day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        CivilCalendar.daysInMonth(month, year: year)
    }
}
