import AMQPClient

/// Ids the workers derive: for messages without a valid id, and from a message's id (always within 255 bytes).
extension MessageID {
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
