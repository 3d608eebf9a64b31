/// The rules for code-like identifiers: campaigns, school codes, student refs, serials, donation refs.
///
/// 1–100 characters, each a letter, a combining mark or a digit (any script) or one of `- _ . / : # +`: no spaces,
/// quotes, angle brackets or control characters, so an identifier is safe in a log line, a file name, an e-mail
/// and a URL path, and an outcome may echo it back.
public enum Identifier {
    public static let rule = "must be 1-100 letters, digits and - _ . / : # + only"

    public static func isValid(_ text: String) -> Bool {
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

    /// The value when it is a string meeting the rules: what an outcome or a log line may echo back.
    public static func echoed(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, isValid(text) else { return nil }
        return text
    }
}
