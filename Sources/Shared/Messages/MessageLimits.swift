/// The bounds every incoming message is held to before and while it is decoded, so that memory per message
/// (and per batch) is bounded in bytes and no answer grows with what a stranger sent.
///
/// Documented in `docs/asyncapi.yaml` (`x-limits`); a message over a limit is answered with `too_large`.
public struct MessageLimits: Sendable, Equatable {
    /// `MAX_MESSAGE_BYTES`: the largest body decoded (default 4 MiB). A larger one is answered with
    /// `too_large` without being parsed. The project's RabbitMQ config sets `max_message_size` to the same value,
    /// so a larger message is normally refused by the broker already, when the portal publishes it.
    public var maximumBodyBytes: Int

    public static let defaultMaximumBodyBytes = 4 * 1024 * 1024
    public static let maximumBodyBytesRange = 1024...(128 * 1024 * 1024)

    /// JSON values (objects, arrays, strings, numbers, literals) in one body; the parser stops past it.
    /// The largest valid message (10,000 students of 5 values) needs about 50,000.
    public static let maximumJSONValues = 200_000
    /// Nesting depth of a body (``JSONParser/maximumDepth``).
    public static let maximumDepth = JSONParser.maximumDepth
    /// `items` of one inventory.
    public static let maximumItems = 1_000
    /// `serial_numbers` over all items of one inventory.
    public static let maximumSerials = 20_000
    /// `students` of one needs report.
    public static let maximumStudents = 10_000
    /// `devices` of one donation.
    public static let maximumDevices = 10_000
    /// Field errors listed in one outcome; the rest are counted in its `truncated` field.
    public static let maximumErrors = 100
    /// Characters of an identifier (campaign, school code, student ref, serial, donation ref).
    public static let maximumIdentifierLength = 100
    /// Bytes of an outgoing event's body. An outcome that would be larger (it cannot, with the bounds above)
    /// is replaced by a `processing_failed` one; an event the broker refuses as too large is never retried.
    public static let maximumOutgoingBytes = 256 * 1024

    public init(maximumBodyBytes: Int = Self.defaultMaximumBodyBytes) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    public static let `default` = MessageLimits()
}
