import ArgumentParser
import Foundation
import Shared

/// Loads schools from a CSV file with a header row:
/// `school_code,name,level,region,official_email,language[,students]`.
struct ImportSchools: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import-schools",
                                                    abstract: "Publish school.upsert for every row of a CSV file.")

    @Argument(help: "CSV file (UTF-8, comma-separated, double quotes for fields with commas).")
    var file: String

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let rows = CSV.parse(text)
        guard let header = rows.first else { throw ValidationError("the file is empty") }
        let required = ["school_code", "name", "level", "region", "official_email", "language"]
        let columns = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces), $0) },
                                 uniquingKeysWith: { first, _ in first })
        for name in required where columns[name] == nil {
            throw ValidationError("the header lacks the column \(name)")
        }
        var messages: [AMQPMessage] = []
        var problems = 0
        for (number, row) in rows.dropFirst().enumerated() where !(row.count == 1 && row[0].isEmpty) {
            var fields: [String: JSONValue] = [:]
            for name in required {
                fields[name] = .string(row[safe: columns[name]!] ?? "")
            }
            if let index = columns["students"], let value = row[safe: index], !value.isEmpty {
                guard let count = Int(value) else {
                    print("line \(number + 2): students is not a whole number; skipped")
                    problems += 1
                    continue
                }
                fields["students"] = .int(count)
            }
            let body = JSONValue.object(fields).serialized()
            // Validate here too, so the operator sees mistakes with line numbers at once.
            if case .failure(let failure) = Command.decode(key: .schoolUpsert, from: fields) {
                print("line \(number + 2): " + failure.errors.map(\.description).joined(separator: "; ") + "; skipped")
                problems += 1
                continue
            }
            messages.append(AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "school.upsert",
                                        messageID: Broker.contentID("school.upsert", body), body: body))
        }
        let connection = try Broker.connect()
        defer { connection.close() }
        try connection.publishConfirmed(messages)
        print("published \(messages.count) school.upsert commands; \(problems) rows skipped")
        if problems > 0 { throw ExitCode(1) }
    }
}

/// RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r": continue
            case "\n": row.append(field); rows.append(row); row = []; field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
