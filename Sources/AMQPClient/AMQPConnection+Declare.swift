import CAMQP
import Foundation

extension AMQPConnection {
    /// Declares a durable exchange (idempotent when the existing one has the same type).
    public func declareExchange(_ name: String, type: String = "topic") throws(AMQPError) {
        let state = try liveState()
        name.withCString { namePointer in
            type.withCString { typePointer in
                _ = amqp_exchange_declare(state, channel, camqp_bytes(namePointer), camqp_bytes(typePointer),
                                          0, 1, 0, 0, camqp_empty_table())
            }
        }
        try check(amqp_get_rpc_reply(state), "exchange.declare \(name)")
    }

    /// Declares a durable queue with arguments (idempotent when the existing one has equal arguments).
    public func declareQueue(_ name: String, arguments: [(String, AMQPFieldValue)] = []) throws(AMQPError) {
        let state = try liveState()
        withTable(arguments) { table in
            name.withCString { namePointer in
                _ = amqp_queue_declare(state, channel, camqp_bytes(namePointer), 0, 1, 0, 0, table)
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
    }

    /// Deletes a queue and the messages in it (whether or not it has consumers or messages).
    public func deleteQueue(_ name: String) throws(AMQPError) {
        let state = try liveState()
        name.withCString { namePointer in
            _ = amqp_queue_delete(state, channel, camqp_bytes(namePointer), 0, 0)
        }
        try check(amqp_get_rpc_reply(state), "queue.delete \(name)")
    }

    /// Binds a queue to an exchange with a routing-key pattern.
    public func bindQueue(_ queue: String, exchange: String, routingKey: String) throws(AMQPError) {
        let state = try liveState()
        queue.withCString { q in
            exchange.withCString { e in
                routingKey.withCString { k in
                    _ = amqp_queue_bind(state, channel, camqp_bytes(q), camqp_bytes(e), camqp_bytes(k),
                                        camqp_empty_table())
                }
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.bind \(queue) to \(exchange) with \(routingKey)")
    }

    /// Declares every exchange, queue and binding of a topology. Safe to run from any number of processes.
    public func declare(_ topology: Topology) throws(AMQPError) {
        for exchange in topology.exchanges {
            try declareExchange(exchange)
        }
        for queue in topology.queues {
            try declareQueue(queue.name, arguments: queue.arguments)
            for binding in queue.bindings {
                try bindQueue(queue.name, exchange: binding.exchange, routingKey: binding.routingKey)
            }
        }
    }

    /// Calls `body` with an `amqp_table_t` whose memory lives until `body` returns.
    func withTable<R>(_ entries: [(String, AMQPFieldValue)], _ body: (amqp_table_t) -> R) -> R {
        if entries.isEmpty { return body(camqp_empty_table()) }
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func bytes(_ text: String) -> amqp_bytes_t {
            let copy = strdup(text)!
            owned.append(copy)
            return camqp_bytes(copy)
        }
        var cEntries: [amqp_table_entry_t] = entries.map { key, value in
            var entry = amqp_table_entry_t()
            entry.key = bytes(key)
            switch value {
            case .string(let text):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                entry.value.value.bytes = bytes(text)
            case .int(let number):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                entry.value.value.i64 = number
            case .bool(let flag):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
                entry.value.value.boolean = flag ? 1 : 0
            }
            return entry
        }
        return cEntries.withUnsafeMutableBufferPointer { buffer in
            body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
        }
    }
}

extension AMQPConnection {
    /// Messages ready and consumers of an existing queue (a passive `queue.declare`).
    public func queueDepth(_ name: String) throws(AMQPError) -> (messages: Int, consumers: Int) {
        let state = try liveState()
        let reply = name.withCString { namePointer in
            amqp_queue_declare(state, channel, camqp_bytes(namePointer), 1, 0, 0, 0, camqp_empty_table())
        }
        try check(amqp_get_rpc_reply(state), "queue.declare (passive) \(name)")
        guard let reply else { return (0, 0) }
        return (Int(reply.pointee.message_count), Int(reply.pointee.consumer_count))
    }
}

extension AMQPConnection {
    /// Declares a server-named, exclusive, auto-delete queue bound to `exchange` with each key, for a tool
    /// that watches events while it runs. Returns the queue's name.
    public func declareTemporaryQueue(bindingTo exchange: String, routingKeys: [String]) throws(AMQPError) -> String {
        let state = try liveState()
        let reply = amqp_queue_declare(state, channel, camqp_empty_bytes(), 0, 0, 1, 1, camqp_empty_table())
        try check(amqp_get_rpc_reply(state), "queue.declare (temporary)")
        guard let name = reply?.pointee.queue.string, !name.isEmpty else {
            throw AMQPError(code: .library, message: "the broker named no queue")
        }
        for key in routingKeys {
            try bindQueue(name, exchange: exchange, routingKey: key)
        }
        return name
    }
}

extension AMQPConnection {
    /// Checks that an exchange exists (a passive `exchange.declare`): 404 if it does not.
    public func checkExchange(_ name: String) throws(AMQPError) {
        let state = try liveState()
        name.withCString { namePointer in
            "topic".withCString { typePointer in
                _ = amqp_exchange_declare(state, channel, camqp_bytes(namePointer), camqp_bytes(typePointer),
                                          1, 1, 0, 0, camqp_empty_table())
            }
        }
        try check(amqp_get_rpc_reply(state), "exchange.declare (passive) \(name)")
    }
}
