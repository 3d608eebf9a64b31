/// Reads typed fields out of a JSON object, collecting every problem as a `FieldError`.
///
/// Error messages name the field and the rule, never the value. At most ``MessageLimits/maximumErrors`` errors
/// are kept; the rest are only counted (``omitted``), so a hostile body cannot grow its answer.
struct FieldReader {
    private(set) var errors: [FieldError] = []
    /// Errors found beyond ``MessageLimits/maximumErrors``.
    private(set) var omitted = 0

    var hasErrors: Bool { !errors.isEmpty }

    /// Every problem found, bounded.
    var failure: FieldErrors { FieldErrors(errors, omitted: omitted) }

    mutating func fail(_ field: String, _ message: String, code: RejectionCode = .invalidField) {
        guard errors.count < MessageLimits.maximumErrors else {
            omitted += 1
            return
        }
        errors.append(FieldError(code, field: field, message))
    }

    private static func path(_ prefix: String, _ key: String) -> String {
        prefix.isEmpty ? key : "\(prefix).\(key)"
    }

    /// The value at `key`; reports `is required` when absent or null and `required`.
    private mutating func value(_ object: JSONObject, _ key: String, _ prefix: String,
                                required: Bool) -> JSONValue? {
        switch object[key] {
        case nil, .null?:
            if required { fail(Self.path(prefix, key), "is required") }
            return nil
        case let value?:
            return value
        }
    }

    mutating func string(_ object: JSONObject, _ key: String, in prefix: String = "",
                         required: Bool = true, maxLength: Int = 200) -> String? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .string(let text) = value else {
            fail(Self.path(prefix, key), "must be a string, not \(value.typeName)")
            return nil
        }
        guard Self.hasNoControlCharacters(text) else {
            fail(Self.path(prefix, key), "must not contain control characters")
            return nil
        }
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty {
            if required { fail(Self.path(prefix, key), "must not be empty") }
            return nil
        }
        if trimmed.unicodeScalars.count > maxLength {
            fail(Self.path(prefix, key), "must be at most \(maxLength) characters")
            return nil
        }
        return trimmed
    }

    /// A code-like identifier (school code, campaign, student ref, serial): see ``isIdentifier(_:)``.
    mutating func identifier(_ object: JSONObject, _ key: String, in prefix: String = "",
                             required: Bool = true) -> String? {
        guard let text = string(object, key, in: prefix, required: required,
                                maxLength: MessageLimits.maximumIdentifierLength) else { return nil }
        guard Self.isIdentifier(text) else {
            fail(Self.path(prefix, key), Self.identifierRule)
            return nil
        }
        return text
    }

    static let identifierRule = Identifier.rule

    static func isIdentifier(_ text: String) -> Bool { Identifier.isValid(text) }

    static func echoedIdentifier(_ value: JSONValue?) -> String? { Identifier.echoed(value) }

    /// No C0 control (NUL included), DEL or C1 control anywhere: PostgreSQL stores no NUL, and the others have
    /// no place in a name, an address or a code.
    static func hasNoControlCharacters(_ text: String) -> Bool {
        !text.unicodeScalars.contains(where: \.isControl)
    }

    mutating func email(_ object: JSONObject, _ key: String, in prefix: String = "",
                        required: Bool = true) -> String? {
        guard let text = string(object, key, in: prefix, required: required, maxLength: 254) else { return nil }
        guard Self.isEmail(text) else {
            fail(Self.path(prefix, key), "must be an e-mail address")
            return nil
        }
        return text.lowercased()
    }

    static func isEmail(_ text: String) -> Bool {
        if let ascii = isEmailASCII(text) { return ascii }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
              !parts[1].hasSuffix(".") else { return false }
        return text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" && $0 != "," }
    }

    /// ``isEmail(_:)`` by bytes for ASCII text (each character one byte; CR LF, the one two-byte character, fails
    /// anyway), `nil` for any other text. Splitting by `Character` and Foundation's substring search were most of
    /// the cost of reading an address.
    static func isEmailASCII(_ text: String) -> Bool? {
        var text = text
        return text.withUTF8 { bytes -> Bool? in
            var at: Int?
            var valid = true
            for index in bytes.indices {
                switch bytes[index] {
                case 0x80...: return nil
                case UInt8(ascii: "@"):
                    if at != nil { valid = false }
                    at = index
                case 0...0x20, 0x7F, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ","): valid = false
                default: continue
                }
            }
            guard valid, let at, at > 0 else { return false }
            let domain = UnsafeBufferPointer(rebasing: bytes[(at + 1)...])
            return domain.contains(UInt8(ascii: ".")) && domain.first != UInt8(ascii: ".")
                && domain.last != UInt8(ascii: ".")
        }
    }

    mutating func integer(_ object: JSONObject, _ key: String, in prefix: String = "",
                          required: Bool = true, range: ClosedRange<Int>) -> Int? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .number(let number) = value, number.rounded() == number, abs(number) < 1e15 else {
            fail(Self.path(prefix, key), "must be a whole number")
            return nil
        }
        let integer = Int(number)
        guard range.contains(integer) else {
            fail(Self.path(prefix, key), "must be from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return integer
    }

    mutating func number(_ object: JSONObject, _ key: String, in prefix: String = "",
                         required: Bool = true, above lowerBound: Double, atMost upperBound: Double) -> Double? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .number(let number) = value else {
            fail(Self.path(prefix, key), "must be a number")
            return nil
        }
        guard number > lowerBound, number <= upperBound else {
            fail(Self.path(prefix, key), "must be greater than \(lowerBound) and at most \(upperBound)")
            return nil
        }
        return number
    }

    mutating func timestamp(_ object: JSONObject, _ key: String, in prefix: String = "",
                            required: Bool = true) -> ParsedTimestamp? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .string(let text) = value, let parsed = ISO8601.parse(text) else {
            fail(Self.path(prefix, key), "must be an ISO 8601 time with an offset, e.g. 2022-01-14T09:30:00+02:00")
            return nil
        }
        return parsed
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ object: JSONObject, _ key: String, in prefix: String = "", required: Bool = true,
        as type: Choice.Type = Choice.self
    ) -> Choice? where Choice.RawValue == String {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .string(let text) = value, let choice = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            fail(Self.path(prefix, key), "must be one of: \(allowed)")
            return nil
        }
        return choice
    }

    /// An array of at most `maxCount` entries; more is `invalid_field`, or `tooLargeCode` when given (the
    /// per-message caps of ``MessageLimits``).
    mutating func array(_ object: JSONObject, _ key: String, in prefix: String = "",
                        required: Bool = true, maxCount: Int, tooLargeCode: RejectionCode = .invalidField) -> [JSONValue]? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .array(let elements) = value else {
            fail(Self.path(prefix, key), "must be an array")
            return nil
        }
        guard elements.count <= maxCount else {
            fail(Self.path(prefix, key), "must have at most \(maxCount) entries", code: tooLargeCode)
            return nil
        }
        return elements
    }

    mutating func object(_ object: JSONObject, _ key: String, in prefix: String = "",
                         required: Bool = true) -> JSONObject? {
        guard let value = value(object, key, prefix, required: required) else { return nil }
        guard case .object(let fields) = value else {
            fail(Self.path(prefix, key), "must be an object")
            return nil
        }
        return fields
    }

    /// An element of an array that must be an object.
    mutating func element(_ value: JSONValue, at path: String) -> JSONObject? {
        guard case .object(let fields) = value else {
            fail(path, "must be an object")
            return nil
        }
        return fields
    }

    mutating func stringArray(_ object: JSONObject, _ key: String, in prefix: String = "",
                              required: Bool = true, maxCount: Int = 1000, maxLength: Int = 200) -> [String]? {
        guard let elements = array(object, key, in: prefix, required: required, maxCount: maxCount) else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element, !text.trimmingWhitespace().isEmpty else {
                fail("\(Self.path(prefix, key))[\(index)]", "must be a non-empty string")
                continue
            }
            guard Self.hasNoControlCharacters(text), text.unicodeScalars.count <= maxLength else {
                fail("\(Self.path(prefix, key))[\(index)]", "must be at most \(maxLength) characters without control characters")
                continue
            }
            result.append(text.trimmingWhitespace())
        }
        return result
    }

    /// An array of identifiers (serial numbers), each meeting ``isIdentifier(_:)``.
    mutating func identifierArray(_ object: JSONObject, _ key: String, in prefix: String = "",
                                  required: Bool = true, maxCount: Int) -> [String]? {
        guard let elements = array(object, key, in: prefix, required: required, maxCount: maxCount,
                                   tooLargeCode: .tooLarge) else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .string(let raw) = element else {
                fail("\(Self.path(prefix, key))[\(index)]", "must be a string, not \(element.typeName)")
                continue
            }
            let text = raw.trimmingWhitespace()
            guard Self.isIdentifier(text) else {
                fail("\(Self.path(prefix, key))[\(index)]", Self.identifierRule)
                continue
            }
            result.append(text)
        }
        return result
    }
}

extension String {
    func trimmingWhitespace() -> String {
        // ASCII ends (almost every value): White_Space there is only tab, LF, VT, FF, CR and space.
        if let first = utf8.first, let last = utf8.last, first < 0x80, last < 0x80 {
            func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
            if !isWhitespace(first), !isWhitespace(last) { return self }
        }
        guard let first = unicodeScalars.first, let last = unicodeScalars.last,
              first.properties.isWhitespace || last.properties.isWhitespace else { return self }
        let scalars = unicodeScalars.drop(while: { $0.properties.isWhitespace })
        let trimmed = scalars.reversed().drop(while: { $0.properties.isWhitespace }).reversed()
        var result = String.UnicodeScalarView()
        result.append(contentsOf: trimmed)
        return String(result)
    }
}
