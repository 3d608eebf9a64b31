import Foundation

/// The encodings an internet message needs (RFC 2045, RFC 2047, RFC 5322), over UTF-8 bytes.
enum MIMEEncoding {
    /// Longest encoded line of a body (RFC 2045 §6.7–6.8), not counting CRLF.
    static let bodyLineLimit = 76
    /// Longest header line holding an encoded word (RFC 2047 §2).
    static let headerLineLimit = 76

    // MARK: Bodies

    /// The body transfer encoding that makes `text` shorter: quoted-printable for mostly-ASCII text,
    /// base64 for Greek or Vietnamese text, where quoted-printable would triple the size.
    enum BodyEncoding: String, Sendable {
        case quotedPrintable = "quoted-printable"
        case base64
    }

    /// `text` with every line ending as CRLF.
    static func crlfLines(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + text.utf8.count / 40)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A, previous != 0x0D { bytes.append(0x0D) }
            if previous == 0x0D, byte != 0x0A { bytes.append(0x0A) }
            bytes.append(byte)
            previous = byte
        }
        if previous == 0x0D { bytes.append(0x0A) }
        return bytes
    }

    /// Picks the encoding and encodes; the result ends with CRLF.
    static func encodeBody(_ text: String) -> (encoding: BodyEncoding, bytes: [UInt8]) {
        let bytes = crlfLines(text)
        // Base64 is 4/3 of the input plus line ends; quoted-printable triples every byte it encodes. Estimate
        // rather than encode both ways.
        let base64Length = (bytes.count + 2) / 3 * 4 * 78 / 76
        var encoded = 0
        for byte in bytes where byte >= 0x80 || byte == UInt8(ascii: "=") || (byte < 0x20 && byte != 0x0D && byte != 0x0A) {
            encoded += 1
        }
        let quotedLength = bytes.count + 2 * encoded + bytes.count / 75 * 3
        if quotedLength <= base64Length {
            return (.quotedPrintable, quotedPrintable(bytes))
        }
        return (.base64, base64(bytes))
    }

    /// Quoted-printable (RFC 2045 §6.7) of CRLF-separated text: lines of at most 76 characters with soft breaks,
    /// `=`, control and non-ASCII bytes as `=XX`, trailing spaces and tabs encoded. Ends with CRLF.
    static func quotedPrintable(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 2)
        var lineLength = 0
        let hex = Array("0123456789ABCDEF".utf8)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == 0x0D, index + 1 < input.count, input[index + 1] == 0x0A {
                output += [0x0D, 0x0A]
                lineLength = 0
                index += 2
                continue
            }
            let atLineEnd = index + 1 == input.count || (input[index + 1] == 0x0D && index + 2 < input.count && input[index + 2] == 0x0A)
            let literal = (byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "="))
                || ((byte == 0x20 || byte == 0x09) && !atLineEnd)
            let width = literal ? 1 : 3
            // Room for the character, plus a soft break `=` unless the line ends right after it.
            let limit = atLineEnd ? bodyLineLimit : bodyLineLimit - 1
            if lineLength + width > limit {
                output += [UInt8(ascii: "="), 0x0D, 0x0A]
                lineLength = 0
            }
            if literal {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
            lineLength += width
            index += 1
        }
        if output.count < 2 || output[output.count - 2] != 0x0D || output[output.count - 1] != 0x0A {
            output += [0x0D, 0x0A]
        }
        return output
    }

    /// Base64 in lines of 76 characters, each ending with CRLF.
    static func base64(_ input: [UInt8]) -> [UInt8] {
        let encoded = Array(Data(input).base64EncodedString().utf8)
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count + encoded.count / 38 + 2)
        var start = 0
        while start < encoded.count {
            let end = min(start + bodyLineLimit, encoded.count)
            output += encoded[start..<end]
            output += [0x0D, 0x0A]
            start = end
        }
        return output
    }

    // MARK: Headers

    /// Whether a header value can be sent as it is: printable ASCII and spaces only.
    static func isPlainHeaderText(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            // Printable ASCII, and no `=?` that a reader would take for the start of an encoded word.
            if byte < 0x20 || byte > 0x7E || (previous == UInt8(ascii: "=") && byte == UInt8(ascii: "?")) { return false }
            previous = byte
        }
        return true
    }

    /// The whole header field `name: value`, folded, with `value` as RFC 2047 `B` encoded words when it is not
    /// plain ASCII. Each encoded word holds whole characters, and no line exceeds 76 characters. Ends with CRLF.
    static func headerField(_ name: String, _ value: String) -> String {
        // Line breaks in a value would start a new header: they never belong there.
        let value = value.utf8.contains { $0 == 0x0D || $0 == 0x0A }
            ? String(decoding: value.utf8.map { $0 == 0x0D || $0 == 0x0A ? 0x20 : $0 }, as: UTF8.self) : value
        if isPlainHeaderText(value), name.count + 2 + value.count <= 78 {
            return "\(name): \(value)\r\n"
        }
        if isPlainHeaderText(value) {
            return "\(name): " + foldPlain(value, firstLineUsed: name.count + 2) + "\r\n"
        }
        let words = encodedWords(value, firstLineUsed: name.count + 2)
        return "\(name): " + words.joined(separator: "\r\n ") + "\r\n"
    }

    /// Folds plain text at spaces so that lines stay within 78 characters where possible.
    private static func foldPlain(_ value: String, firstLineUsed: Int) -> String {
        var lines: [String] = []
        var line = ""
        var used = firstLineUsed
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            if line.isEmpty {
                line = String(word)
            } else if used + line.count + 1 + word.count <= 78 {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
                used = 1
            }
        }
        lines.append(line)
        return lines.joined(separator: "\r\n ")
    }

    /// `=?UTF-8?B?…?=` words for `text`, split between characters (grapheme clusters), sized so that the first
    /// fits after `firstLineUsed` characters and each later one after a folding space.
    static func encodedWords(_ text: String, firstLineUsed: Int) -> [String] {
        let overhead = "=?UTF-8?B??=".count
        func capacity(lineUsed: Int) -> Int {
            // Base64 characters that fit, rounded down to whole groups, as input bytes.
            let characters = headerLineLimit - lineUsed - overhead
            return max(3, characters / 4 * 3)
        }
        var words: [String] = []
        var chunk: [UInt8] = []
        var limit = capacity(lineUsed: firstLineUsed)
        for character in text {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty, chunk.count + bytes.count > limit {
                words.append(word(chunk))
                chunk = []
                limit = capacity(lineUsed: 1)
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words
    }

    private static func word(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?="
    }

    // MARK: Dates

    /// RFC 5322 date-time, e.g. `Fri, 14 Jan 2022 09:00:05 +0200`, in the given offset from UTC.
    static func date(_ date: Date, offsetSeconds: Int) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + offsetSeconds
        let dayNumber = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - dayNumber * 86_400
        let day = LocalDay(year: 1970, month: 1, day: 1).adding(days: dayNumber)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let offsetMinutes = abs(offsetSeconds) / 60
        let zone = (offsetSeconds < 0 ? "-" : "+") + pad(offsetMinutes / 60) + pad(offsetMinutes % 60)
        return "\(weekdays[day.weekday]), \(day.day) \(months[day.month - 1]) \(day.year) "
            + "\(pad(secondOfDay / 3600)):\(pad(secondOfDay / 60 % 60)):\(pad(secondOfDay % 60)) \(zone)"
    }
}
