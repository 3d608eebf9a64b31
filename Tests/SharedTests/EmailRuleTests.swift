import Shared
import Testing

@testable import Shared

@Suite("E-mail rule")
struct EmailRuleTests {
    /// The rule by characters, as ``FieldReader/isEmail(_:)`` applies it to non-ASCII text.
    static func byCharacters(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
              !parts[1].hasSuffix(".") else { return false }
        return text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" && $0 != "," }
    }

    @Test("the ASCII fast path answers as the rule by characters does")
    func asciiAgrees() {
        let fixed = ["th01@tdm.edu.vn", "a@b.c", "@b.c", "a@", "a@b", "a@.b", "a@b.", "a@@b.c", "a@b@c.d", "a b@c.d",
                     "a@b.c\r\n", "a\r\n@b.c", "<a@b.c>", "a,b@c.d", "a@b..c", "a.@b.c", "", "@", ".", "a@.", "x\u{7F}@b.c",
                     "mail@0551010.sch.gr", "a@b.c\t"]
        for text in fixed {
            #expect(FieldReader.isEmailASCII(text) == Self.byCharacters(text), "\(Array(text.utf8))")
        }
        let alphabet = Array("ab.@,<> \t\r\n\u{7F}Z9-_".unicodeScalars)
        var random = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<(Int(random.next() % 9)) { text.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            let string = String(text)
            #expect(FieldReader.isEmailASCII(string) == Self.byCharacters(string), "\(Array(string.utf8))")
        }
    }

    @Test("non-ASCII text takes the rule by characters")
    func nonASCII() {
        #expect(FieldReader.isEmailASCII("é@b.c") == nil)
        for text in ["é@b.c", "a@ví.vn", "a@\u{301}b.c", "a\u{A0}@b.c", "a@b\u{85}.c", "Nguyễn@trường.vn"] {
            #expect(FieldReader.isEmail(text) == Self.byCharacters(text))
        }
    }
}
