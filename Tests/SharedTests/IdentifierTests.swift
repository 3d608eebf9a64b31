import Testing

@testable import Shared

@Suite("Identifier")
struct IdentifierTests {
    /// The rule by general category alone, as ``Identifier/isValid(_:)`` applies it to non-ASCII text.
    static func byCategory(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard (1...MessageLimits.maximumIdentifierLength).contains(scalars.count) else { return false }
        return scalars.allSatisfy { scalar in
            if "-_./:#+".unicodeScalars.contains(scalar) { return true }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark,
                 .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                return true
            default:
                return false
            }
        }
    }

    @Test("the ASCII fast path answers as the general categories do, for every ASCII character")
    func everyASCIICharacter() {
        for value in UInt8(0)..<0x80 {
            let character = String(UnicodeScalar(value))
            for text in [character, "A" + character, character + "9", "x-" + character + "-y"] {
                #expect(Identifier.isValidASCII(text) == Self.byCategory(text), "\(value)")
                #expect(Identifier.isValid(text) == Self.byCategory(text), "\(value)")
            }
        }
    }

    @Test("lengths and non-ASCII text")
    func lengthsAndScripts() {
        #expect(!Identifier.isValid(""))
        #expect(Identifier.isValid(String(repeating: "a", count: 100)))
        #expect(!Identifier.isValid(String(repeating: "a", count: 101)))
        #expect(Identifier.isValidASCII("Ωa") == nil)
        for text in ["Ωμέγα", "TDM-TH-01", "Nguyễn", "e\u{301}", "٣٤", "a b", "a\u{A0}b", "x\u{85}", String(repeating: "é", count: 100),
                     String(repeating: "é", count: 101), "ª", "a\u{200B}", "😀", "Ⅻ"] {
            #expect(Identifier.isValid(text) == Self.byCategory(text), "\(text.unicodeScalars.map(\.value))")
        }
    }

    @Test("trimming: ASCII ends answer as Unicode White_Space does")
    func trimming() {
        for value in UInt8(0)..<0x80 {
            let character = String(UnicodeScalar(value))
            let isWhitespace = UnicodeScalar(value).properties.isWhitespace
            #expect(("a" + character).trimmingWhitespace() == (isWhitespace ? "a" : "a" + character))
            #expect((character + "a").trimmingWhitespace() == (isWhitespace ? "a" : character + "a"))
        }
        #expect(" \t x y \n".trimmingWhitespace() == "x y")
        #expect("\u{A0}x\u{3000}".trimmingWhitespace() == "x")
        #expect("x\u{85}".trimmingWhitespace() == "x")
        #expect("".trimmingWhitespace() == "")
        #expect("   ".trimmingWhitespace() == "")
    }
}
