import Foundation

/// Strict ISO 8601 timestamps, as the message contract uses them: a date, a time and a required offset.
///
/// The parser is hand-written over UTF-8 bytes with integer calendar arithmetic, because every submission
/// carries several timestamps and `ISO8601DateFormatter` is an order of magnitude slower (and lenient in
/// ways the contract is not).
public enum ISO8601 {
    /// A parsed timestamp: the instant, and the calendar date it names in its own offset.
    public struct ParsedTimestamp: Sendable, Equatable {
        /// The instant.
        public var date: Date
        /// The offset from UTC the timestamp was written in, in seconds (east positive).
        public var offsetSeconds: Int
        /// The calendar year in the timestamp's own offset (`2022-01-01T00:30:00+02:00` → 2022).
        public var localYear: Int
        /// The calendar month (1–12) in the timestamp's own offset.
        public var localMonth: Int
        /// The day of the month (1–31) in the timestamp's own offset.
        public var localDay: Int

        public init(date: Date, offsetSeconds: Int, localYear: Int, localMonth: Int, localDay: Int) {
            self.date = date
            self.offsetSeconds = offsetSeconds
            self.localYear = localYear
            self.localMonth = localMonth
            self.localDay = localDay
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`.
    ///
    /// The offset is required; the separator may be `T` or `t`, the UTC designator `Z` or `z`; any number of
    /// fraction digits is accepted (nanoseconds are kept). Month, day (leap years included), hour 0–23,
    /// minute 0–59 and second 0–60 are validated. Returns `nil` for anything else, including surrounding
    /// whitespace.
    public static func parse(_ text: some StringProtocol) -> ParsedTimestamp? {
        if let parsed = text.utf8.withContiguousStorageIfAvailable({ parse(bytes: $0) }) {
            return parsed
        }
        return Array(text.utf8).withUnsafeBufferPointer { parse(bytes: $0) }
    }

    /// Formats `date` as `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)` in the given offset.
    ///
    /// Milliseconds appear only when non-zero; an offset of zero is written `Z`. Offsets are written to the
    /// minute (any seconds part is dropped from the designator but not from the local time).
    public static func format(_ date: Date, offsetSeconds: Int = 0) -> String {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let (utcSeconds, milliseconds) = floorDivide(totalMilliseconds, 1000)
        let (days, secondOfDay) = floorDivide(utcSeconds + offsetSeconds, 86_400)
        let (year, month, day) = CivilCalendar.date(fromDaysSinceEpoch: days)

        var bytes = [UInt8]()
        bytes.reserveCapacity(29)
        if year < 0 { bytes.append(UInt8(ascii: "-")) }
        append(abs(year), width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        append(month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        append(day, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        append(secondOfDay / 3600, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay / 60 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay % 60, width: 2, to: &bytes)
        if milliseconds != 0 {
            bytes.append(UInt8(ascii: "."))
            append(milliseconds, width: 3, to: &bytes)
        }
        let offsetMinutes = offsetSeconds / 60
        if offsetMinutes == 0 {
            bytes.append(UInt8(ascii: "Z"))
        } else {
            bytes.append(offsetMinutes < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            append(abs(offsetMinutes) / 60, width: 2, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            append(abs(offsetMinutes) % 60, width: 2, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Byte-level parsing

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> ParsedTimestamp? {
        var cursor = Cursor(bytes: bytes)
        guard let year = cursor.digits(4), cursor.expect(UInt8(ascii: "-")),
            let month = cursor.digits(2), cursor.expect(UInt8(ascii: "-")),
            let day = cursor.digits(2),
            cursor.expect(UInt8(ascii: "T")) || cursor.expect(UInt8(ascii: "t")),
            let hour = cursor.digits(2), cursor.expect(UInt8(ascii: ":")),
            let minute = cursor.digits(2), cursor.expect(UInt8(ascii: ":")),
            let second = cursor.digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysInMonth(month, year: year),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }

        var nanoseconds = 0
        if cursor.expect(UInt8(ascii: ".")) {
            var count = 0
            while let digit = cursor.digit() {
                if count < 9 { nanoseconds = nanoseconds * 10 + digit }
                count += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanoseconds *= 10 }
        }

        let offsetSeconds: Int
        if cursor.expect(UInt8(ascii: "Z")) || cursor.expect(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else {
            let sign: Int
            if cursor.expect(UInt8(ascii: "+")) {
                sign = 1
            } else if cursor.expect(UInt8(ascii: "-")) {
                sign = -1
            } else {
                return nil
            }
            guard let offsetHours = cursor.digits(2) else { return nil }
            _ = cursor.expect(UInt8(ascii: ":"))
            guard let offsetMinutes = cursor.digits(2), offsetHours <= 23, offsetMinutes <= 59 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard cursor.isAtEnd else { return nil }

        let localSeconds =
            CivilCalendar.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        let utcSeconds = localSeconds - offsetSeconds
        let interval = Double(utcSeconds) + Double(nanoseconds) / 1_000_000_000
        return ParsedTimestamp(
            date: Date(timeIntervalSince1970: interval),
            offsetSeconds: offsetSeconds,
            localYear: year,
            localMonth: month,
            localDay: day
        )
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var isAtEnd: Bool { index == bytes.count }

        mutating func expect(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func digit() -> Int? {
            guard index < bytes.count else { return nil }
            let value = Int(bytes[index]) &- 48
            guard value >= 0, value <= 9 else { return nil }
            index += 1
            return value
        }

        /// Exactly `count` ASCII digits, or `nil` (leaving the cursor wherever it stopped: callers give up).
        mutating func digits(_ count: Int) -> Int? {
            var value = 0
            for _ in 0..<count {
                guard let next = digit() else { return nil }
                value = value * 10 + next
            }
            return value
        }
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> (quotient: Int, remainder: Int) {
        let remainder = value % divisor
        return remainder < 0 ? (value / divisor - 1, remainder + divisor) : (value / divisor, remainder)
    }

    /// Appends `value` zero-padded to `width` digits (wider values are written in full).
    private static func append(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        var remaining = value
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var position = bytes.count - 1
        while position >= start, remaining > 0 {
            bytes[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            position -= 1
        }
        if remaining > 0 {
            bytes.removeSubrange(start...)
            bytes.append(contentsOf: String(value).utf8)
        }
    }
}
