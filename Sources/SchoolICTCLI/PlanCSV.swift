import ArgumentParser
import Foundation
import Shared

/// Exports a procurement plan (the latest of a campaign, or one by id) as CSV, from the database.
struct PlanCSV: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan-csv",
                                                    abstract: "Print a procurement plan as CSV (planned schools, then the ones not planned).")

    @Option(help: "Campaign whose latest plan to export.") var campaign: String?
    @Option(help: "A plan id (from the procurement.plan outcome's summary).") var planId: String?

    func run() throws {
        guard campaign != nil || planId != nil else { throw ValidationError("give --campaign or --plan-id") }
        let configuration = try Configuration()
        let database = try PostgresConnection(url: configuration.databaseURL)
        defer { database.close() }
        let rows = try database.query("""
            SELECT body::text FROM procurement_plans
            WHERE ($1::text IS NULL OR plan_id = $1) AND ($2::text IS NULL OR campaign = $2)
            ORDER BY created_at DESC LIMIT 1
            """, [planId, campaign])
        guard let row = rows.first else { throw ValidationError("no procurement plan found") }
        let plan = try JSONParser.parse(Array(try row.string(0).utf8))
        print(try Self.csv(plan), terminator: "")
    }

    /// One header, one line per school: planned schools with their figures, then the others with a reason.
    static func csv(_ plan: JSONValue) throws -> String {
        var rows = [["school_code", "region", "students", "working_computers", "students_per_computer", "needed", "status"]]
        for school in plan["schools"]?.arrayValue ?? [] {
            let ratio: String
            if case .number(let value)? = school["ratio"] { ratio = String(format: "%.2f", value) } else { ratio = "" }
            rows.append([
                school["school_code"]?.stringValue ?? "", school["region"]?.stringValue ?? "",
                String(school["students"]?.intValue ?? 0), String(school["working_computers"]?.intValue ?? 0),
                ratio, String(school["needed"]?.intValue ?? 0), "planned",
            ])
        }
        for school in plan["not_planned"]?.arrayValue ?? [] {
            rows.append([school["school_code"]?.stringValue ?? "", "", "", "", "", "", school["reason"]?.stringValue ?? ""])
        }
        return try CSVTable.write(rows)
    }
}
