import Foundation
import Shared

/// The digest each staff address gets with a round of reminders: the schools still missing, by region.
enum StaffDigestTemplate {
    static func document(_ payload: StaffDigestPayload, context: MailContext, language: Language) -> MailDocument {
        let deadline = context.deadline ?? context.dueAt
        let deadlineText = LocalizedDate.dateTime(deadline, in: context.calendar, language)
        let asOf = LocalizedDate.dateTime(context.dueAt, in: context.calendar, language)
        let missing = payload.missingCount
        let title = context.title
        var blocks: [MailDocument.Block] = []

        switch language {
        case .greek:
            blocks.append(.paragraph("Ακολουθεί η κατάσταση των υποβολών για τη δράση «\(title)», \(asOf)."))
            blocks.append(.facts([
                .init(label: "Προθεσμία", value: deadlineText),
                .init(label: "Σχολεία της δράσης", value: "\(payload.schoolsInScope)"),
                .init(label: "Χωρίς εμπρόθεσμη υποβολή", value: "\(missing)"),
            ]))
            blocks.append(.paragraph(missing == 0
                ? "Όλα τα σχολεία της δράσης έχουν υποβάλει εμπρόθεσμα."
                : "Σήμερα στάλθηκε υπενθύμιση σε καθένα από τα σχολεία αυτά, στη γλώσσα του."))
        case .vietnamese:
            blocks.append(.paragraph("Tình hình báo cáo của đợt “\(title)” tính đến \(asOf) như sau."))
            blocks.append(.facts([
                .init(label: "Hạn chót", value: deadlineText),
                .init(label: "Số trường thuộc đợt báo cáo", value: "\(payload.schoolsInScope)"),
                .init(label: "Chưa báo cáo đúng hạn", value: "\(missing)"),
            ]))
            blocks.append(.paragraph(missing == 0
                ? "Tất cả các trường đã báo cáo đúng hạn."
                : "Hôm nay hệ thống đã gửi thư nhắc đến từng trường trong danh sách dưới đây."))
        case .english:
            blocks.append(.paragraph("Here is where submissions for “\(title)” stand as of \(asOf)."))
            blocks.append(.facts([
                .init(label: "Deadline", value: deadlineText),
                .init(label: "Schools in the campaign", value: "\(payload.schoolsInScope)"),
                .init(label: "Without an on-time submission", value: "\(missing)"),
            ]))
            blocks.append(.paragraph(missing == 0
                ? "Every school in the campaign has submitted on time."
                : "Each of these schools was sent a reminder today, in its own language."))
        }

        if missing > 0 {
            let columns = switch language {
            case .greek: ["Περιφέρεια", "Χωρίς υποβολή"]
            case .vietnamese: ["Khu vực", "Chưa báo cáo"]
            case .english: ["Region", "Not submitted"]
            }
            blocks.append(.table(columns: columns, rows: payload.missing.map { [$0.region, "\($0.count)"] }))
            for group in payload.missing {
                blocks.append(.heading("\(group.region): \(Phrases.schools(group.count, language))"))
                blocks.append(.bullets(Phrases.schoolBullets(group, language)))
            }
        }
        if let previous = payload.previousDeadline {
            let previousText = LocalizedDate.dateTime(previous, in: context.calendar, language)
            let extensionNote: String = switch language {
            case .greek: "Η προθεσμία έχει μεταβληθεί· η προηγούμενη ήταν \(previousText)."
            case .vietnamese: "Hạn chót đã được điều chỉnh; hạn trước đây là \(previousText)."
            case .english: "The deadline has changed; it was previously \(previousText)."
            }
            blocks.append(.paragraph(extensionNote))
        }
        blocks.append(.note(Phrases.automaticNotice(language)))

        let subject = switch language {
        case .greek: "Σύνοψη: \(Phrases.schools(missing, language)) χωρίς εμπρόθεσμη υποβολή — \(title)"
        case .vietnamese: "Tổng hợp: \(missing) trường chưa báo cáo — \(title)"
        case .english: "Digest: \(Phrases.schools(missing, language)) not yet submitted — \(title)"
        }
        return MailDocument(language: language, subject: subject, greeting: Phrases.staffGreeting(language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
