import Foundation
import Testing

@testable import Shared

@Suite("ISO8601")
struct ISO8601Tests {
    struct ValidCase: Sendable, CustomTestStringConvertible {
        var text: String
        var epochSeconds: Double
        var offsetSeconds: Int
        var local: (year: Int, month: Int, day: Int)
        var testDescription: String { text }
    }

    static let validCases: [ValidCase] = [
        .init(
            text: "2022-01-14T08:00:00+02:00",
            epochSeconds: 1_642_140_000,
            offsetSeconds: 7200,
            local: (2022, 1, 14)
        ),
        .init(text: "2022-01-14T06:00:00Z", epochSeconds: 1_642_140_000, offsetSeconds: 0, local: (2022, 1, 14)),
        .init(text: "2022-01-14t06:00:00z", epochSeconds: 1_642_140_000, offsetSeconds: 0, local: (2022, 1, 14)),
        .init(text: "2022-01-14T08:00:00+0200", epochSeconds: 1_642_140_000, offsetSeconds: 7200, local: (2022, 1, 14)),
        .init(
            text: "2022-01-14T01:00:00-05:00",
            epochSeconds: 1_642_140_000,
            offsetSeconds: -18000,
            local: (2022, 1, 14)
        ),
        .init(
            text: "2021-11-18T10:00:00+07:00",
            epochSeconds: 1_637_204_400,
            offsetSeconds: 25200,
            local: (2021, 11, 18)
        ),
        .init(text: "2022-01-14T06:00:00.5Z", epochSeconds: 1_642_140_000.5, offsetSeconds: 0, local: (2022, 1, 14)),
        .init(
            text: "2022-01-14T06:00:00.123456789Z",
            epochSeconds: 1_642_140_000.123456789,
            offsetSeconds: 0,
            local: (2022, 1, 14)
        ),
        .init(
            text: "2022-01-14T11:45:00+05:45",
            epochSeconds: 1_642_140_000,
            offsetSeconds: 20700,
            local: (2022, 1, 14)
        ),
        .init(text: "1970-01-01T00:00:00Z", epochSeconds: 0, offsetSeconds: 0, local: (1970, 1, 1)),
        .init(text: "1969-12-31T23:59:59Z", epochSeconds: -1, offsetSeconds: 0, local: (1969, 12, 31)),
        .init(text: "2024-02-29T12:00:00Z", epochSeconds: 1_709_208_000, offsetSeconds: 0, local: (2024, 2, 29)),
        .init(text: "2000-02-29T00:00:00Z", epochSeconds: 951_782_400, offsetSeconds: 0, local: (2000, 2, 29)),
        .init(text: "2016-12-31T23:59:60Z", epochSeconds: 1_483_228_800, offsetSeconds: 0, local: (2016, 12, 31)),
        .init(text: "2022-01-01T00:30:00+02:00", epochSeconds: 1_640_989_800, offsetSeconds: 7200, local: (2022, 1, 1)),
    ]

    @Test("valid timestamps parse to the right instant, offset and local date", arguments: validCases)
    func parsesValid(_ testCase: ValidCase) throws {
        let parsed = try #require(ISO8601.parse(testCase.text))
        #expect(abs(parsed.date.timeIntervalSince1970 - testCase.epochSeconds) < 1e-6)
        #expect(parsed.offsetSeconds == testCase.offsetSeconds)
        #expect(parsed.localYear == testCase.local.year)
        #expect(parsed.localMonth == testCase.local.month)
        #expect(parsed.localDay == testCase.local.day)
    }

    @Test(
        "invalid timestamps are rejected",
        arguments: [
            "",
            "garbage",
            "2022-01-14",
            "2022-01-14T08:00:00",  // no offset
            "2022-01-14T08:00:00.123",  // no offset
            "2022-01-14 08:00:00Z",  // space separator
            "2022-01-14T08:00Z",  // no seconds
            "2023-02-29T00:00:00Z",  // not a leap year
            "1900-02-29T00:00:00Z",  // century, not a leap year
            "2022-04-31T00:00:00Z",
            "2022-13-01T00:00:00Z",
            "2022-00-01T00:00:00Z",
            "2022-01-00T00:00:00Z",
            "2022-01-32T00:00:00Z",
            "2022-01-14T24:00:00Z",
            "2022-01-14T23:60:00Z",
            "2022-01-14T23:59:61Z",
            "2022-01-14T08:00:00.Z",  // empty fraction
            "2022-01-14T08:00:00+2:00",
            "2022-01-14T08:00:00+02",
            "2022-01-14T08:00:00+02:60",
            "2022-01-14T08:00:00+24:00",
            "2022-01-14T08:00:00+02:00 ",  // trailing space
            " 2022-01-14T08:00:00+02:00",
            "2022-01-14T08:00:00Zjunk",
            "22-01-14T08:00:00Z",
            "2022-1-14T08:00:00Z",
            "２０２２-01-14T08:00:00Z",  // full-width digits
        ]
    )
    func rejectsInvalid(_ text: String) {
        #expect(ISO8601.parse(text) == nil)
    }

    @Test("leap day exists in 2024 but not in 2023")
    func leapDays() {
        #expect(ISO8601.parse("2024-02-29T00:00:00+07:00") != nil)
        #expect(ISO8601.parse("2023-02-29T00:00:00+07:00") == nil)
    }

    @Test("the local year is the timestamp's own, even when UTC is in another year")
    func localYearAcrossBoundary() throws {
        let parsed = try #require(ISO8601.parse("2022-01-01T00:30:00+02:00"))
        #expect(parsed.localYear == 2022)
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        #expect(utc.component(.year, from: parsed.date) == 2021)
    }

    @Test("parses substrings without copying them first")
    func parsesSubstring() throws {
        let line = "submitted_at=2022-01-14T08:00:00+02:00;"
        let start = line.index(line.startIndex, offsetBy: 13)
        let end = line.index(before: line.endIndex)
        let parsed = try #require(ISO8601.parse(line[start..<end]))
        #expect(parsed.date.timeIntervalSince1970 == 1_642_140_000)
    }

    @Test(
        "formats in the requested offset",
        arguments: [
            (1_642_802_399.0, 7200, "2022-01-21T23:59:59+02:00"),
            (1_642_802_399.0, 0, "2022-01-21T21:59:59Z"),
            (1_642_802_399.25, 0, "2022-01-21T21:59:59.250Z"),
            (1_637_204_400.0, 25200, "2021-11-18T10:00:00+07:00"),
            (1_642_140_000.0, -18000, "2022-01-14T01:00:00-05:00"),
            (1_642_140_000.0, 20700, "2022-01-14T11:45:00+05:45"),
            (-1.0, 0, "1969-12-31T23:59:59Z"),
        ]
    )
    func formats(epochSeconds: Double, offsetSeconds: Int, expected: String) {
        #expect(ISO8601.format(Date(timeIntervalSince1970: epochSeconds), offsetSeconds: offsetSeconds) == expected)
    }

    @Test(
        "format and parse round-trip",
        arguments: [
            "2022-01-21T23:59:59+02:00",
            "2021-11-18T10:00:00+07:00",
            "2024-02-29T00:00:00Z",
            "2022-01-14T06:00:00.123Z",
            "1999-12-31T23:59:59.999-03:30",
        ]
    )
    func roundTrip(_ text: String) throws {
        let parsed = try #require(ISO8601.parse(text))
        #expect(ISO8601.format(parsed.date, offsetSeconds: parsed.offsetSeconds) == text)
    }

    @Test("calendar arithmetic agrees with itself across four centuries")
    func civilRoundTrip() {
        for days in stride(from: -146_097, through: 146_097 * 2, by: 37) {
            let (year, month, day) = CivilCalendar.date(fromDaysSinceEpoch: days)
            #expect(CivilCalendar.daysSinceEpoch(year: year, month: month, day: day) == days)
            #expect(day <= CivilCalendar.daysInMonth(month, year: year))
        }
    }
}
