import Foundation
import Testing

@testable import PostgresClient

@Suite("Postgres text formats and errors (no server)")
struct PostgresTests {
    // MARK: Parameters

    @Test func scalarParametersUsePostgresTextFormat() {
        #expect("Xin chào".postgresText == "Xin chào")
        #expect("abc".dropFirst().postgresText == "bc")
        #expect(Int.min.postgresText == "-9223372036854775808")
        #expect(Int32(-7).postgresText == "-7")
        #expect(Int64.max.postgresText == "9223372036854775807")
        #expect(true.postgresText == "t")
        #expect(false.postgresText == "f")
        #expect(0.1.postgresText == "0.1")
        #expect(Double.infinity.postgresText == "Infinity")
        #expect((-Double.infinity).postgresText == "-Infinity")
        #expect(Double.nan.postgresText == "NaN")
        let id = UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!
        #expect(id.postgresText == "6F9619FF-8B86-D011-B42D-00CF4FC964FF")
        #expect(String?.none.postgresText == nil)
        #expect(Int?.some(3).postgresText == "3")
    }

    @Test func arrayLiteralQuotesEveryElementAndEscapesQuotesAndBackslashes() {
        #expect(["a", "b"].postgresText == #"{"a","b"}"#)
        #expect([String]().postgresText == "{}")
        #expect([#"say "hi""#, #"C:\temp"#, "a,b", "{x}", "NULL", ""].postgresText
            == #"{"say \"hi\"","C:\\temp","a,b","{x}","NULL",""}"#)
        #expect(["Ελληνικά", "Tiếng Việt"].postgresText == #"{"Ελληνικά","Tiếng Việt"}"#)
        #expect([#""\"#, #"\""#, #"a""b\\c"#, "Nguyễn \"An\""].postgresText
            == #"{"\"\\","\\\"","a\"\"b\\\\c","Nguyễn \"An\""}"#)
    }

    @Test func arraysOfOptionalsBindNullElements() {
        let names: [String?] = ["a", nil, #"b"c"#]
        #expect(names.postgresText == #"{"a",NULL,"b\"c"}"#)
        let counts: [Int?] = [1, nil, -3]
        #expect(counts.postgresText == #"{"1",NULL,"-3"}"#)
        let flags: [Bool] = [true, false]
        #expect(flags.postgresText == #"{"t","f"}"#)
    }

    // MARK: Timestamps

    @Test func datesFormatAsUTCWithMicroseconds() {
        #expect(Date(timeIntervalSince1970: 0).postgresText == "1970-01-01T00:00:00.000000Z")
        #expect(Date(timeIntervalSince1970: 1_642_802_399.123456).postgresText == "2022-01-21T21:59:59.123456Z")
        #expect(Date(timeIntervalSince1970: -0.5).postgresText == "1969-12-31T23:59:59.500000Z")
        #expect(Date(timeIntervalSince1970: 951_782_400).postgresText == "2000-02-29T00:00:00.000000Z")
        #expect(Date(timeIntervalSince1970: -62_135_596_800 - 86_400).postgresText == "0001-12-31T00:00:00.000000Z BC")
    }

    @Test(arguments: [
        ("2022-01-21 23:59:59+02", 1_642_802_399.0),
        ("2022-01-21 21:59:59.123456+00", 1_642_802_399.123456),
        ("2022-01-22 03:29:59.5+05:30", 1_642_802_399.5),
        ("2022-01-21 17:29:59-04:30", 1_642_802_399.0),
        ("2022-01-21T21:59:59.123456Z", 1_642_802_399.123456),
        ("2022-01-21 21:59:59", 1_642_802_399.0),
        ("2022-01-21", 1_642_723_200.0),
        ("1853-06-30 23:59:59+01:24:36", -3_676_497_877.0),
    ])
    func timestampOutputParses(text: String, secondsSince1970: Double) throws {
        let date = try #require(parseTimestamp(text))
        #expect(abs(date.timeIntervalSince1970 - secondsSince1970) < 0.000_000_5)
    }

    @Test(arguments: ["", "infinity", "-infinity", "2022-01-21 25:00:00+00", "2022-13-01", "2022-01-21 21:59", "2022-01-21 21:59:59+"])
    func malformedTimestampsDoNotParse(text: String) {
        #expect(parseTimestamp(text) == nil)
    }

    @Test func timestampsRoundTripAtMicrosecondPrecision() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let micros = Int64.random(in: -2_000_000_000_000_000...4_000_000_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            let text = try #require(date.postgresText)
            let parsed = try #require(parseTimestamp(text), "\(text)")
            #expect(parsed.postgresText == text)
            #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_001)
        }
    }

    // MARK: Result decoding

    @Test func arrayOutputParses() {
        #expect(parseArray(#"{a,"b c",NULL}"#)! == ["a", "b c", nil])
        #expect(parseArray("{}")! == [])
        #expect(parseArray(#"{"a\"b","c\\d","NULL",""}"#)! == [#"a"b"#, #"c\d"#, "NULL", ""])
        #expect(parseArray("[0:1]={x,y}")! == ["x", "y"])
        #expect(parseArray("{Ελληνικά,\"Tiếng Việt\"}")! == ["Ελληνικά", "Tiếng Việt"])
        #expect(parseArray("{{1,2},{3,4}}") == nil)
        #expect(parseArray(#"{"open}"#) == nil)
        #expect(parseArray("a,b") == nil)
    }

    @Test func rowsDecodeByNameAndIndex() throws {
        let rows = PostgresRows(
            columns: ["id", "name", "score", "active", "created", "tags", "note"],
            rows: [
                ["42", "Trường Tiểu học", "9.5", "t", "2022-01-21 21:59:59.123456+00", #"{a,"b c",NULL}"#, nil],
                ["-1", "Σχολείο", "-Infinity", "f", "2022-01-21 23:59:59+02", "{}", "x"],
            ]
        )
        #expect(rows.count == 2)
        #expect(rows.columns == ["id", "name", "score", "active", "created", "tags", "note"])
        let first = rows[0]
        #expect(try first.int("id") == 42)
        #expect(try first.int(0) == 42)
        #expect(try first.string("name") == "Trường Tiểu học")
        #expect(try first.double("score") == 9.5)
        #expect(try first.bool("active"))
        #expect(try first.date("created") == Date(timeIntervalSince1970: 1_642_802_399.123456))
        #expect(try first.stringArray("tags") == ["a", "b c", nil])
        #expect(try first.optionalString("note") == nil)
        #expect(try first.isNull("note"))
        let second = try #require(rows.last)
        #expect(try second.double(2) == -.infinity)
        #expect(try second.bool("active") == false)
        #expect(try second.date("created") == Date(timeIntervalSince1970: 1_642_802_399))
        #expect(try second.stringArray("tags") == [])
        #expect(rows.map { (try? $0.int("id")) ?? 0 } == [42, -1])
    }

    @Test func decodingErrorsNameTheColumnButNotTheValue() throws {
        let rows = PostgresRows(columns: ["email", "note"], rows: [["alice@example.org", nil]])
        let row = rows[0]
        let notAnInt = #expect(throws: PostgresError.self) { try row.int("email") }
        #expect(notAnInt?.code == .decodingFailed)
        #expect(notAnInt?.column == "email")
        #expect(notAnInt?.description.contains("alice") == false)
        let null = #expect(throws: PostgresError.self) { try row.string("note") }
        #expect(null?.column == "note")
        #expect(null?.reason == "unexpected NULL")
        let missing = #expect(throws: PostgresError.self) { try row.string("nope") }
        #expect(missing?.column == "nope")
        #expect(throws: PostgresError.self) { try row.string(5) }
    }

    @Test func integersRejectOverflowAndGarbage() {
        #expect(parseInt("9223372036854775807") == Int.max)
        #expect(parseInt("-9223372036854775808") == Int.min)
        #expect(parseInt("9223372036854775808") == nil)
        #expect(parseInt("12a") == nil)
        #expect(parseInt("-") == nil)
        #expect(parseInt("") == nil)
    }

    // MARK: COPY

    @Test func copyRowsEscapeSeparatorsAndMarkNull() {
        var buffer: [UInt8] = []
        PostgresText.appendCopyRow(["a\tb", nil, "line1\nline2\r", #"back\slash"#, "\\N", "Ελ"], to: &buffer)
        let fields = [#"a\tb"#, #"\N"#, #"line1\nline2\r"#, #"back\\slash"#, #"\\N"#, "Ελ"]
        #expect(String(decoding: buffer, as: UTF8.self) == fields.joined(separator: "\t") + "\n")
    }

    // MARK: Errors

    @Test func errorDescriptionKeepsSQLStateAndConstraintButNoDetail() {
        let error = PostgresError(
            code: .queryFailed,
            sqlState: "23505",
            serverMessage: #"duplicate key value violates unique constraint "student_email_key""#,
            constraint: "student_email_key"
        )
        #expect(error.isUniqueViolation)
        #expect(!error.isSerializationFailure)
        #expect(!error.isConnectionError)
        #expect(error.description.contains("23505"))
        #expect(error.description.contains("student_email_key"))
        #expect(!error.description.contains("DETAIL"))
    }

    @Test func dataExceptionMessagesQuoteInputSoTheDescriptionElidesIt() {
        let error = PostgresError(
            code: .queryFailed,
            sqlState: "22P02",
            serverMessage: #"invalid input syntax for type integer: "Nguyễn Văn A""#
        )
        #expect(!error.description.contains("Nguyễn"))
        #expect(error.description.contains("22P02"))
        #expect(error.description.contains(#"invalid input syntax for type integer: "…""#))
        #expect(error.serverMessage?.contains("Nguyễn") == true)
    }

    @Test func connectionErrorsAreRecognised() {
        #expect(PostgresError(code: .connectionFailed).isConnectionError)
        #expect(PostgresError(code: .connectionLost).isConnectionError)
        #expect(PostgresError(code: .queryFailed, sqlState: "08006").isConnectionError)
        #expect(PostgresError(code: .queryFailed, sqlState: "57P01").isConnectionError)
        #expect(PostgresError(code: .queryFailed, sqlState: "40P01").isSerializationFailure)
        #expect(PostgresError(code: .queryFailed, sqlState: "40001").isSerializationFailure)
    }

    @Test(arguments: [
        "connection to server failed: invalid URI \"postgresql://schoolict:s3cr%40t@db:5432/x\"",
        "invalid connection option: password = 's3cr@t with space' user=x",
        "invalid URI query parameter: \"?password=s3cr@t&sslmode=require\"",
        "postgres://:s3cr@t@db/x",
    ])
    func passwordsAreRedactedFromLibpqMessages(message: String) {
        let redacted = PostgresError.redactingCredentials(in: message)
        #expect(!redacted.contains("s3cr"), "\(redacted)")
        let error = PostgresError(code: .connectionFailed, serverMessage: redacted)
        #expect(!error.description.contains("s3cr"))
    }

    @Test(arguments: [
        "host=127.0.0.1 password= s3cr@t user=x",
        "host=127.0.0.1 password='s3cr@t",
        "postgresql://x:s3cr@t@127.0.0.1:5432/db?password=s3cr@t&bogus",
    ])
    func malformedConnectionStringsAreRejectedWithoutEchoingThem(url: String) {
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(url: url) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isConnectionError == true)
        #expect(error?.description.contains("s3cr") == false, "\(String(describing: error))")
    }

    @Test func redactionKeepsHostAndUser() {
        let redacted = PostgresError.redactingCredentials(
            in: #"connection to server at "db.example" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user "schoolict""#
        )
        #expect(redacted.contains("db.example"))
        #expect(redacted.contains(#"user "schoolict""#))
    }

    // MARK: Helpers

    private func parseTimestamp(_ text: String) -> Date? {
        Array(text.utf8).withUnsafeBufferPointer(PostgresText.parseTimestamp)
    }

    private func parseArray(_ text: String) -> [String?]? {
        Array(text.utf8).withUnsafeBufferPointer(PostgresText.parseArray)
    }

    private func parseInt(_ text: String) -> Int? {
        Array(text.utf8).withUnsafeBufferPointer(PostgresText.parseInt)
    }
}
