import Foundation

/// A strict RFC 8259 parser into `JSONValue`: a nesting limit so that no body can exhaust the stack, a limit on
/// the number of values so that no body can make a tree much larger than itself, and no duplicate keys (RFC 8259
/// leaves them to the parser; taking the last one would let a body say two things at once).
public struct JSONParser {
    public struct Failure: Error, Sendable, Equatable {
        public var offset: Int
        public var reason: String
        /// The body broke a size limit (values), not the grammar: answered with `too_large`.
        public var isTooLarge = false

        public init(offset: Int, reason: String, isTooLarge: Bool = false) {
            self.offset = offset
            self.reason = reason
            self.isTooLarge = isTooLarge
        }
    }

    public static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0
    private var remainingValues: Int
    /// The members of the objects being read, innermost last.
    private var memberStack: [JSONObject.Member] = []
    /// The elements of the arrays being read, innermost last.
    private var elementStack: [JSONValue] = []

    private init(_ bytes: [UInt8], maximumValues: Int) {
        self.bytes = bytes
        remainingValues = maximumValues
    }

    /// Parses one JSON document; trailing non-whitespace is an error, and so is a document of more than
    /// `maximumValues` values.
    public static func parse(_ bytes: [UInt8], maximumValues: Int = .max) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes, maximumValues: maximumValues)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("unexpected data after the JSON value") }
        return value
    }

    private func failure(_ reason: String) -> Failure {
        Failure(offset: index, reason: reason)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth)") }
        guard index < bytes.count else { throw failure("unexpected end of input") }
        remainingValues -= 1
        guard remainingValues >= 0 else {
            throw Failure(offset: index, reason: "more JSON values than allowed", isTooLarge: true)
        }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end of input") }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw failure("invalid literal") }
        index += count
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject())
        }
        // Members are gathered on a stack shared by all the objects being read, then copied out once: one
        // allocation per object. Keys are compared with `==` (canonical equivalence, as a dictionary's are), by a
        // linear search in a small object and through a set past `JSONObject.indexThreshold` keys.
        let start = memberStack.count
        var keys: Set<String>?
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
            index += 1
            skipWhitespace()
            let keyOffset = index
            let value = try parseValue(depth: depth + 1)
            if keys != nil {
                guard keys!.insert(key).inserted else { throw Failure(offset: keyOffset, reason: "duplicate key") }
            } else {
                for position in start..<memberStack.count where memberStack[position].key == key {
                    throw Failure(offset: keyOffset, reason: "duplicate key")
                }
                if memberStack.count - start >= JSONObject.indexThreshold {
                    keys = Set(memberStack[start...].lazy.map(\.key))
                    keys!.insert(key)
                }
            }
            memberStack.append((key, value))
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                let object = JSONObject(uniqueMembers: Array(memberStack[start...]))
                memberStack.removeSubrange(start...)
                return .object(object)
            }
            throw failure("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        // As for objects: elements on a shared stack, copied out once.
        let start = elementStack.count
        while true {
            skipWhitespace()
            let element = try parseValue(depth: depth + 1)
            elementStack.append(element)
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                let array = Array(elementStack[start...])
                elementStack.removeSubrange(start...)
                return .array(array)
            }
            throw failure("expected ',' or ']'")
        }
    }

    private mutating func parseString() throws(Failure) -> String {
        index += 1
        let start = index
        // Fast path: no escapes, the string is its bytes.
        var asciiBits: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let end = index
                index += 1
                let text = bytes.withUnsafeBufferPointer { buffer in
                    Self.string(UnsafeBufferPointer(rebasing: buffer[start..<end]), isASCII: asciiBits < 0x80)
                }
                guard let text else { throw failure("invalid UTF-8") }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("control character in string") }
            asciiBits |= byte
            index += 1
        }
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                let text = buffer.withUnsafeBufferPointer { Self.string($0, isASCII: false) }
                guard let text else { throw failure("invalid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw failure("unexpected end of input") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                              bytes[index + 1] == UInt8(ascii: "u") else { throw failure("lone surrogate") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("lone surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid code point") }
                    buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw failure("invalid escape")
                }
            default:
                if byte < 0x20 { throw failure("control character in string") }
                buffer.append(byte)
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    /// The text of `utf8`, or `nil` when it is not valid UTF-8. Decoding repairs invalid input with U+FFFD, so
    /// valid input is exactly the input whose decoding gives back the same bytes. (Not `String(validating:)`:
    /// unspecialized generic code, measured as a large share of parsing.)
    private static func string(_ utf8: UnsafeBufferPointer<UInt8>, isASCII: Bool) -> String? {
        let text = String(decoding: utf8, as: UTF8.self)
        if isASCII { return text }
        return text.utf8.elementsEqual(utf8) ? text : nil
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("unexpected end of input") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(Failure) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw failure("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        } else {
            throw failure("invalid number")
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digits else { throw failure("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digits else { throw failure("invalid number") }
        }
        if isInteger, index - start <= 15 {
            var value = 0
            var negative = false
            for byte in bytes[start..<index] {
                if byte == UInt8(ascii: "-") { negative = true; continue }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return Double(negative ? -value : value)
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw failure("number out of range") }
        return value
    }
}
