import Foundation
import Testing

@testable import Shared

@Suite("Migration files")
struct MigrationFileTests {
    @Test func migrationFileNamesParse() {
        #expect(Migration.parse(fileName: "0001_initial.sql")! == (1, "initial"))
        #expect(Migration.parse(fileName: "0012_add_reminders.sql")! == (12, "add_reminders"))
        #expect(Migration.parse(fileName: "initial.sql") == nil)
        #expect(Migration.parse(fileName: "0001_.sql") == nil)
        #expect(Migration.parse(fileName: "0001_initial.txt") == nil)
    }

    @Test func everySQLFileIsRegisteredInMigrationAll() throws {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Shared/Migrations/SQL")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
        let expected = files.compactMap(Migration.parse(fileName:)).map(\.version).sorted()
        #expect(expected.count == files.count, "every file is named like 0001_name.sql")
        #expect(Migration.all.map(\.version).sorted() == expected)
        #expect(Set(Migration.all.map(\.version)).count == Migration.all.count)
    }
}
