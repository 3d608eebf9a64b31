import Foundation

/// The rules a `message_id` property must meet to be used as the idempotency key as sent.
///
/// An AMQP short string is any 0–255 bytes; the contract wants text. An id is taken as sent only when it is
/// 1–255 bytes of valid UTF-8 without control characters (C0, DEL, C1) and in Unicode normalisation form C:
/// then two ids that differ in their bytes also differ as Swift strings (which compare canonically) and as
/// PostgreSQL text (which keeps no NUL), so two messages can never be mistaken for each other. Any other id
/// is answered with a `malformed` outcome whose id is derived from the raw id bytes and the body
/// (``derivedForInvalid(rawID:body:)``), never from a cut or re-decoded id.
public enum MessageID {
    public static let maximumBytes = 255

    /// The id as text when `raw` meets the rules, else `nil`.
    public static func validated(_ raw: [UInt8]) -> String? {
        guard !raw.isEmpty, raw.count <= maximumBytes,
              let text = String(validating: raw, as: UTF8.self) else { return nil }
        guard !text.unicodeScalars.contains(where: \.isControl) else { return nil }
        if raw.contains(where: { $0 >= 0x80 }) {
            // Non-ASCII: only the NFC form, so canonically equivalent ids cannot be two different keys.
            guard Array(text.precomposedStringWithCanonicalMapping.utf8) == raw else { return nil }
        }
        return text
    }

    /// `id` when it fits an AMQP `message_id` (255 bytes), else a prefix of it joined to its SHA-256, so ids made
    /// from a message's id (`run-…`, `procurement-planned-…`) can always be published and stay distinct.
    public static func fitting(_ id: String) -> String {
        guard id.utf8.count > maximumBytes else { return id }
        let digest = "-sha256-" + SHA256.hexDigest(of: Array(id.utf8))
        var prefix = Substring(id.prefix(64))
        while prefix.utf8.count > 64 { prefix = prefix.dropLast() }
        return prefix + digest
    }

    /// The id of a message that has none: the same body always gets the same id.
    public static func derivedForMissing(body: [UInt8]) -> String {
        "sha256-" + SHA256.hexDigest(of: body)
    }

    /// The id of a message whose `message_id` breaks the rules: derived from the raw id bytes (length-prefixed)
    /// and the body, so a redelivery gets the same id and two messages that differ never share one.
    public static func derivedForInvalid(rawID: [UInt8], body: [UInt8]) -> String {
        var input: [UInt8] = withUnsafeBytes(of: UInt64(rawID.count).littleEndian, Array.init)
        input += rawID
        input += body
        return "invalid-id-sha256-" + SHA256.hexDigest(of: input)
    }
}

extension Unicode.Scalar {
    /// C0 controls (including NUL), DEL and C1 controls: never allowed in an id or a text field.
    var isControl: Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
    }
}
