import Foundation
import Shared

/// Dates and times as a reader of each language expects them, in the campaign's time zone. Written out from
/// tables rather than through a locale database, so the text is the same on every machine.
enum LocalizedDate {
    /// `Παρασκευή 21 Ιανουαρίου 2022` · `thứ Sáu, ngày 21/01/2022` · `Friday 21 January 2022`.
    static func day(_ day: LocalDay, _ language: Language) -> String {
        switch language {
        case .greek:
            "\(greekWeekdays[day.weekday]) \(day.day) \(greekMonthsGenitive[day.month - 1]) \(day.year)"
        case .vietnamese:
            "\(vietnameseWeekdays[day.weekday]), ngày \(pad(day.day))/\(pad(day.month))/\(day.year)"
        case .english:
            "\(englishWeekdays[day.weekday]) \(day.day) \(englishMonths[day.month - 1]) \(day.year)"
        }
    }

    /// The short form for subjects: `Παρ. 21/01/2022` · `21/01/2022` · `21 Jan 2022`.
    static func shortDay(_ day: LocalDay, _ language: Language) -> String {
        switch language {
        case .greek, .vietnamese: "\(pad(day.day))/\(pad(day.month))/\(day.year)"
        case .english: "\(day.day) \(englishMonths[day.month - 1].prefix(3)) \(day.year)"
        }
    }

    /// The date, the time of day and the zone:
    /// `Παρασκευή 21 Ιανουαρίου 2022, 23:59 (ώρα Ελλάδας, UTC+02:00)` ·
    /// `23:59, thứ Sáu, ngày 21/01/2022 (giờ Việt Nam, UTC+07:00)` ·
    /// `Friday 21 January 2022, 23:59 (Athens time, UTC+02:00)`.
    static func dateTime(_ date: Date, in calendar: CampaignCalendar, _ language: Language) -> String {
        let wall = calendar.wallTime(of: date)
        let zone = "(\(zoneName(calendar.identifier, language)), \(wall.offsetLabel))"
        switch language {
        case .vietnamese: return "\(wall.clock), \(day(wall.day, language)) \(zone)"
        case .greek, .english: return "\(day(wall.day, language)), \(wall.clock) \(zone)"
        }
    }

    /// The zone as people call it (`ώρα Ελλάδας`, `giờ Việt Nam`), or its IANA name.
    static func zoneName(_ identifier: String, _ language: Language) -> String {
        switch (identifier, language) {
        case ("Europe/Athens", .greek): "ώρα Ελλάδας"
        case ("Europe/Athens", .vietnamese): "giờ Hy Lạp"
        case ("Europe/Athens", .english): "Athens time"
        case ("Asia/Ho_Chi_Minh", .greek), ("Asia/Saigon", .greek): "ώρα Βιετνάμ"
        case ("Asia/Ho_Chi_Minh", .vietnamese), ("Asia/Saigon", .vietnamese): "giờ Việt Nam"
        case ("Asia/Ho_Chi_Minh", .english), ("Asia/Saigon", .english): "Vietnam time"
        case (_, .greek): "ώρα \(identifier)"
        case (_, .vietnamese): "giờ \(identifier)"
        case (_, .english): "\(identifier) time"
        }
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    static let greekWeekdays = ["Κυριακή", "Δευτέρα", "Τρίτη", "Τετάρτη", "Πέμπτη", "Παρασκευή", "Σάββατο"]
    static let greekMonthsGenitive = [
        "Ιανουαρίου", "Φεβρουαρίου", "Μαρτίου", "Απριλίου", "Μαΐου", "Ιουνίου",
        "Ιουλίου", "Αυγούστου", "Σεπτεμβρίου", "Οκτωβρίου", "Νοεμβρίου", "Δεκεμβρίου",
    ]
    static let vietnameseWeekdays = ["Chủ nhật", "thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy"]
    static let englishWeekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let englishMonths = [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ]
}
