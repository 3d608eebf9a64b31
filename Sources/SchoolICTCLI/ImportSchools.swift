import ArgumentParser
import Foundation
import Shared

/// Loads schools from a CSV file with a header row:
/// `school_code,name,level,region,official_email,language[,students]`, as Excel writes it in any locale (a UTF-8
/// byte-order mark, `;` between fields where `,` is the decimal separator: Greek, Vietnamese, …).
struct ImportSchools: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import-schools",
                                                    abstract: "Publish school.upsert for every row of a CSV file.")

    @Argument(help: "CSV file (UTF-8, with or without a byte-order mark; `,` or `;` between fields, found from the header).")
    var file: String

    @Option(help: "The field separator, when the header does not tell (`,` or `;`).") var delimiter: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let rows = try CSVTable.read(data, delimiter: delimiter.flatMap { $0.unicodeScalars.first })
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
            var fields: JSONObject = [:]
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

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
