import Foundation
import Shared

/// What every template needs besides its payload: the campaign and the moment the e-mail is about.
struct MailContext: Sendable {
    var campaign: String
    var title: String
    var kind: CampaignKind
    var calendar: CampaignCalendar
    /// The deadline of the series (deadline e-mails); `nil` for allocation e-mails.
    var deadline: Date?
    /// When the e-mail fell due (school clock): digests report the state "as of" then.
    var dueAt: Date
}

/// Shared phrases: greetings, closings, counted nouns.
enum Phrases {
    static func schoolGreeting(_ school: SchoolRef, _ language: Language) -> String {
        switch language {
        case .greek: "Προς τη Διεύθυνση της σχολικής μονάδας «\(school.name)» (κωδικός \(school.code)),"
        case .vietnamese: "Kính gửi Ban Giám hiệu \(school.name) (mã trường \(school.code)),"
        case .english: "To the head of \(school.name) (school code \(school.code)),"
        }
    }

    static func staffGreeting(_ language: Language) -> String {
        switch language {
        case .greek: "Αγαπητές και αγαπητοί συνάδελφοι,"
        case .vietnamese: "Kính gửi quý cán bộ phụ trách,"
        case .english: "Dear colleagues,"
        }
    }

    static func closing(_ language: Language) -> [String] {
        switch language {
        case .greek: ["Με εκτίμηση,", "SchoolICT — υπηρεσία αυτόματων ειδοποιήσεων"]
        case .vietnamese: ["Trân trọng,", "SchoolICT — hệ thống thông báo tự động"]
        case .english: ["Kind regards,", "SchoolICT — automatic notifications"]
        }
    }

    static func automaticNotice(_ language: Language) -> String {
        switch language {
        case .greek: "Το μήνυμα αυτό στάλθηκε αυτόματα· παρακαλούμε μην απαντήσετε σε αυτό."
        case .vietnamese: "Đây là thư được gửi tự động, vui lòng không trả lời thư này."
        case .english: "This message was sent automatically; please do not reply to it."
        }
    }

    /// `1 σχολείο` / `3 σχολεία` · `3 trường` · `1 school` / `3 schools`.
    static func schools(_ count: Int, _ language: Language) -> String {
        switch language {
        case .greek: count == 1 ? "1 σχολείο" : "\(count) σχολεία"
        case .vietnamese: "\(count) trường"
        case .english: count == 1 ? "1 school" : "\(count) schools"
        }
    }

    /// Accusative in Greek (`λαμβάνει 1 υπολογιστή`): `1 υπολογιστή` / `3 υπολογιστές` · `3 máy tính` · `3 computers`.
    static func computers(_ count: Int, _ language: Language) -> String {
        switch language {
        case .greek: count == 1 ? "1 υπολογιστή" : "\(count) υπολογιστές"
        case .vietnamese: "\(count) máy tính"
        case .english: count == 1 ? "1 computer" : "\(count) computers"
        }
    }

    /// `1 ημέρα` / `2 ημέρες` · `2 ngày` · `1 day` / `2 days`.
    static func days(_ count: Int, _ language: Language) -> String {
        switch language {
        case .greek: count == 1 ? "1 ημέρα" : "\(count) ημέρες"
        case .vietnamese: "\(count) ngày"
        case .english: count == 1 ? "1 day" : "\(count) days"
        }
    }

    /// `… και ακόμη 12 σχολεία` when a digest list was cut short.
    static func andMore(_ count: Int, _ language: Language) -> String {
        switch language {
        case .greek: "… και ακόμη \(schools(count, language))"
        case .vietnamese: "… và \(count) trường khác"
        case .english: "… and \(count) more"
        }
    }

    static func schoolLine(_ school: SchoolRef) -> String { "\(school.code) — \(school.name)" }

    /// A region's schools as bullet lines, with the remainder counted when the list was cut short.
    static func schoolBullets(_ group: RegionSchools, _ language: Language) -> [String] {
        var lines = group.schools.map(schoolLine)
        if group.count > group.schools.count { lines.append(andMore(group.count - group.schools.count, language)) }
        return lines
    }
}
