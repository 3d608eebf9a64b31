import CSV
import Foundation

/// CSV through CSV.swift: reading what spreadsheets write (a UTF-8 byte-order mark, `;` as the separator in locales
/// whose decimal separator is `,`), writing RFC 4180 with a byte-order mark when asked (so Excel opens UTF-8 Greek and
/// Vietnamese text as such).
enum CSVTable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// All rows, the header first. The separator is `delimiter`, or found from the first line: `;` when it has
    /// more `;` than `,` outside quotes.
    static func read(_ data: Data, delimiter: UnicodeScalar? = nil) throws -> [[String]] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(description: "the file is not UTF-8 (save it from the spreadsheet as \"CSV UTF-8\")")
        }
        let separator = delimiter ?? guessDelimiter(firstLine: text.prefix { $0 != "\n" && $0 != "\r" })
        let reader = try CSVReader(string: text, hasHeaderRow: false, trimFields: false, delimiter: separator)
        var rows: [[String]] = []
        while let row = reader.next() { rows.append(row) }
        if let error = reader.error { throw Failure(description: "not valid CSV: \(error)") }
        return rows
    }

    static func guessDelimiter(firstLine: Substring) -> UnicodeScalar {
        var inQuotes = false
        var commas = 0
        var semicolons = 0
        for character in firstLine {
            switch character {
            case "\"": inQuotes.toggle()
            case "," where !inQuotes: commas += 1
            case ";" where !inQuotes: semicolons += 1
            default: break
            }
        }
        return semicolons > commas ? ";" : ","
    }

    /// RFC 4180 text of `rows` (fields quoted where needed), CRLF line ends.
    static func write(_ rows: [[String]], byteOrderMark: Bool = false) throws -> String {
        let writer = try CSVWriter(stream: .toMemory(), newline: .crlf)
        for row in rows { try writer.write(row: row) }
        writer.stream.close()
        guard let data = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else {
            throw Failure(description: "the CSV writer produced nothing")
        }
        return (byteOrderMark ? "\u{FEFF}" : "") + String(decoding: data, as: UTF8.self)
    }
}
