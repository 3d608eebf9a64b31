/// A message to publish: where it goes, its properties and its JSON body.
public struct AMQPMessage: Sendable, Equatable {
    public var exchange: String
    public var routingKey: String
    /// The idempotency key (`message_id` property); required by the contract.
    public var messageID: String
    public var correlationID: String?
    public var body: [UInt8]
    public var contentType: String
    /// When set, the `message_id` property sent instead of `messageID`'s UTF-8: bytes that are not valid text,
    /// for tools and tests that must send what a hostile publisher would.
    public var rawMessageID: [UInt8]?
    /// The headers table (application headers), sent when not empty.
    public var headers: [(String, AMQPFieldValue)]
    /// The `user_id` property, sent when set: RabbitMQ checks that it names the connection's user.
    public var userID: String?

    /// The W3C trace context in ``headers``, if any.
    public var trace: TraceContext? {
        get {
            func text(_ name: String) -> String? {
                guard case .string(let value)? = headers.first(where: { $0.0 == name })?.1 else { return nil }
                return value
            }
            return TraceContext(traceparent: text("traceparent"), tracestate: text("tracestate"))
        }
        set {
            headers.removeAll { $0.0 == "traceparent" || $0.0 == "tracestate" }
            headers += newValue?.headers ?? []
        }
    }

    public static func == (lhs: AMQPMessage, rhs: AMQPMessage) -> Bool {
        lhs.exchange == rhs.exchange && lhs.routingKey == rhs.routingKey && lhs.messageID == rhs.messageID
            && lhs.correlationID == rhs.correlationID && lhs.body == rhs.body && lhs.contentType == rhs.contentType
            && lhs.rawMessageID == rhs.rawMessageID && lhs.userID == rhs.userID && lhs.headers.map(\.0) == rhs.headers.map(\.0)
            && lhs.headers.map(\.1) == rhs.headers.map(\.1)
    }

    public init(exchange: String, routingKey: String, messageID: String, correlationID: String? = nil,
                body: [UInt8], contentType: String = "application/json", rawMessageID: [UInt8]? = nil,
                headers: [(String, AMQPFieldValue)] = []) {
        self.headers = headers
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageID = messageID
        self.correlationID = correlationID
        self.body = body
        self.contentType = contentType
        self.rawMessageID = rawMessageID
    }
}

/// Where and why the broker dead-lettered a message: the first (latest) entry of its `x-death` header.
public struct DeathRecord: Sendable, Equatable {
    public var reason: String
    public var count: Int
    public var queue: String
    public var exchange: String
    public var routingKey: String
    /// Seconds since 1970, as the broker stamped it.
    public var time: UInt64?

    public init(reason: String, count: Int, queue: String, exchange: String, routingKey: String, time: UInt64?) {
        self.reason = reason
        self.count = count
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.time = time
    }
}

/// A message delivered to a consumer, copied out of rabbitmq-c's buffers.
public struct AMQPDelivery: Sendable {
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    /// The `message_id` property's bytes exactly as sent; `nil` when absent.
    public var rawMessageID: [UInt8]?
    /// The `message_id` as text when it meets ``MessageID/validated(_:)``; `nil` when absent or invalid
    /// (``IncomingMessage/identify(_:)`` then derives an id).
    public var messageID: String?
    public var correlationID: String?
    public var contentType: String?
    /// Quorum queues count earlier deliveries of this message in the `x-delivery-count` header.
    public var deliveryCount: Int
    public var body: [UInt8]
    /// The `user_id` property: RabbitMQ refuses a publish whose `user_id` is not the connection's user, so when
    /// present it names who published (kept only when it is valid text, like a message id).
    public var userID: String?
    /// For a dead letter, where it died (`x-death`).
    public var death: DeathRecord?
    /// The W3C trace context of its headers, when valid.
    public var trace: TraceContext?

    public init(deliveryTag: UInt64, redelivered: Bool = false, exchange: String, routingKey: String,
                messageID: String?, correlationID: String? = nil, contentType: String? = nil,
                deliveryCount: Int = 0, body: [UInt8]) {
        self.init(deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                  rawMessageID: messageID.map { Array($0.utf8) }, correlationID: correlationID,
                  contentType: contentType, deliveryCount: deliveryCount, body: body)
    }

    public init(deliveryTag: UInt64, redelivered: Bool = false, exchange: String, routingKey: String,
                rawMessageID: [UInt8]?, correlationID: String? = nil, contentType: String? = nil,
                deliveryCount: Int = 0, body: [UInt8], userID: [UInt8]? = nil) {
        self.userID = userID.flatMap(MessageID.validated)
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.rawMessageID = rawMessageID
        self.messageID = rawMessageID.flatMap(MessageID.validated)
        self.correlationID = correlationID
        self.contentType = contentType
        self.deliveryCount = deliveryCount
        self.body = body
    }
}
