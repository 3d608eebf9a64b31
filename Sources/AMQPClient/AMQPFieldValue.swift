/// A value in an AMQP arguments table (queue arguments, headers).
public enum AMQPFieldValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
}
