import Foundation
import Shared

/// The e-mail staff get on `allocation.completed`: the run's totals and the schools that received computers.
enum AllocationSummaryTemplate {
    static func document(_ payload: AllocationSummaryPayload, context: MailContext, language: Language) -> MailDocument {
        let title = context.title
        let receiving = payload.schools.filter { $0.devices > 0 }
        let rows = receiving.map { [$0.code, "\($0.devices)"] }
        var blocks: [MailDocument.Block] = []
        let subject: String

        switch language {
        case .greek:
            subject = "Αποτελέσματα κατανομής \(payload.runID): \(Phrases.computers(payload.allocated, language)) σε "
                + "\(Phrases.schools(receiving.count, language)) — \(title)"
            blocks.append(.paragraph("Η κατανομή \(payload.runID) της δράσης «\(title)» ολοκληρώθηκε."))
            blocks.append(.facts([
                .init(label: "Υπολογιστές που κατανεμήθηκαν", value: "\(payload.allocated)"),
                .init(label: "Σχολεία που λαμβάνουν", value: "\(receiving.count)"),
                .init(label: "Δικαιούχοι μαθητές σε αναμονή", value: "\(payload.waiting)"),
            ]))
            if !rows.isEmpty { blocks.append(.table(columns: ["Σχολείο", "Υπολογιστές"], rows: rows)) }
        case .vietnamese:
            subject = "Kết quả phân bổ \(payload.runID): \(payload.allocated) máy tính cho \(receiving.count) trường — \(title)"
            blocks.append(.paragraph("Đợt phân bổ \(payload.runID) của chương trình “\(title)” đã hoàn tất."))
            blocks.append(.facts([
                .init(label: "Số máy đã phân bổ", value: "\(payload.allocated)"),
                .init(label: "Số trường nhận máy", value: "\(receiving.count)"),
                .init(label: "Học sinh đủ điều kiện còn chờ máy", value: "\(payload.waiting)"),
            ]))
            if !rows.isEmpty { blocks.append(.table(columns: ["Mã trường", "Số máy"], rows: rows)) }
        case .english:
            subject = "Allocation run \(payload.runID): \(Phrases.computers(payload.allocated, language)) to "
                + "\(Phrases.schools(receiving.count, language)) — \(title)"
            blocks.append(.paragraph("Allocation run \(payload.runID) of “\(title)” has finished."))
            blocks.append(.facts([
                .init(label: "Computers allocated", value: "\(payload.allocated)"),
                .init(label: "Schools receiving computers", value: "\(receiving.count)"),
                .init(label: "Eligible students still waiting", value: "\(payload.waiting)"),
            ]))
            if !rows.isEmpty { blocks.append(.table(columns: ["School", "Computers"], rows: rows)) }
        }
        blocks.append(.note(Phrases.automaticNotice(language)))
        return MailDocument(language: language, subject: subject, greeting: Phrases.staffGreeting(language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
