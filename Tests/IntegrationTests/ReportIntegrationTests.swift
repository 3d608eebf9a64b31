import Foundation
import TestSupport
import Testing

@testable import Shared

/// `schoolict import-schools` with a file as Excel writes it in a Greek locale, and `schoolict report` whose figures
/// equal what was published (issue 9).
@Suite("Report integration", .serialized, .integration)
struct ReportIntegrationTests {
    typealias F = Fixtures

    static func cli(_ harness: IntegrationHarness, _ arguments: [String]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["AMQP_URL"] = harness.virtualHost.amqpURLString
        environment["DATABASE_URL"] = harness.scratchDatabase.url
        return try ProvisioningIntegrationTests.CLI.run(arguments, environment: environment)
    }

    @Test func importThenReportTheFiguresPublished() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker()
        // Three Greek schools from a "CSV UTF-8" file of a Greek-locale Excel: byte-order mark, semicolons.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("schools-\(getpid()).csv")
        defer { try? FileManager.default.removeItem(at: file) }
        let csv = "\u{FEFF}school_code;name;level;region;official_email;language;students\r\n"
            + "0551010;1ο ΓΕΛ Καβάλας;secondary;Ανατολική Μακεδονία και Θράκη;mail@0551010.sch.gr;el;320\r\n"
            + "0551020;\"2ο ΓΕΛ Καβάλας; Πρότυπο\";secondary;Ανατολική Μακεδονία και Θράκη;mail@0551020.sch.gr;el;280\r\n"
            + "9051020;2ο Δημοτικό Σχολείο Ιωαννίνων;primary;Ήπειρος;mail@9051020.sch.gr;el;180\r\n"
        try Data(csv.utf8).write(to: file)
        let imported = try Self.cli(harness, ["import-schools", file.path])
        #expect(imported.contains("published 3 school.upsert commands; 0 rows skipped"), "\(imported)")
        _ = try harness.send(F.greekCampaignUpsert(id: "report-campaign"))
        try harness.waitUntilStored("SELECT count(*) FROM schools", equals: 3)
        #expect(try harness.scalar("SELECT count(*) FROM schools WHERE name = '2ο ΓΕΛ Καβάλας; Πρότυπο'") == 1)

        // One on time, one late, one missing.
        let second = Fixtures.School(code: "0551020", name: "x", level: "secondary", region: "r", email: "mail@0551020.sch.gr",
                                     language: "el")
        _ = try harness.send([
            F.inventory(id: "r-on-time", items: [F.item("desktop", quantity: 3, year: 2015)]),
            F.inventory(id: "r-late", school: second, submittedAt: "2022-01-25T10:00:00+02:00",
                        items: [F.item("laptop", quantity: 2, year: 2020)]),
        ])
        let json = try JSONParser.parse(Array(try Self.cli(harness, ["report", "--campaign", F.greekCampaign, "--format", "json"]).utf8))
        let totals = try #require(json["totals"])
        #expect(totals["schools"]?.intValue == 3)
        #expect(totals["on_time"]?.intValue == 1)
        #expect(totals["late"]?.intValue == 1)
        #expect(totals["missing"]?.intValue == 1)
        let statuses = (json["schools"]?.arrayValue ?? []).compactMap { school -> String? in
            guard let code = school["school_code"]?.stringValue, let status = school["status"]?.stringValue else { return nil }
            return "\(code)=\(status)"
        }
        #expect(statuses.sorted() == ["0551010=on_time", "0551020=late", "9051020=missing"])
        let region = try Self.cli(harness, ["report", "--campaign", F.greekCampaign, "--region", "Ήπειρος", "--format", "csv"])
        #expect(region.hasPrefix("\u{FEFF}region,school_code"), "\(region)")
        #expect(region.contains("Ήπειρος,9051020,2ο Δημοτικό Σχολείο Ιωαννίνων,missing"), "\(region)")
        #expect(!region.contains("0551010"))
        try harness.checkWorkers()
    }
}

extension IntegrationHarness {
    /// Polls `sql` (a count) until it equals `expected` (commands published by a tool have no outcome to await here).
    func waitUntilStored(_ sql: String, equals expected: Int, timeout: Duration = .seconds(20)) throws {
        let deadline = ContinuousClock.now + timeout
        while try scalar(sql) != expected {
            guard ContinuousClock.now < deadline else { throw HarnessError("timed out waiting until \(sql) = \(expected)") }
            try checkWorkers()
            Thread.sleep(forTimeInterval: 0.1)
        }
    }
}
