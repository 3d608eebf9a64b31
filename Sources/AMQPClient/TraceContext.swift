/// W3C Trace Context (`traceparent`, `tracestate`) carried from a message to its outcome and to the events it
/// causes, each with a new span id, so a trace follows a submission through the workers.
///
/// Headers are a stranger's like the body: a `traceparent` is taken only when it is exactly version 00, a non-zero
/// 32-hex-digit trace id, a non-zero 16-hex-digit parent id and 2 hex digits of flags; `tracestate` only with it,
/// at most 512 characters of printable ASCII. Anything else is ignored (the message is processed all the same).
public struct TraceContext: Sendable, Equatable {
    public var traceID: String
    public var parentID: String
    public var flags: String
    public var state: String?

    public static let maximumStateLength = 512

    /// Parses the two headers; `nil` unless `traceparent` is valid.
    public init?(traceparent: String?, tracestate: String?) {
        guard let traceparent, traceparent.utf8.count == 55 else { return nil }
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].utf8.count == 32, parts[2].utf8.count == 16,
              parts[3].utf8.count == 2, parts.allSatisfy({ $0.utf8.allSatisfy(Self.isLowerHex) }),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }) else { return nil }
        traceID = String(parts[1])
        parentID = String(parts[2])
        flags = String(parts[3])
        if let tracestate, tracestate.utf8.count <= Self.maximumStateLength,
           tracestate.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            state = tracestate
        }
    }

    public init(traceID: String, parentID: String, flags: String, state: String?) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
        self.state = state
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    public var traceparent: String { "00-\(traceID)-\(parentID)-\(flags)" }

    /// The same trace, a new span: what a message's outcome and its events carry.
    public func child() -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        var span = ""
        repeat {
            span = (0..<8).map { _ in
                let byte = UInt8.random(in: 0...255, using: &generator)
                return String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
            }.joined()
        } while !span.contains(where: { $0 != "0" })
        return TraceContext(traceID: traceID, parentID: span, flags: flags, state: state)
    }

    /// The AMQP headers that carry it.
    public var headers: [(String, AMQPFieldValue)] {
        [("traceparent", .string(traceparent))] + (state.map { [("tracestate", .string($0))] } ?? [])
    }
}
