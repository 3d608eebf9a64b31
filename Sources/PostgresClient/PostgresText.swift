import Foundation

/// PostgreSQL's text formats: writing parameters and `COPY` data, reading result values.
///
/// Hand-written rather than via `DateFormatter`/`ISO8601DateFormatter` because those stop at
/// milliseconds and are slow on the decoding path; PostgreSQL timestamps carry microseconds.
enum PostgresText {
    private static let microsecondsPerSecond: Int64 = 1_000_000
    private static let secondsPerDay: Int64 = 86_400
    /// 2001-01-01T00:00:00Z, `Date`'s reference date, in microseconds since 1970.
    private static let referenceDateMicroseconds: Int64 = 978_307_200 * 1_000_000

    // MARK: Timestamps

    /// `2022-01-21T21:59:59.123456Z`, years before 1 AD with PostgreSQL's ` BC` suffix.
    static func timestamp(_ date: Date) -> String {
        // `Date` stores seconds since 2001 as a Double; scaling that value directly (rather than
        // `timeIntervalSince1970`, one more rounding step) keeps microseconds exact across centuries.
        let scaled = (date.timeIntervalSinceReferenceDate * 1_000_000).rounded()
        // Far beyond PostgreSQL's range Int64 microseconds overflow; clamping lets the server
        // reject the value with a proper error.
        let micros = Int64(max(min(scaled, 9.0e18), -9.0e18)) + referenceDateMicroseconds
        let seconds = floorDivide(micros, microsecondsPerSecond)
        let fraction = micros - seconds * microsecondsPerSecond
        let days = floorDivide(seconds, secondsPerDay)
        let secondOfDay = seconds - days * secondsPerDay
        let civil = CivilCalendar.date(fromDaysSinceEpoch: Int(days))
        let (year, month, day) = (Int64(civil.year), Int64(civil.month), Int64(civil.day))

        var bytes: [UInt8] = []
        bytes.reserveCapacity(30)
        let isBC = year <= 0
        appendDigits(isBC ? 1 - year : year, width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3600, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(fraction, width: 6, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        if isBC { bytes.append(contentsOf: " BC".utf8) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses `timestamptz`/`timestamp`/`date` output in the ISO DateStyle:
    /// `2022-01-21 23:59:59+02`, `2022-01-21 21:59:59.123456+00`, `… +05:30`, `2022-01-21`,
    /// optionally followed by ` BC`. A missing offset means UTC. Returns `nil` for anything
    /// else, including `infinity`, which `Date` cannot represent faithfully.
    static func parseTimestamp(_ text: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = ByteScanner(text)
        guard var year = scanner.readNumber(minDigits: 4, maxDigits: 9),
            scanner.consume(UInt8(ascii: "-")),
            let month = scanner.readNumber(minDigits: 2, maxDigits: 2),
            scanner.consume(UInt8(ascii: "-")),
            let day = scanner.readNumber(minDigits: 2, maxDigits: 2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }

        var secondOfDay: Int64 = 0
        var fraction: Int64 = 0
        var offsetSeconds: Int64 = 0
        if scanner.consume(UInt8(ascii: " ")) || scanner.consume(UInt8(ascii: "T")) {
            guard let hour = scanner.readNumber(minDigits: 2, maxDigits: 2),
                scanner.consume(UInt8(ascii: ":")),
                let minute = scanner.readNumber(minDigits: 2, maxDigits: 2),
                scanner.consume(UInt8(ascii: ":")),
                let second = scanner.readNumber(minDigits: 2, maxDigits: 2),
                hour <= 24, minute < 60, second <= 60
            else { return nil }
            secondOfDay = hour * 3600 + minute * 60 + second
            if scanner.consume(UInt8(ascii: ".")) {
                var digits = 0
                while let digit = scanner.peekDigit() {
                    scanner.advance()
                    if digits < 6 {
                        fraction = fraction * 10 + digit
                        digits += 1
                    }
                }
                guard digits > 0 else { return nil }
                for _ in digits..<6 { fraction *= 10 }
            }
            if scanner.consume(UInt8(ascii: "Z")) {
                offsetSeconds = 0
            } else if let sign = scanner.peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                scanner.advance()
                guard let hours = scanner.readNumber(minDigits: 2, maxDigits: 2) else { return nil }
                var offset = hours * 3600
                _ = scanner.consume(UInt8(ascii: ":"))
                if let minutes = scanner.readNumber(minDigits: 2, maxDigits: 2) {
                    offset += minutes * 60
                    _ = scanner.consume(UInt8(ascii: ":"))
                    if let seconds = scanner.readNumber(minDigits: 2, maxDigits: 2) {
                        offset += seconds
                    }
                }
                offsetSeconds = sign == UInt8(ascii: "-") ? -offset : offset
            }
        }
        if scanner.consume(bytes: " BC") {
            year = 1 - year
        }
        guard scanner.isAtEnd else { return nil }

        let days = Int64(CivilCalendar.daysSinceEpoch(year: Int(year), month: Int(month), day: Int(day)))
        let seconds = days * secondsPerDay + secondOfDay - offsetSeconds
        let micros = seconds * microsecondsPerSecond + fraction
        return Date(timeIntervalSinceReferenceDate: Double(micros - referenceDateMicroseconds) / 1_000_000)
    }

    // MARK: Numbers and booleans

    /// A base-10 integer with an optional sign; `nil` on anything else or on overflow.
    static func parseInt(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        var negative = false
        if let first = text.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            index = 1
        }
        guard index < text.count else { return nil }
        var value = 0
        while index < text.count {
            let digit = Int(text[index]) - 48
            guard (0...9).contains(digit) else { return nil }
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            // Accumulating negatively reaches Int.min, whose magnitude Int.max cannot hold.
            let (next, overflowB) = negative
                ? shifted.subtractingReportingOverflow(digit)
                : shifted.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            value = next
            index += 1
        }
        return value
    }

    static func parseBool(_ text: UnsafeBufferPointer<UInt8>) -> Bool? {
        if text.count == 1 {
            switch text[0] {
            case UInt8(ascii: "t"): return true
            case UInt8(ascii: "f"): return false
            default: return nil
            }
        }
        switch String(decoding: text, as: UTF8.self).lowercased() {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// `float8` output, including `Infinity`, `-Infinity` and `NaN`.
    static func parseDouble(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
        let string = String(decoding: text, as: UTF8.self)
        switch string {
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        case "NaN": return .nan
        default: return Double(string)
        }
    }

    // MARK: Arrays

    /// `{"a","b \"c\"",NULL}` from the elements' own text forms.
    ///
    /// Written into bytes, runs without a `"` or `\\` copied whole, and without generic sequence adapters: it runs
    /// unspecialized (through `Array`'s conformance), where each adapter type is a metadata lookup per call.
    static func arrayLiteral<Element: PostgresBindable>(_ elements: [Element]) -> String {
        var literal: [UInt8] = []
        literal.reserveCapacity(2 + elements.count * 16)
        literal.append(UInt8(ascii: "{"))
        var index = 0
        while index < elements.count {
            if index > 0 { literal.append(UInt8(ascii: ",")) }
            appendArrayElement(elements[index].postgresText, to: &literal)
            index += 1
        }
        literal.append(UInt8(ascii: "}"))
        return String(decoding: literal, as: UTF8.self)
    }

    private static func appendArrayElement(_ text: String?, to literal: inout [UInt8]) {
        guard var text else {
            literal.append(contentsOf: "NULL".utf8)
            return
        }
        literal.append(UInt8(ascii: "\""))
        text.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices where bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "\\") {
                literal.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                literal.append(UInt8(ascii: "\\"))
                start = index
            }
            literal.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        literal.append(UInt8(ascii: "\""))
    }

    /// Parses one-dimensional array output such as `{a,"b c",NULL}` (also `[0:1]={…}`).
    /// Returns `nil` for malformed or multi-dimensional input.
    static func parseArray(_ text: UnsafeBufferPointer<UInt8>) -> [String?]? {
        var scanner = ByteScanner(text)
        if scanner.peek() == UInt8(ascii: "[") {
            // Non-default bounds: the dimensions come before `=`; the elements are what matter.
            while let byte = scanner.peek(), byte != UInt8(ascii: "=") { scanner.advance() }
            guard scanner.consume(UInt8(ascii: "=")) else { return nil }
        }
        guard scanner.consume(UInt8(ascii: "{")) else { return nil }
        var elements: [String?] = []
        if scanner.consume(UInt8(ascii: "}")) {
            return scanner.isAtEnd ? elements : nil
        }
        var element: [UInt8] = []
        while true {
            element.removeAll(keepingCapacity: true)
            guard let first = scanner.peek(), first != UInt8(ascii: "{") else { return nil }
            if first == UInt8(ascii: "\"") {
                scanner.advance()
                var closed = false
                while let byte = scanner.peek() {
                    scanner.advance()
                    if byte == UInt8(ascii: "\\") {
                        guard let escaped = scanner.peek() else { return nil }
                        scanner.advance()
                        element.append(escaped)
                    } else if byte == UInt8(ascii: "\"") {
                        closed = true
                        break
                    } else {
                        element.append(byte)
                    }
                }
                guard closed else { return nil }
                elements.append(String(decoding: element, as: UTF8.self))
            } else {
                while let byte = scanner.peek(), byte != UInt8(ascii: ","), byte != UInt8(ascii: "}") {
                    scanner.advance()
                    if byte == UInt8(ascii: "\\") {
                        guard let escaped = scanner.peek() else { return nil }
                        scanner.advance()
                        element.append(escaped)
                    } else {
                        element.append(byte)
                    }
                }
                let isNull = element.count == 4
                    && element.map { $0 | 0x20 } == Array("null".utf8)
                elements.append(isNull ? nil : String(decoding: element, as: UTF8.self))
            }
            if scanner.consume(UInt8(ascii: ",")) { continue }
            guard scanner.consume(UInt8(ascii: "}")), scanner.isAtEnd else { return nil }
            return elements
        }
    }

    // MARK: COPY

    /// Appends one row in `COPY … FROM STDIN` text format: tab-separated, `\N` for `NULL`,
    /// backslash, tab, newline and carriage return escaped, terminated by a newline.
    static func appendCopyRow(_ row: [String?], to buffer: inout [UInt8]) {
        for (index, value) in row.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: "\t")) }
            guard var value else {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                continue
            }
            // Runs without a byte to escape are copied whole: most values (a jsonb array of lines, an outcome) have
            // none, and appending byte by byte was the worker's largest cost per message.
            value.withUTF8 { bytes in
                var start = 0
                for index in bytes.indices {
                    let escaped: UInt8
                    switch bytes[index] {
                    case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
                    case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
                    case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
                    case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
                    default: continue
                    }
                    buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    buffer.append(UInt8(ascii: "\\"))
                    buffer.append(escaped)
                    start = index + 1
                }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
            }
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    // MARK: Helpers

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    private static func appendDigits(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
        var digits: [UInt8] = []
        var remaining = value
        repeat {
            digits.append(UInt8(48 + remaining % 10))
            remaining /= 10
        } while remaining > 0
        if digits.count < width {
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits.count))
        }
        bytes.append(contentsOf: digits.reversed())
    }
}

extension PostgresText {
    /// A cursor over a value's bytes for the parsers above.
    fileprivate struct ByteScanner {
        private let bytes: UnsafeBufferPointer<UInt8>
        private var index = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        var isAtEnd: Bool { index >= bytes.count }

        func peek() -> UInt8? {
            index < bytes.count ? bytes[index] : nil
        }

        func peekDigit() -> Int64? {
            guard let byte = peek(), byte >= 48, byte <= 57 else { return nil }
            return Int64(byte - 48)
        }

        mutating func advance() {
            index += 1
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            index += 1
            return true
        }

        mutating func consume(bytes expected: String) -> Bool {
            let utf8 = expected.utf8
            guard bytes.count - index >= utf8.count,
                zip(bytes[index...], utf8).allSatisfy({ $0 == $1 })
            else { return false }
            index += utf8.count
            return true
        }

        mutating func readNumber(minDigits: Int, maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var count = 0
            while count < maxDigits, let digit = peekDigit() {
                value = value * 10 + digit
                count += 1
                index += 1
            }
            return count >= minDigits ? value : nil
        }
    }
}
