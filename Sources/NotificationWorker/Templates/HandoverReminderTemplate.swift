import Foundation
import Shared

/// The daily reminder to a school whose allocated computers have no handover recorded after `handover_days`.
enum HandoverReminderTemplate {
    static func document(_ payload: HandoverReminderPayload, context: MailContext, language: Language) -> MailDocument {
        let count = payload.devices.count
        let title = context.title
        let within = Phrases.days(payload.handoverDays, language)
        let rows = payload.devices.map { device in
            [device.serial, device.studentRef, LocalizedDate.dateTime(device.dueAt, in: context.calendar, language)]
        }
        var blocks: [MailDocument.Block] = []
        let subject: String

        switch language {
        case .greek:
            subject = count == 1
                ? "Υπενθύμιση: 1 υπολογιστής χωρίς καταχωρισμένη παράδοση — \(title)"
                : "Υπενθύμιση: \(count) υπολογιστές χωρίς καταχωρισμένη παράδοση — \(title)"
            blocks.append(.paragraph("Οι παρακάτω υπολογιστές της δράσης «\(title)» έχουν διατεθεί στη σχολική σας "
                + "μονάδα, αλλά η παράδοσή τους στους μαθητές δεν έχει καταχωριστεί εντός της προθεσμίας των \(within):"))
            blocks.append(.table(columns: ["Σειριακός αριθμός", "Κωδικός μαθητή", "Προθεσμία καταχώρισης"], rows: rows))
            blocks.append(.paragraph("Παρακαλούμε παραδώστε τους υπολογιστές στους σωστούς μαθητές και καταχωρίστε "
                + "άμεσα κάθε παράδοση. Η υπενθύμιση αυτή αποστέλλεται καθημερινά έως ότου καταχωριστούν όλες οι "
                + "παραδόσεις."))
        case .vietnamese:
            subject = "Nhắc nhở: \(count) máy tính chưa được ghi nhận bàn giao — \(title)"
            blocks.append(.paragraph("Các máy tính dưới đây thuộc chương trình “\(title)” đã được phân bổ cho nhà "
                + "trường nhưng việc bàn giao cho học sinh chưa được ghi nhận trên hệ thống trong thời hạn \(within):"))
            blocks.append(.table(columns: ["Số sê-ri máy", "Mã học sinh", "Hạn ghi nhận"], rows: rows))
            blocks.append(.paragraph("Đề nghị nhà trường bàn giao máy cho đúng học sinh và ghi nhận ngay từng lần bàn "
                + "giao. Thư nhắc này được gửi mỗi ngày cho đến khi tất cả các máy đã được ghi nhận bàn giao."))
        case .english:
            subject = count == 1
                ? "Reminder: 1 computer without a recorded handover — \(title)"
                : "Reminder: \(count) computers without a recorded handover — \(title)"
            blocks.append(.paragraph("The computers below were allocated to your school under “\(title)”, but their "
                + "handover to students has not been recorded within \(within):"))
            blocks.append(.table(columns: ["Device serial", "Student ref", "Record by"], rows: rows))
            blocks.append(.paragraph("Please hand each computer to the right student and record each handover now. "
                + "This reminder is sent daily until every handover is recorded."))
        }
        blocks.append(.note(Phrases.automaticNotice(language)))
        return MailDocument(language: language, subject: subject,
                            greeting: Phrases.schoolGreeting(payload.school, language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
