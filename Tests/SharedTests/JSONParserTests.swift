import Foundation
import Testing

@testable import Shared

@Suite("JSONParser")
struct JSONParserTests {
    static func parse(_ text: String) throws(JSONParser.Failure) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    struct ValidCase: Sendable, CustomTestStringConvertible {
        var text: String
        var expected: JSONValue
        var testDescription: String { text }
    }

    static let validCases: [ValidCase] = [
        .init(text: "null", expected: .null),
        .init(text: "true", expected: true),
        .init(text: "false", expected: false),
        .init(text: "0", expected: 0),
        .init(text: "-0", expected: 0),
        .init(text: "123", expected: 123),
        .init(text: "-42", expected: -42),
        .init(text: "3.25", expected: 3.25),
        .init(text: "1e3", expected: 1000),
        .init(text: "1E-2", expected: 0.01),
        .init(text: "-1.5e+2", expected: -150),
        .init(text: "999999999999999", expected: .number(999_999_999_999_999)),
        .init(text: "12345678901234567890", expected: .number(12_345_678_901_234_567_890.0)),
        .init(text: " \t\r\n{} \n", expected: .object([:])),
        .init(text: "[]", expected: .array([])),
        .init(text: "[ 1 , \"x\" , [ ] , { } ]", expected: [1, "x", .array([]), .object([:])]),
        .init(text: #"{"a":1,"b":[true,null,"x"],"c":{"d":-2.5}}"#,
              expected: ["a": 1, "b": [true, .null, "x"], "c": ["d": -2.5]]),
        .init(text: #""""#, expected: ""),
        .init(text: #""\u00e9\u00C9""#, expected: "éÉ"),
        .init(text: #""\u0041\u03a9\u0000""#, expected: "AΩ\u{0}"),
        .init(text: #""\ud83d\ude00""#, expected: "😀"),
        .init(text: #""\uD834\uDD1E clef""#, expected: "𝄞 clef"),
        .init(text: #""\"\\\/\b\f\n\r\t""#, expected: "\"\\/\u{8}\u{C}\n\r\t"),
        .init(text: #""Κτηματολόγιο υποδομών Τ.Π.Ε. των σχολείων""#,
              expected: "Κτηματολόγιο υποδομών Τ.Π.Ε. των σχολείων"),
        .init(text: #""\u0395\u0399\u03a3\u0391\u0393\u03a9\u0393\u0397""#, expected: "ΕΙΣΑΓΩΓΗ"),
        .init(text: #"{"full_name":"Nguyễn Văn An","school":"Sóng và máy tính cho em"}"#,
              expected: ["full_name": "Nguyễn Văn An", "school": "Sóng và máy tính cho em"]),
        // Escapes and raw UTF-8 mixed in one string (takes the slow path after the first escape).
        .init(text: #""Nguy\u1ec5n V\u0103n \"An\" – Công ty""#, expected: "Nguyễn Văn \"An\" – Công ty"),
        .init(text: #"{"Ωμέγα":{"ễ":[]}}"#, expected: ["Ωμέγα": ["ễ": .array([])]]),
    ]

    @Test("a document with more values than allowed fails as too large, one within the bound parses")
    func valueLimit() throws {
        let array = "[" + Array(repeating: "0", count: 1000).joined(separator: ",") + "]"
        #expect(throws: Never.self) { try JSONParser.parse(Array(array.utf8), maximumValues: 1001) }
        do {
            _ = try JSONParser.parse(Array(array.utf8), maximumValues: 1000)
            Issue.record("1001 values parsed under a limit of 1000")
        } catch {
            #expect(error.isTooLarge)
        }
    }

    @Test("valid documents parse to the expected value", arguments: validCases)
    func valid(_ testCase: ValidCase) throws {
        #expect(try Self.parse(testCase.text) == testCase.expected)
    }

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        /// A fragment of the failure's reason.
        var reason: String
        var testDescription: String { name }

        init(_ name: String, _ text: String, _ reason: String) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.reason = reason
        }

        init(_ name: String, bytes: [UInt8], _ reason: String) {
            self.name = name
            self.bytes = bytes
            self.reason = reason
        }
    }

    static let invalidCases: [InvalidCase] = [
        .init("empty", "", "end of input"),
        .init("whitespace only", " \n ", "end of input"),
        .init("trailing garbage after an object", #"{"a":1} x"#, "after the JSON value"),
        .init("two documents", "{} {}", "after the JSON value"),
        .init("trailing garbage after a number", "12abc", "after the JSON value"),
        .init("trailing comma in an array", "[1,]", "unexpected character"),
        .init("trailing comma in an object", #"{"a":1,}"#, "expected a key"),
        .init("a duplicate key", #"{"a":1,"a":2}"#, "duplicate key"),
        .init("a duplicate key in a nested object", #"{"a":{"b":1,"c":2,"b":1}}"#, "duplicate key"),
        .init("keys equal after Unicode normalisation", "{\"\u{e9}\":1,\"e\u{301}\":2}", "duplicate key"),
        .init("a duplicate key after 20 others (the hashed check)",
              "{" + (0..<20).map { #""k\#($0)":0,"# }.joined() + #""k3":1}"#, "duplicate key"),
        .init("keys equal after Unicode normalisation after 20 others",
              "{" + (0..<20).map { #""k\#($0)":0,"# }.joined() + "\"\u{e9}\":1,\"e\u{301}\":2}", "duplicate key"),
        .init("missing colon", #"{"a" 1}"#, "expected ':'"),
        .init("unquoted key", "{a:1}", "expected a key"),
        .init("single quotes", "'x'", "unexpected character"),
        .init("missing comma in an array", "[1 2]", "expected ',' or ']'"),
        .init("missing comma in an object", #"{"a":1 "b":2}"#, "expected ',' or '}'"),
        .init("unterminated array", "[1,2", "end of input"),
        .init("unterminated object", #"{"a":1"#, "end of input"),
        .init("unterminated string", #""abc"#, "unterminated string"),
        .init("unterminated string after an escape", #""a\nbc"#, "unterminated string"),
        .init("unterminated escape", #""abc\"#, "end of input"),
        .init("truncated literal", "tru", "end of input"),
        .init("wrong literal", "nul1", "invalid literal"),
        .init("capitalised literal", "True", "unexpected character"),
        .init("leading zero", "01", "after the JSON value"),
        .init("lone minus", "-", "invalid number"),
        .init("minus without digits", "-x", "invalid number"),
        .init("fraction without digits", "1.", "invalid number"),
        .init("leading dot", ".5", "unexpected character"),
        .init("exponent without digits", "1e", "invalid number"),
        .init("signed exponent without digits", "1e+", "invalid number"),
        .init("leading plus", "+1", "unexpected character"),
        .init("hexadecimal", "0x10", "after the JSON value"),
        .init("NaN", "NaN", "unexpected character"),
        .init("Infinity", "-Infinity", "invalid number"),
        .init("number out of range", "1e400", "out of range"),
        .init("lone high surrogate", #""\ud800""#, "lone surrogate"),
        .init("lone high surrogate before text", #""\ud800abc""#, "lone surrogate"),
        .init("lone low surrogate", #""\udc00""#, "lone surrogate"),
        .init("high surrogate with a non-surrogate", #""\ud800\u0041""#, "invalid surrogate pair"),
        .init("invalid escape", #""\x41""#, "invalid escape"),
        .init("bad hex digit", #""\u12G4""#, "invalid \\u escape"),
        .init("short \\u escape", #"["\u12"]"#, "invalid \\u escape"),
        .init("\\u escape cut by the end of input", #""\u12"#, "end of input"),
        .init("raw control character", "\"a\u{01}b\"", "control character"),
        .init("raw newline in a string", "\"a\nb\"", "control character"),
        .init("raw tab in a string", "\"a\tb\"", "control character"),
        .init("raw control character after an escape", "\"\\n\u{1F}\"", "control character"),
        .init("invalid UTF-8", bytes: [0x22, 0xFF, 0x22], "invalid UTF-8"),
        .init("overlong UTF-8", bytes: [0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8"),
        .init("a UTF-8 encoded surrogate", bytes: [0x22, 0x61, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8"),
        .init("a code point above U+10FFFF", bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8"),
        .init("a truncated sequence before the quote", bytes: [0x22, 0xE1, 0xBB, 0x22], "invalid UTF-8"),
        .init("a continuation byte alone", bytes: [0x22, 0x41, 0x80, 0x41, 0x22], "invalid UTF-8"),
        .init("truncated UTF-8 after an escape", bytes: [0x22, 0x5C, 0x6E, 0xE1, 0xBB, 0x22], "invalid UTF-8"),
        .init("unexpected closing bracket", "]", "unexpected character"),
    ]

    @Test("invalid documents throw", arguments: invalidCases)
    func invalid(_ testCase: InvalidCase) {
        let error = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(testCase.bytes) }
        #expect(error?.reason.contains(testCase.reason) == true, "reason: \(error?.reason ?? "none")")
    }

    @Test("the failure reports the byte offset")
    func offset() throws {
        let error = #expect(throws: JSONParser.Failure.self) { try Self.parse(#"{"a":1} x"#) }
        #expect(error?.offset == 8)
        let comma = #expect(throws: JSONParser.Failure.self) { try Self.parse("[1 2]") }
        #expect(comma?.offset == 3)
    }

    @Test("64 levels of nesting parse; 65 throw")
    func depthLimit() throws {
        #expect(JSONParser.maximumDepth == 64)
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        var value = try Self.parse(deepest)
        var depth = 0
        while case .array(let elements) = value, let first = elements.first {
            value = first
            depth += 1
        }
        #expect(depth == 63)

        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let error = #expect(throws: JSONParser.Failure.self) { try Self.parse(tooDeep) }
        #expect(error?.reason.contains("nesting") == true)

        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        let objectError = #expect(throws: JSONParser.Failure.self) { try Self.parse(objects) }
        #expect(objectError?.reason.contains("nesting") == true)
    }

    @Test("a 100000-deep body throws instead of exhausting the stack")
    func hostileNesting() {
        let open = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        let error = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(open) }
        #expect(error?.reason.contains("nesting") == true)
        #expect(error?.offset == 64)

        let closed = open + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(closed) }

        let objects = Array(String(repeating: #"{"k":"#, count: 100_000).utf8)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(objects) }
    }

    struct OffsetCase: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var offset: Int
        var reason: String
        var testDescription: String { "\(reason) at \(offset)" }
    }

    /// Offsets and reasons exactly, for the checks done on bytes (strings without escapes, duplicate keys).
    static let offsetCases: [OffsetCase] = [
        .init(bytes: Array(#"{"a":"x\#u{1}"}"#.utf8), offset: 7, reason: "control character in string"),
        .init(bytes: [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x22, 0x7D], offset: 8, reason: "invalid UTF-8"),
        .init(bytes: [0x22, 0x5C, 0x6E, 0xFF, 0x22], offset: 5, reason: "invalid UTF-8"),
        .init(bytes: Array(#"{"a":1, "a" : [2]}"#.utf8), offset: 14, reason: "duplicate key"),
        .init(bytes: Array(("{" + (0..<20).map { #""k\#($0)":0,"# }.joined() + #""k19":{}}"#).utf8), offset: 157,
              reason: "duplicate key"),
        // The value is read before the key is checked: an error inside it comes first.
        .init(bytes: Array(#"{"a":1,"a":[1,}"#.utf8), offset: 14, reason: "unexpected character"),
    ]

    @Test("failures of the byte-level checks report the same offsets", arguments: offsetCases)
    func offsets(_ testCase: OffsetCase) {
        #expect(throws: JSONParser.Failure(offset: testCase.offset, reason: testCase.reason)) {
            try JSONParser.parse(testCase.bytes)
        }
    }

    @Test("strings without escapes: ASCII, non-ASCII and mixed text read exactly")
    func unescapedStrings() throws {
        for text in ["", "a", "HS-0001", String(repeating: "x", count: 300), "é", "Nguyễn Văn An", "😀", "e\u{301}",
                     "\u{7F}\u{80}\u{85}\u{FEFF}", "a\u{10FFFF}z", "Ωμέγα " + String(repeating: "ễ", count: 100)] {
            #expect(try JSONParser.parse(Array("\"\(text)\"".utf8)) == .string(text))
            #expect(try JSONParser.parse(Array("{\"\(text)\":1}".utf8))[text] == 1)
        }
    }

    @Test("objects keep their members in document order; many members are found through the index")
    func objectMembers() throws {
        let keys = (0..<40).map { "key-\($0 * 7 % 40)" }
        let text = "{" + keys.enumerated().map { #""\#($1)":\#($0)"# }.joined(separator: ",") + "}"
        guard case .object(let object) = try JSONParser.parse(Array(text.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == keys)
        for (position, key) in keys.enumerated() { #expect(object[key] == .int(position)) }
        #expect(object["key-40"] == nil)
    }

    // MARK: - Serialization

    @Test("objects serialize compactly with keys in sorted order")
    func sortedKeys() {
        let value: JSONValue = ["b": 1, "a": [true, .null, "x"], "c": ["z": 0, "A": false], "_": 2.5, "aa": "y"]
        #expect(value.jsonString == #"{"_":2.5,"a":[true,null,"x"],"aa":"y","b":1,"c":{"A":false,"z":0}}"#)
        // Same value, different insertion order: same bytes.
        let reordered: JSONValue = ["aa": "y", "c": ["A": false, "z": 0], "_": 2.5, "b": 1, "a": [true, .null, "x"]]
        #expect(reordered.serialized() == value.serialized())
    }

    @Test("strings are escaped; non-ASCII text is written as UTF-8")
    func escaping() {
        let text: JSONValue = .string("q\"b\\s/n\nr\rt\t\u{1}\u{8}\u{1F}Ωễ😀")
        #expect(text.jsonString == #""q\"b\\s/n\nr\rt\t\u0001\u0008\u001fΩễ😀""#)
        #expect(JSONValue.string("\"\"\\x\n").jsonString == #""\"\"\\x\n""#)
        #expect(JSONValue.string("\u{0}").jsonString == #""\u0000""#)
        let key: JSONValue = ["a\"b": "Nguyễn"]
        #expect(key.jsonString == #"{"a\"b":"Nguyễn"}"#)
    }

    @Test("numbers: integers without a fraction, others in full, non-finite as null")
    func numbers() {
        #expect(JSONValue.number(12).jsonString == "12")
        #expect(JSONValue.number(-3).jsonString == "-3")
        #expect(JSONValue.number(-0.0).jsonString == "0")
        #expect(JSONValue.number(2.5).jsonString == "2.5")
        #expect(JSONValue.number(0.1).jsonString == "0.1")
        #expect(JSONValue.number(999_999_999_999_999).jsonString == "999999999999999")
        #expect(JSONValue.number(-999_999_999_999_999).jsonString == "-999999999999999")
        #expect(JSONValue.number(10).jsonString == "10")
        #expect(JSONValue.number(-7).jsonString == "-7")
        #expect(JSONValue.number(.nan).jsonString == "null")
        #expect(JSONValue.number(.infinity).jsonString == "null")
        #expect(JSONValue.int(7) == .number(7))
        #expect(JSONValue.optional(nil) == .null)
        #expect(JSONValue.optional("x") == .string("x"))
    }

    static let roundTripValues: [JSONValue] = [
        .null, true, 0, -17, 2.5, 1e300, -1.25e-7, "",
        "Κτηματολόγιο υποδομών Τ.Π.Ε.", "Nguyễn Văn An", "😀 \u{0} \u{1F} \" \\ / \n",
        ["students": [["student_ref": "HS-0001", "full_name": "Nguyễn Văn An", "grade": 4]], "n": .null],
        [[[[1, 2, [3]]]], ["x": ["y": ["z": "Ω"]]]],
    ]

    @Test("serialize then parse gives the same value", arguments: roundTripValues)
    func roundTrip(_ value: JSONValue) throws {
        let bytes = value.serialized()
        #expect(try JSONParser.parse(bytes) == value)
        // Serialization is canonical: a second round gives the same bytes.
        #expect(try JSONParser.parse(bytes).serialized() == bytes)
    }

    @Test("parse then serialize canonicalises a contract example")
    func canonical() throws {
        let text = """
            {"campaign": "vn-song-2021", "school_code": "TDM-TH-01", "submitted_by": "th01@tdm.edu.vn",
             "submitted_at": "2021-11-18T10:00:00+07:00",
             "students": [{"student_ref": "HS-0001", "full_name": "Nguyễn Văn An", "grade": 4,
                           "category": "covid_orphan"}]}
            """
        let expected = #"{"campaign":"vn-song-2021","school_code":"TDM-TH-01","students":[{"category":"covid_orphan","# +
            #""full_name":"Nguyễn Văn An","grade":4,"student_ref":"HS-0001"}],"submitted_at":"2021-11-18T10:00:00+07:00","# +
            #""submitted_by":"th01@tdm.edu.vn"}"#
        #expect(try Self.parse(text).jsonString == expected)
    }

    @Test("accessors")
    func accessors() throws {
        let value = try Self.parse(#"{"s":"x","i":3,"f":3.5,"a":[1],"n":null}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["f"]?.intValue == nil)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["n"] == .null)
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([1])["s"] == nil)
        #expect(value["i"]?.stringValue == nil)
    }
}
