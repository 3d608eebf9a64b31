/// Exchanges, queues and bindings to declare (``AMQPConnection/declare(_:)``): the contract's is
/// `Topology.contract` in Shared.
public struct Topology: Sendable {
    public struct Binding: Sendable, Equatable {
        public var exchange: String
        public var routingKey: String
        public init(exchange: String, routingKey: String) {
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }

    public struct Queue: Sendable {
        public var name: String
        public var arguments: [(String, AMQPFieldValue)]
        public var bindings: [Binding]

        public init(name: String, arguments: [(String, AMQPFieldValue)], bindings: [Binding]) {
            self.name = name
            self.arguments = arguments
            self.bindings = bindings
        }
    }

    public var exchanges: [String]
    public var queues: [Queue]

    public init(exchanges: [String], queues: [Queue]) {
        self.exchanges = exchanges
        self.queues = queues
    }
}
