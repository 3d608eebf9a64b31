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
}

extension Unicode.Scalar {
    /// C0 controls (including NUL), DEL and C1 controls: never allowed in an id or a text field.
    public var isControl: Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
    }
}
