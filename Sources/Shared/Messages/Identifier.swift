/// The rules for code-like identifiers: campaigns, school codes, student refs, serials, donation refs.
///
/// 1–100 characters, each a letter, a combining mark or a digit (any script) or one of `- _ . / : # +`: no spaces,
/// quotes, angle brackets or control characters, so an identifier is safe in a log line, a file name, an e-mail
/// and a URL path, and an outcome may echo it back.
public enum Identifier {
    public static let rule = "must be 1-100 letters, digits and - _ . / : # + only"

    public static func isValid(_ text: String) -> Bool {
        if let ascii = isValidASCII(text) { return ascii }
        var count = 0
        for scalar in text.unicodeScalars {
            count += 1
            guard count <= MessageLimits.maximumIdentifierLength else { return false }
            switch scalar {
            case "-", "_", ".", "/", ":", "#", "+": continue
            default:
                switch scalar.properties.generalCategory {
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                     .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                    continue
                default:
                    return false
                }
            }
        }
        return count > 0
    }

    /// ``isValid(_:)`` by bytes for ASCII text (almost every identifier), where a letter or digit is `A-Z`, `a-z`
    /// or `0-9` (no other ASCII character is in the general categories allowed): `nil` for any other text.
    /// Looking up each character's general category was a measurable share of decoding a message.
    static func isValidASCII(_ text: String) -> Bool? {
        var text = text
        return text.withUTF8 { bytes -> Bool? in
            var valid = !bytes.isEmpty && bytes.count <= MessageLimits.maximumIdentifierLength
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                     UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "#"), UInt8(ascii: "+"):
                    continue
                case 0x80...: return nil
                default: valid = false
                }
            }
            return valid
        }
    }

    /// The value when it is a string meeting the rules: what an outcome or a log line may echo back.
    public static func echoed(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, isValid(text) else { return nil }
        return text
    }
}
