import Foundation
import Shared

/// The digest staff get after the deadline: on time, late and missing, by region.
enum FinalDigestTemplate {
    static func document(_ payload: FinalDigestPayload, context: MailContext, language: Language) -> MailDocument {
        let deadline = context.deadline ?? context.dueAt
        let deadlineText = LocalizedDate.dateTime(deadline, in: context.calendar, language)
        let asOf = LocalizedDate.dateTime(context.dueAt, in: context.calendar, language)
        let onTime = payload.regions.reduce(0) { $0 + $1.onTime }
        let late = payload.regions.reduce(0) { $0 + $1.late.count }
        let missing = payload.regions.reduce(0) { $0 + $1.missing.count }
        let title = context.title
        var blocks: [MailDocument.Block] = []

        let columns: [String]
        let totalLabel: String
        let lateHeading: String
        let missingHeading: String
        switch language {
        case .greek:
            blocks.append(.paragraph("Η προθεσμία της δράσης «\(title)» έληξε. Ακολουθούν τα αποτελέσματα ανά "
                + "περιφέρεια, \(asOf)."))
            blocks.append(.facts([
                .init(label: "Προθεσμία", value: deadlineText),
                .init(label: "Εμπρόθεσμες υποβολές", value: "\(onTime)"),
                .init(label: "Εκπρόθεσμες υποβολές", value: "\(late)"),
                .init(label: "Χωρίς υποβολή", value: "\(missing)"),
            ]))
            columns = ["Περιφέρεια", "Εμπρόθεσμα", "Εκπρόθεσμα", "Χωρίς υποβολή"]
            totalLabel = "Σύνολο"
            lateHeading = "Εκπρόθεσμες υποβολές"
            missingHeading = "Χωρίς υποβολή"
        case .vietnamese:
            blocks.append(.paragraph("Đợt báo cáo “\(title)” đã hết hạn. Kết quả theo khu vực, tính đến \(asOf):"))
            blocks.append(.facts([
                .init(label: "Hạn chót", value: deadlineText),
                .init(label: "Báo cáo đúng hạn", value: "\(onTime)"),
                .init(label: "Báo cáo trễ hạn", value: "\(late)"),
                .init(label: "Chưa báo cáo", value: "\(missing)"),
            ]))
            columns = ["Khu vực", "Đúng hạn", "Trễ hạn", "Chưa báo cáo"]
            totalLabel = "Tổng cộng"
            lateHeading = "Trường báo cáo trễ hạn"
            missingHeading = "Trường chưa báo cáo"
        case .english:
            blocks.append(.paragraph("The deadline for “\(title)” has passed. Results by region as of \(asOf):"))
            blocks.append(.facts([
                .init(label: "Deadline", value: deadlineText),
                .init(label: "On time", value: "\(onTime)"),
                .init(label: "Late", value: "\(late)"),
                .init(label: "Missing", value: "\(missing)"),
            ]))
            columns = ["Region", "On time", "Late", "Missing"]
            totalLabel = "Total"
            lateHeading = "Late submissions"
            missingHeading = "No submission"
        }
        var rows = payload.regions.map { [$0.region, "\($0.onTime)", "\($0.late.count)", "\($0.missing.count)"] }
        rows.append([totalLabel, "\(onTime)", "\(late)", "\(missing)"])
        blocks.append(.table(columns: columns, rows: rows))

        for (heading, groups) in [(lateHeading, payload.regions.map(\.late)), (missingHeading, payload.regions.map(\.missing))] {
            let nonEmpty = groups.filter { $0.count > 0 }
            guard !nonEmpty.isEmpty else { continue }
            blocks.append(.heading(heading))
            for group in nonEmpty {
                blocks.append(.paragraph("\(group.region): \(Phrases.schools(group.count, language))"))
                blocks.append(.bullets(Phrases.schoolBullets(group, language)))
            }
        }
        if late > 0 {
            let lateNote: String = switch language {
            case .greek: "Οι εκπρόθεσμες υποβολές έχουν καταχωριστεί, αλλά δεν λογίζονται ως εμπρόθεσμες."
            case .vietnamese: "Các báo cáo trễ hạn đã được lưu lại nhưng không được tính là đúng hạn."
            case .english: "Late submissions are stored but do not count as on time."
            }
            blocks.append(.paragraph(lateNote))
        }
        blocks.append(.note(Phrases.automaticNotice(language)))

        let subject = switch language {
        case .greek: "Τελική σύνοψη: \(title) — εμπρόθεσμα \(onTime), εκπρόθεσμα \(late), χωρίς υποβολή \(missing)"
        case .vietnamese: "Tổng hợp cuối: \(title) — đúng hạn \(onTime), trễ hạn \(late), chưa báo cáo \(missing)"
        case .english: "Final digest: \(title) — on time \(onTime), late \(late), missing \(missing)"
        }
        return MailDocument(language: language, subject: subject, greeting: Phrases.staffGreeting(language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
