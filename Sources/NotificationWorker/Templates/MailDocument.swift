import Shared

/// An e-mail's content as structure, rendered both as plain text and as HTML so the two parts always agree.
struct MailDocument: Sendable, Equatable {
    enum Block: Sendable, Equatable {
        case paragraph(String)
        case heading(String)
        /// Label–value lines, e.g. `Deadline: Friday 21 January 2022, 23:59`.
        case facts([Fact])
        case bullets([String])
        case table(columns: [String], rows: [[String]])
        /// Small print (automatic-mail notice and the like).
        case note(String)
    }

    struct Fact: Sendable, Equatable {
        var label: String
        var value: String
    }

    var language: Language
    var subject: String
    var greeting: String
    var blocks: [Block]
    /// Closing lines, e.g. `Kind regards,` and the sender's name.
    var closing: [String]
}

/// The rendered parts of an e-mail.
struct RenderedMail: Sendable, Equatable {
    var subject: String
    var text: String
    var html: String
    var language: Language
}

extension MailDocument {
    /// Wraps plain-text paragraphs at this many characters.
    static let textWidth = 72

    func rendered() -> RenderedMail {
        RenderedMail(subject: subject, text: plainText(), html: html(), language: language)
    }

    // MARK: Plain text

    func plainText() -> String {
        var sections: [String] = [Self.wrap(greeting)]
        for block in blocks {
            switch block {
            case .paragraph(let text):
                sections.append(Self.wrap(text))
            case .heading(let text):
                sections.append(text + "\n" + String(repeating: "-", count: min(Self.textWidth, Self.displayWidth(text))))
            case .facts(let facts):
                let width = facts.map { Self.displayWidth($0.label) }.max() ?? 0
                sections.append(facts.map { fact in
                    Self.pad(fact.label + ":", to: width + 1) + " " + fact.value
                }.joined(separator: "\n"))
            case .bullets(let items):
                sections.append(items.map { Self.wrap($0, firstPrefix: "  - ", restPrefix: "    ") }.joined(separator: "\n"))
            case .table(let columns, let rows):
                sections.append(Self.textTable(columns: columns, rows: rows))
            case .note(let text):
                sections.append(Self.wrap(text))
            }
        }
        sections.append(closing.joined(separator: "\n"))
        return sections.joined(separator: "\n\n") + "\n"
    }

    private static func pad(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - displayWidth(text)))
    }

    private static func textTable(columns: [String], rows: [[String]]) -> String {
        var widths = columns.map(displayWidth)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], displayWidth(cell))
            }
        }
        func line(_ cells: [String]) -> String {
            var padded: [String] = []
            for (index, width) in widths.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                padded.append(index == widths.count - 1 ? cell : pad(cell, to: width))
            }
            return "  " + padded.joined(separator: "  ")
        }
        var lines = [line(columns), "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }

    /// Greedy word wrap on spaces; words longer than the width stay whole. Existing line breaks are kept.
    ///
    /// Works on UTF-8 bytes and measures in Unicode scalars (text here is NFC, where a scalar is a character on
    /// screen), which keeps rendering cheap enough for tens of thousands of e-mails.
    static func wrap(_ text: String, width: Int = textWidth, firstPrefix: String = "", restPrefix: String = "") -> String {
        let first = Array(firstPrefix.utf8)
        let rest = Array(restPrefix.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + text.utf8.count / 50 + first.count)
        var prefix = first
        var prefixWidth = displayWidth(first)
        var firstLine = true
        for sourceLine in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if !firstLine { output.append(0x0A) }
            firstLine = false
            var line: [UInt8] = []
            var lineWidth = 0
            for word in sourceLine.split(separator: 0x20, omittingEmptySubsequences: true) {
                let wordWidth = displayWidth(word)
                if line.isEmpty {
                    line.append(contentsOf: word)
                    lineWidth = wordWidth
                } else if prefixWidth + lineWidth + 1 + wordWidth <= width {
                    line.append(0x20)
                    line.append(contentsOf: word)
                    lineWidth += 1 + wordWidth
                } else {
                    output += prefix
                    output += line
                    output.append(0x0A)
                    prefix = rest
                    prefixWidth = displayWidth(rest)
                    line = Array(word)
                    lineWidth = wordWidth
                }
            }
            output += prefix
            output += line
            prefix = rest
            prefixWidth = displayWidth(rest)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Characters on screen, counted as Unicode scalars (UTF-8 lead bytes).
    static func displayWidth(_ bytes: some Sequence<UInt8>) -> Int {
        var count = 0
        for byte in bytes where byte & 0xC0 != 0x80 { count += 1 }
        return count
    }

    static func displayWidth(_ text: String) -> Int { displayWidth(text.utf8) }

    // MARK: HTML

    func html() -> String {
        var body = "<p>\(Self.escape(greeting))</p>\n"
        for block in blocks {
            switch block {
            case .paragraph(let text):
                body += "<p>\(Self.escapeLines(text))</p>\n"
            case .heading(let text):
                body += "<h3 style=\"margin:1.2em 0 0.4em;font-size:1.05em\">\(Self.escape(text))</h3>\n"
            case .facts(let facts):
                body += "<table role=\"presentation\" style=\"border-collapse:collapse;margin:0.6em 0\">\n"
                for fact in facts {
                    body += "<tr><th scope=\"row\" style=\"text-align:left;padding:2px 12px 2px 0;vertical-align:top\">"
                        + "\(Self.escape(fact.label))</th><td style=\"padding:2px 0\">\(Self.escape(fact.value))</td></tr>\n"
                }
                body += "</table>\n"
            case .bullets(let items):
                body += "<ul>\n" + items.map { "<li>\(Self.escape($0))</li>\n" }.joined() + "</ul>\n"
            case .table(let columns, let rows):
                let cell = "border:1px solid #bbb;padding:3px 8px;text-align:left"
                body += "<table style=\"border-collapse:collapse;margin:0.6em 0\">\n<thead><tr>"
                body += columns.map { "<th style=\"\(cell);background:#eee\">\(Self.escape($0))</th>" }.joined()
                body += "</tr></thead>\n<tbody>\n"
                for row in rows {
                    body += "<tr>" + row.map { "<td style=\"\(cell)\">\(Self.escape($0))</td>" }.joined() + "</tr>\n"
                }
                body += "</tbody>\n</table>\n"
            case .note(let text):
                body += "<p style=\"color:#555;font-size:0.9em\">\(Self.escapeLines(text))</p>\n"
            }
        }
        body += "<p>" + closing.map(Self.escape).joined(separator: "<br>\n") + "</p>\n"
        return """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <title>\(Self.escape(subject))</title>
            </head>
            <body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;color:#222">
            \(body)</body>
            </html>

            """
    }

    static func escape(_ text: String) -> String {
        func special(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">")
                || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
        }
        guard text.utf8.contains(where: special) else { return text }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): escaped += Array("&amp;".utf8)
            case UInt8(ascii: "<"): escaped += Array("&lt;".utf8)
            case UInt8(ascii: ">"): escaped += Array("&gt;".utf8)
            case UInt8(ascii: "\""): escaped += Array("&quot;".utf8)
            case UInt8(ascii: "'"): escaped += Array("&#39;".utf8)
            default: escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    private static func escapeLines(_ text: String) -> String {
        guard text.utf8.contains(0x0A) else { return escape(text) }
        return text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { escape(String(decoding: $0, as: UTF8.self)) }.joined(separator: "<br>\n")
    }
}
