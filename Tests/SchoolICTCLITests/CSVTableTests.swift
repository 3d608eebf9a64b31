import Foundation
import Testing

@testable import SchoolICTCLI

/// What spreadsheets write, read back: Excel's "CSV UTF-8" in a Greek or Vietnamese locale puts a byte-order mark
/// first and separates fields with `;` (the decimal separator there is `,`).
@Suite("CSV")
struct CSVTableTests {
    @Test("a Greek-locale Excel file: byte-order mark, semicolons, quotes, a comma inside a field")
    func greekExcel() throws {
        let text = "\u{FEFF}school_code;name;level;region;official_email;language;students\r\n"
            + "0551010;\"1ο ΓΕΛ Καβάλας; \"\"Παλαιό\"\"\";secondary;Ανατολική Μακεδονία, Θράκη;mail@0551010.sch.gr;el;320\r\n"
        let rows = try CSVTable.read(Data(text.utf8))
        #expect(rows.count == 2)
        #expect(rows[0].first == "school_code", "the byte-order mark is not part of the first column name")
        #expect(rows[1][1] == "1ο ΓΕΛ Καβάλας; \"Παλαιό\"")
        #expect(rows[1][3] == "Ανατολική Μακεδονία, Θράκη")
        #expect(rows[1][6] == "320")
    }

    @Test("a Vietnamese-locale file without a byte-order mark, and a comma-separated one")
    func separatorsFromTheHeader() throws {
        let vietnamese = try CSVTable.read(Data("school_code;name\nTDM-TH-01;Trường Tiểu học Phú Hòa 1\n".utf8))
        #expect(vietnamese[1] == ["TDM-TH-01", "Trường Tiểu học Phú Hòa 1"])
        let commas = try CSVTable.read(Data("school_code,name\n\"X-1\",\"A; B\"\n".utf8))
        #expect(commas[1] == ["X-1", "A; B"])
    }

    @Test("a file that is not UTF-8 is refused with a clear message")
    func notUTF8() {
        let windows1253: [UInt8] = [0x73, 0x3B, 0xD3, 0xF7, 0xEF, 0xEB, 0xE5, 0xDF, 0xEF, 0x0A]  // "s;Σχολείο"
        #expect(throws: CSVTable.Failure.self) { try CSVTable.read(Data(windows1253)) }
    }

    @Test("written CSV quotes what needs quoting and reads back the same")
    func roundTrip() throws {
        let rows = [["region", "name"], ["Αττική", "Σχολείο \"Α\", Αθήνα"], ["Phường Phú Hòa", "line\nbreak"]]
        let text = try CSVTable.write(rows, byteOrderMark: true)
        #expect(text.hasPrefix("\u{FEFF}region,name\r\n"))
        #expect(try CSVTable.read(Data(text.utf8)) == rows)
    }
}
