import Foundation
import Shared
import Testing

@testable import NotificationWorker

struct MIMEEncodingTests {
    @Test func quotedPrintableKeepsLinesShortAndDecodesBack() {
        let text = "Προθεσμία: Παρασκευή 21 Ιανουαρίου 2022 = λήξη.  \n" + String(repeating: "a", count: 200)
            + "\nτέλος\t\n.leading dot\n"
        let encoded = MIMEEncoding.quotedPrintable(MIMEEncoding.crlfLines(text))
        let lines = String(decoding: encoded, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(encoded.allSatisfy { $0 < 0x80 })
        #expect(Self.decodeQuotedPrintable(encoded) == MIMEEncoding.crlfLines(text))
        // Trailing whitespace is encoded so transports cannot strip it.
        #expect(lines.contains { $0.hasSuffix("=20") })
        #expect(lines.contains { $0.hasSuffix("=09") })
    }

    @Test func greekBodiesGoBase64AndEnglishBodiesQuotedPrintable() {
        #expect(MIMEEncoding.encodeBody(String(repeating: "Καλημέρα σας. ", count: 20)).encoding == .base64)
        #expect(MIMEEncoding.encodeBody(String(repeating: "Good morning. ", count: 20)).encoding == .quotedPrintable)
    }

    @Test func lineEndsBecomeCRLF() {
        #expect(MIMEEncoding.crlfLines("a\nb\r\nc\rd") == Array("a\r\nb\r\nc\r\nd".utf8))
    }

    @Test func encodedWordsHoldWholeCharactersAndShortLines() throws {
        let subject = "Nhắc nhở: Sóng và máy tính cho em — hạn chót thứ Bảy, ngày 20/11/2021 (giờ Việt Nam)"
        let field = MIMEEncoding.headerField("Subject", subject)
        let lines = field.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.count <= 76 })
        let words = lines.map { $0.replacingOccurrences(of: "Subject: ", with: "").trimmingCharacters(in: .whitespaces) }
        var decoded = ""
        for word in words {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let base64 = String(word.dropFirst(10).dropLast(2))
            let data = try #require(Data(base64Encoded: base64))
            // Every word decodes on its own: no character is split between two words.
            let piece = try #require(String(data: data, encoding: .utf8))
            decoded += piece
        }
        #expect(decoded == subject)
    }

    @Test func plainASCIIHeadersStayReadable() {
        #expect(MIMEEncoding.headerField("X-SchoolICT-Kind", "deadline_reminder") == "X-SchoolICT-Kind: deadline_reminder\r\n")
        #expect(MIMEEncoding.headerField("Subject", "a\r\nBcc: x@y") == "Subject: a  Bcc: x@y\r\n")
    }

    @Test func datesFollowRFC5322() {
        let date = ISO8601.parse("2022-01-14T07:00:05Z")!.date
        #expect(MIMEEncoding.date(date, offsetSeconds: 7200) == "Fri, 14 Jan 2022 09:00:05 +0200")
        #expect(MIMEEncoding.date(date, offsetSeconds: 0) == "Fri, 14 Jan 2022 07:00:05 +0000")
        #expect(MIMEEncoding.date(ISO8601.parse("2021-11-19T20:00:00Z")!.date, offsetSeconds: 25_200)
                == "Sat, 20 Nov 2021 03:00:00 +0700")
    }

    static func decodeQuotedPrintable(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "=") {
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A {
                    index += 3
                    continue
                }
                if index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            output.append(byte)
            index += 1
        }
        return output
    }
}

/// Whole messages, parsed back by Python's `email` package.
@Suite(.enabled(if: PythonMIME.isAvailable, "needs /usr/bin/python3"))
struct MailMessageParsingTests {
    static func message(language: Language, subject: String, text: String, html: String) -> MailMessage {
        MailMessage(from: "noreply@schoolict.invalid", to: ["mail@0551010.sch.gr"], subject: subject,
                    date: ISO8601.parse("2022-01-14T07:00:05Z")!.date, dateOffsetSeconds: 7200,
                    messageID: "<abc.deadline_reminder@schoolict.invalid>", language: language, text: text, html: html,
                    extraHeaders: [("X-SchoolICT-Kind", "deadline_reminder")])
    }

    @Test(arguments: [
        (Language.greek, "Υπενθύμιση: Κτηματολόγιο υποδομών Τ.Π.Ε. — προθεσμία έως Παρασκευή 21 Ιανουαρίου 2022",
         "Η προθεσμία λήγει σε 7 ημέρες.\nΤέλος = 100%\n"),
        (Language.vietnamese, "Nhắc nhở: Sóng và máy tính cho em — hạn chót thứ Bảy, ngày 20/11/2021",
         "Kính gửi Ban Giám hiệu Trường Tiểu học Phú Hòa 1,\n" + String(repeating: "Đề nghị nhà trường báo cáo. ", count: 12)),
        (Language.english, "Reminder: ICT inventory — due 21 Jan 2022", "Dear school,\n.\nA line with a dot.\n"),
    ])
    func parsesBackWithSubjectRecipientsLanguageAndBothParts(language: Language, subject: String, text: String) throws {
        let html = "<p>\(MailDocument.escape(text))</p>"
        let parsed = try PythonMIME.parse(Self.message(language: language, subject: subject, text: text, html: html).encoded())
        #expect(parsed.defects.isEmpty, "defects: \(parsed.defects)")
        #expect(parsed.subject == subject)
        #expect(parsed.to == ["mail@0551010.sch.gr"])
        #expect(parsed.headers["content-language"] == language.rawValue)
        #expect(parsed.headers["message-id"] == "<abc.deadline_reminder@schoolict.invalid>")
        #expect(parsed.headers["mime-version"] == "1.0")
        #expect(parsed.headers["date"] == "Fri, 14 Jan 2022 09:00:05 +0200")
        #expect(parsed.headers["x-schoolict-kind"] == "deadline_reminder")
        #expect(parsed.contentTypes == ["multipart/alternative", "text/plain", "text/html"])
        #expect(parsed.text.replacingOccurrences(of: "\r\n", with: "\n") == text)
        #expect(parsed.html.replacingOccurrences(of: "\r\n", with: "\n").contains(MailDocument.escape(text)))
    }

    @Test func everyLineIsShortAndSevenBit() {
        let message = Self.message(language: .greek, subject: String(repeating: "Ελληνικά ", count: 30),
                                   text: String(repeating: "Καλημέρα ", count: 300), html: "<p>x</p>").encoded()
        #expect(message.allSatisfy { $0 < 0x80 })
        let lines = String(decoding: message, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 78 })
        // No bare line feeds: CRLF only.
        #expect(!String(decoding: message, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }
}
