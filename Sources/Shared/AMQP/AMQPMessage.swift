/// A message to publish: where it goes, its properties and its JSON body.
public struct AMQPMessage: Sendable, Equatable {
    public var exchange: String
    public var routingKey: String
    /// The idempotency key (`message_id` property); required by the contract.
    public var messageID: String
    public var correlationID: String?
    public var body: [UInt8]
    public var contentType: String

    public init(exchange: String, routingKey: String, messageID: String, correlationID: String? = nil,
                body: [UInt8], contentType: String = "application/json") {
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageID = messageID
        self.correlationID = correlationID
        self.body = body
        self.contentType = contentType
    }
}

/// A message delivered to a consumer, copied out of rabbitmq-c's buffers.
public struct AMQPDelivery: Sendable {
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var messageID: String?
    public var correlationID: String?
    public var contentType: String?
    /// Quorum queues count earlier deliveries of this message in the `x-delivery-count` header.
    public var deliveryCount: Int
    public var body: [UInt8]

    public init(deliveryTag: UInt64, redelivered: Bool = false, exchange: String, routingKey: String,
                messageID: String?, correlationID: String? = nil, contentType: String? = nil,
                deliveryCount: Int = 0, body: [UInt8]) {
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageID = messageID
        self.correlationID = correlationID
        self.contentType = contentType
        self.deliveryCount = deliveryCount
        self.body = body
    }
}
