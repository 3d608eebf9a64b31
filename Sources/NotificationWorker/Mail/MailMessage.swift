import Foundation
import Shared

/// One e-mail as it goes over SMTP: headers and a `multipart/alternative` body with a plain-text and an HTML part.
struct MailMessage: Sendable {
    /// The sender address (`MAIL_FROM`); the `From` header shows it with ``fromName``.
    var from: String
    var fromName = "SchoolICT"
    var to: [String]
    var subject: String
    var date: Date
    /// The offset the `Date` header is written in (the campaign's, so readers see local time).
    var dateOffsetSeconds = 0
    /// With angle brackets: `<…@domain>`.
    var messageID: String
    var language: Language
    var text: String
    var html: String
    /// Further headers, e.g. `X-SchoolICT-Kind`. Values that are not plain ASCII are encoded.
    var extraHeaders: [(name: String, value: String)] = []

    /// The boundary between the parts. `=_` cannot occur in quoted-printable or base64 output, so no part can
    /// contain it.
    var boundary: String {
        "=_schoolict_" + SHA256.hexDigest(of: SHA256.hash(Array(messageID.utf8))).prefix(24)
    }

    /// The message in wire form (CRLF line ends), ready for `DATA`.
    func encoded() -> [UInt8] {
        var head = ""
        head += MIMEEncoding.headerField("Date", MIMEEncoding.date(date, offsetSeconds: dateOffsetSeconds))
        head += fromHeader()
        head += MIMEEncoding.headerField("To", to.joined(separator: ", "))
        head += MIMEEncoding.headerField("Subject", subject)
        head += MIMEEncoding.headerField("Message-ID", messageID)
        head += "MIME-Version: 1.0\r\n"
        head += "Content-Language: \(language.rawValue)\r\n"
        // RFC 3834: automatic mail; auto-responders should not answer it.
        head += "Auto-Submitted: auto-generated\r\n"
        head += "X-Auto-Response-Suppress: All\r\n"
        for header in extraHeaders {
            head += MIMEEncoding.headerField(header.name, header.value)
        }
        head += "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n"
        head += "\r\n"

        var bytes = Array(head.utf8)
        bytes += Array("This is a multipart message in MIME format.\r\n".utf8)
        for (subtype, content) in [("plain", text), ("html", html)] {
            let (encoding, body) = MIMEEncoding.encodeBody(content)
            bytes += Array("\r\n--\(boundary)\r\n".utf8)
            bytes += Array("Content-Type: text/\(subtype); charset=utf-8\r\n".utf8)
            bytes += Array("Content-Transfer-Encoding: \(encoding.rawValue)\r\n\r\n".utf8)
            bytes += body
        }
        bytes += Array("\r\n--\(boundary)--\r\n".utf8)
        return bytes
    }

    private func fromHeader() -> String {
        let name = fromName.replacingOccurrences(of: "\"", with: "")
        if MIMEEncoding.isPlainHeaderText(name) {
            return MIMEEncoding.headerField("From", "\"\(name)\" <\(from)>")
        }
        let words = MIMEEncoding.encodedWords(name, firstLineUsed: 6)
        return "From: " + words.joined(separator: "\r\n ") + " <\(from)>\r\n"
    }
}
