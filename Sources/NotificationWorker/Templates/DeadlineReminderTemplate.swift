import Foundation
import Shared

/// The reminder a school gets `reminder_days` before the deadline while it has no on-time submission.
enum DeadlineReminderTemplate {
    static func document(_ payload: DeadlineReminderPayload, context: MailContext, language: Language) -> MailDocument {
        let deadline = context.deadline ?? context.dueAt
        let deadlineDay = context.calendar.day(of: deadline)
        let deadlineText = LocalizedDate.dateTime(deadline, in: context.calendar, language)
        let title = context.title
        var blocks: [MailDocument.Block] = []

        switch language {
        case .greek:
            let when = switch payload.daysBefore {
            case 0: "λήγει σήμερα"
            case 1: "λήγει αύριο"
            default: "λήγει σε \(Phrases.days(payload.daysBefore, language))"
            }
            blocks.append(.paragraph("Η προθεσμία για τη δράση «\(title)» \(when). Έως σήμερα δεν έχει καταχωριστεί "
                + "εμπρόθεσμη υποβολή από τη σχολική σας μονάδα."))
            blocks.append(.facts([.init(label: "Προθεσμία", value: deadlineText),
                                  .init(label: "Σχολική μονάδα", value: "\(payload.school.name) (\(payload.school.code))")]))
            blocks.append(.heading("Τι πρέπει να υποβάλετε"))
        case .vietnamese:
            let when = switch payload.daysBefore {
            case 0: "Hôm nay là ngày cuối cùng của đợt báo cáo “\(title)”."
            case 1: "Đợt báo cáo “\(title)” sẽ kết thúc vào ngày mai."
            default: "Đợt báo cáo “\(title)” sẽ kết thúc sau \(Phrases.days(payload.daysBefore, language)) nữa."
            }
            blocks.append(.paragraph("\(when) Đến thời điểm này, hệ thống chưa nhận được báo cáo đúng hạn của nhà trường."))
            blocks.append(.facts([.init(label: "Hạn chót", value: deadlineText),
                                  .init(label: "Trường", value: "\(payload.school.name) (\(payload.school.code))")]))
            blocks.append(.heading("Nội dung cần báo cáo"))
        case .english:
            let when = switch payload.daysBefore {
            case 0: "is today"
            case 1: "is tomorrow"
            default: "is in \(Phrases.days(payload.daysBefore, language))"
            }
            blocks.append(.paragraph("The deadline for “\(title)” \(when). We have not yet received an on-time "
                + "submission from your school."))
            blocks.append(.facts([.init(label: "Deadline", value: deadlineText),
                                  .init(label: "School", value: "\(payload.school.name) (\(payload.school.code))")]))
            blocks.append(.heading("What to submit"))
        }
        blocks += SubmissionWording.instructions(kind: context.kind, level: payload.level,
                                                 officialEmail: payload.officialEmail, language).map { .paragraph($0) }
        if let previous = payload.previousDeadline {
            let previousText = LocalizedDate.dateTime(previous, in: context.calendar, language)
            let extensionNote: String = switch language {
            case .greek: "Σημείωση: η προθεσμία έχει μεταβληθεί· η προηγούμενη προθεσμία ήταν \(previousText)."
            case .vietnamese: "Lưu ý: hạn chót đã được điều chỉnh; hạn trước đây là \(previousText)."
            case .english: "Please note: the deadline has changed; it was previously \(previousText)."
            }
            blocks.append(.paragraph(extensionNote))
        }
        let disregardNote: String = switch language {
        case .greek: "Αν η υποβολή σας ολοκληρώθηκε στο μεταξύ, παρακαλούμε αγνοήστε αυτό το μήνυμα. "
            + Phrases.automaticNotice(language)
        case .vietnamese: "Nếu nhà trường đã gửi báo cáo sau khi thư này được tạo, xin vui lòng bỏ qua thư này. "
            + Phrases.automaticNotice(language)
        case .english: "If you have submitted in the meantime, please disregard this message. "
            + Phrases.automaticNotice(language)
        }
        blocks.append(.note(disregardNote))

        let shortDeadline = LocalizedDate.day(deadlineDay, language)
        let subject = switch language {
        case .greek: "Υπενθύμιση: \(title) — προθεσμία έως \(shortDeadline)"
        case .vietnamese: "Nhắc nhở: \(title) — hạn chót \(shortDeadline)"
        case .english: "Reminder: \(title) — due \(shortDeadline)"
        }
        return MailDocument(language: language, subject: subject,
                            greeting: Phrases.schoolGreeting(payload.school, language),
                            blocks: blocks, closing: Phrases.closing(language))
    }
}
