import Foundation
import Shared

/// The e-mail a school gets on `allocation.school`: how many computers, for which student refs, and the handover
/// rule. Student refs only: a student's name never leaves the database.
enum AllocationNoticeTemplate {
    static func document(_ payload: AllocationNoticePayload, context: MailContext, language: Language) -> MailDocument {
        let count = payload.allocations.count
        let due = LocalizedDate.dateTime(payload.handoverDueAt, in: context.calendar, language)
        let title = context.title
        let rows = payload.allocations.map { [$0.studentRef, $0.deviceSerial] }
        let within = Phrases.days(payload.handoverDays, language)
        var blocks: [MailDocument.Block] = []
        let subject: String

        switch language {
        case .greek:
            subject = "Κατανομή υπολογιστών: το σχολείο σας λαμβάνει \(Phrases.computers(count, language)) — \(title)"
            blocks.append(.paragraph("Στο πλαίσιο της δράσης «\(title)» (κατανομή \(payload.runID)), η σχολική σας "
                + "μονάδα λαμβάνει \(Phrases.computers(count, language)) για τους παρακάτω μαθητές, "
                + "που αναφέρονται με τον κωδικό τους:"))
            blocks.append(.table(columns: ["Κωδικός μαθητή", "Σειριακός αριθμός υπολογιστή"], rows: rows))
            blocks.append(.heading("Τι πρέπει να κάνετε"))
            blocks.append(.paragraph("Παραδώστε κάθε υπολογιστή στον μαθητή για τον οποίο προορίζεται και καταχωρίστε "
                + "την παράδοση στο σύστημα το αργότερο \(within) μετά την παραλαβή (έως \(due))."))
            blocks.append(.paragraph("Αν η παράδοση δεν καταχωριστεί εγκαίρως, θα λαμβάνετε καθημερινή υπενθύμιση "
                + "έως ότου καταχωριστεί."))
        case .vietnamese:
            subject = "Thông báo phân bổ: nhà trường nhận \(Phrases.computers(count, language)) — \(title)"
            blocks.append(.paragraph("Trong đợt phân bổ \(payload.runID) của chương trình “\(title)”, nhà trường được "
                + "phân bổ \(Phrases.computers(count, language)) cho các học sinh dưới đây (theo mã học sinh):"))
            blocks.append(.table(columns: ["Mã học sinh", "Số sê-ri máy"], rows: rows))
            blocks.append(.heading("Việc nhà trường cần làm"))
            blocks.append(.paragraph("Bàn giao từng máy cho đúng học sinh và ghi nhận việc bàn giao trên hệ thống "
                + "chậm nhất \(within) sau khi nhận máy (hạn: \(due))."))
            blocks.append(.paragraph("Nếu quá hạn mà việc bàn giao chưa được ghi nhận, hệ thống sẽ gửi thư nhắc mỗi ngày "
                + "cho đến khi hoàn tất."))
        case .english:
            subject = "Allocation: your school receives \(Phrases.computers(count, language)) — \(title)"
            blocks.append(.paragraph("In allocation run \(payload.runID) of “\(title)”, your school receives "
                + "\(Phrases.computers(count, language)) for the following students, listed by student reference:"))
            blocks.append(.table(columns: ["Student ref", "Device serial"], rows: rows))
            blocks.append(.heading("What to do"))
            blocks.append(.paragraph("Hand each computer to the student it is allocated to, and record each handover "
                + "in the system within \(within) of receiving the computers (by \(due))."))
            blocks.append(.paragraph("If a handover is not recorded in time, you will receive a daily reminder until "
                + "it is."))
        }
        blocks.append(.note(Phrases.automaticNotice(language)))
        return MailDocument(language: language, subject: subject,
                            greeting: Phrases.schoolGreeting(payload.school, language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
