import CAMQP
import Foundation

extension AMQPConnection {
    /// Starts a consumer with manual acknowledgements and `prefetch` unacknowledged deliveries at most.
    public func startConsuming(queue: String, prefetch: UInt16) throws(AMQPError) {
        let state = try liveState()
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
        self.prefetch = prefetch
        let reply = queue.withCString { q in
            amqp_basic_consume(state, channel, camqp_bytes(q), camqp_empty_bytes(), 0, 0, 0, camqp_empty_table())
        }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
        // The reply lives in the connection's pool: copy the tag out now.
        consumerTag = reply?.pointee.consumer_tag.string
    }

    /// The next delivery, or `nil` when none arrives within `timeout`.
    public func nextDelivery(timeout: Duration) throws(AMQPError) -> AMQPDelivery? {
        let state = try liveState()
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var wait = timeval(timeout)
        let reply = amqp_consume_message(state, &envelope, &wait, 0)
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            if reply.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            if reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
                try handleNonDeliveryFrame(state)
                return nil
            }
        }
        try check(reply, "basic.consume")
        defer { amqp_destroy_envelope(&envelope) }
        let properties = envelope.message.properties
        let flags = properties._flags
        var delivery = AMQPDelivery(
            deliveryTag: envelope.delivery_tag,
            redelivered: envelope.redelivered != 0,
            exchange: envelope.exchange.string,
            routingKey: envelope.routing_key.string,
            rawMessageID: flags & CAMQP_PROPS_MESSAGE_ID != 0 ? properties.message_id.byteArray : nil,
            correlationID: flags & CAMQP_PROPS_CORRELATION_ID != 0 ? properties.correlation_id.string : nil,
            contentType: flags & CAMQP_PROPS_CONTENT_TYPE != 0 ? properties.content_type.string : nil,
            // Quorum queues set `x-delivery-count` only when they redeliver; on a first delivery the header, if
            // any, is the publisher's own and must not make a message look like poison.
            deliveryCount: envelope.redelivered != 0 && flags & CAMQP_PROPS_HEADERS != 0
                ? Self.deliveryCount(in: properties.headers) : 0,
            body: envelope.message.body.byteArray,
            userID: flags & CAMQP_PROPS_USER_ID != 0 ? properties.user_id.byteArray : nil
        )
        if flags & CAMQP_PROPS_HEADERS != 0 {
            delivery.death = Self.death(in: properties.headers)
            delivery.trace = TraceContext(traceparent: Self.text(named: "traceparent", in: properties.headers),
                                          tracestate: Self.text(named: "tracestate", in: properties.headers))
        }
        return delivery
    }

    /// The socket to wait on (with `poll`) for input, or `nil` when closed. With TLS, bytes the TLS layer has
    /// decrypted may wait there unseen by `poll`: callers bound their waits (see ``waitForInput(socket:timeout:)``).
    public var socketDescriptor: Int32? {
        guard let state, !isBroken else { return nil }
        let descriptor = amqp_get_sockfd(state)
        return descriptor >= 0 ? descriptor : nil
    }

    /// Whether this connection uses TLS.
    public var usesTLS: Bool { url.useTLS }

    /// Waits until `socket` is readable (or fails) or `timeout` passes, without touching the connection's state,
    /// so another thread may send on the connection meanwhile (acknowledgements). Returns whether it is readable.
    /// `poll` counts whole milliseconds: the fraction is cut (a wait under 1 ms returns at once).
    public static func waitForInput(socket: Int32, timeout: Duration) -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: max(0, timeout.components.seconds * 1_000
            + timeout.components.attoseconds / 1_000_000_000_000_000))
        return poll(&descriptor, 1, milliseconds) != 0
    }

    /// A frame other than a delivery arrived: a closed channel or a cancelled consumer ends consuming.
    private func handleNonDeliveryFrame(_ state: amqp_connection_state_t) throws(AMQPError) {
        var frame = amqp_frame_t()
        let status = amqp_simple_wait_frame(state, &frame)
        try checkStatus(status, "reading a frame")
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        switch method.id {
        case CAMQP_CHANNEL_CLOSE_METHOD, CAMQP_CONNECTION_CLOSE_METHOD:
            isBroken = true
            throw Self.serverError(method: method, context: "consuming")
        case CAMQP_BASIC_CANCEL_METHOD:
            isBroken = true
            throw AMQPError(code: .serverClosed, message: "the broker cancelled the consumer (queue deleted?)")
        default:
            return
        }
    }

    /// Keeps a consuming connection alive while its owner holds deliveries without reading new ones (for
    /// example while it retries publishing a batch's events): one `basic.qos` round trip with the same
    /// prefetch is traffic for the broker's heartbeat check and lets rabbitmq-c send its own heartbeat.
    /// Deliveries that arrive meanwhile are queued by rabbitmq-c and returned by later `nextDelivery` calls.
    public func keepAlive() throws(AMQPError) {
        let state = try liveState()
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos (keep-alive)")
    }

    /// Acknowledges one delivery, or with `multiple` every delivery up to and including `deliveryTag`.
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) throws(AMQPError) {
        let state = try liveState()
        try checkStatus(amqp_basic_ack(state, channel, deliveryTag, multiple ? 1 : 0), "basic.ack")
    }

    /// Rejects one delivery; without `requeue` the broker dead-letters it.
    public func reject(_ deliveryTag: UInt64, requeue: Bool) throws(AMQPError) {
        let state = try liveState()
        try checkStatus(amqp_basic_reject(state, channel, deliveryTag, requeue ? 1 : 0), "basic.reject")
    }

    /// Cancels the consumer and waits for the broker's `cancel-ok`, so that acks sent before are
    /// processed before the channel closes (closing at once lost acks on quorum queues).
    ///
    /// Deliveries that arrive meanwhile are returned: the caller must not ack them; closing requeues them.
    public func cancelConsuming(timeout: Duration = .seconds(5)) throws(AMQPError) {
        let state = try liveState()
        guard let tag = consumerTag else { return }
        consumerTag = nil
        tag.withCString { t in
            _ = amqp_basic_cancel(state, channel, camqp_bytes(t))
        }
        try check(amqp_get_rpc_reply(state), "basic.cancel")
    }

    /// The first entry of an `x-death` header (the broker puts the latest death first).
    static func death(in table: amqp_table_t) -> DeathRecord? {
        guard let value = Self.value(named: "x-death", in: table), UInt32(value.kind) == AMQP_FIELD_KIND_ARRAY.rawValue,
              value.value.array.num_entries > 0, let first = value.value.array.entries?[0],
              UInt32(first.kind) == AMQP_FIELD_KIND_TABLE.rawValue else { return nil }
        let entry = first.value.table
        func text(_ name: String) -> String {
            guard let field = Self.value(named: name, in: entry) else { return "" }
            switch UInt32(field.kind) {
            case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue: return field.value.bytes.string
            default: return ""
            }
        }
        var routingKey = ""
        if let keys = Self.value(named: "routing-keys", in: entry), UInt32(keys.kind) == AMQP_FIELD_KIND_ARRAY.rawValue,
           keys.value.array.num_entries > 0, let key = keys.value.array.entries?[0] {
            routingKey = key.value.bytes.string
        }
        var count = 0
        if let field = Self.value(named: "count", in: entry) {
            switch UInt32(field.kind) {
            case AMQP_FIELD_KIND_I64.rawValue: count = Int(field.value.i64)
            case AMQP_FIELD_KIND_U64.rawValue: count = Int(clamping: field.value.u64)
            case AMQP_FIELD_KIND_I32.rawValue: count = Int(field.value.i32)
            default: break
            }
        }
        let time = Self.value(named: "time", in: entry).flatMap {
            UInt32($0.kind) == AMQP_FIELD_KIND_TIMESTAMP.rawValue ? $0.value.u64 : nil
        }
        return DeathRecord(reason: text("reason"), count: count, queue: text("queue"), exchange: text("exchange"),
                           routingKey: routingKey, time: time)
    }

    /// A text header (bounded: longer values are not read).
    static func text(named name: String, in table: amqp_table_t) -> String? {
        guard let field = value(named: name, in: table) else { return nil }
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue:
            return field.value.bytes.len <= 1_024 ? field.value.bytes.string : nil
        default:
            return nil
        }
    }

    private static func value(named name: String, in table: amqp_table_t) -> amqp_field_value_t? {
        guard table.num_entries > 0, let entries = table.entries else { return nil }
        for index in 0..<Int(table.num_entries) where entries[index].key.string == name {
            return entries[index].value
        }
        return nil
    }

    /// Reads `x-delivery-count` (set by quorum queues on redelivery) from a headers table.
    static func deliveryCount(in table: amqp_table_t) -> Int {
        guard table.num_entries > 0, let entries = table.entries else { return 0 }
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            guard entry.key.string == "x-delivery-count" else { continue }
            let value = entry.value
            switch UInt32(value.kind) {
            case AMQP_FIELD_KIND_I8.rawValue: return Int(value.value.i8)
            case AMQP_FIELD_KIND_U8.rawValue: return Int(value.value.u8)
            case AMQP_FIELD_KIND_I16.rawValue: return Int(value.value.i16)
            case AMQP_FIELD_KIND_U16.rawValue: return Int(value.value.u16)
            case AMQP_FIELD_KIND_I32.rawValue: return Int(value.value.i32)
            case AMQP_FIELD_KIND_U32.rawValue: return Int(value.value.u32)
            case AMQP_FIELD_KIND_I64.rawValue: return Int(value.value.i64)
            case AMQP_FIELD_KIND_U64.rawValue: return Int(clamping: value.value.u64)
            default: return 0
            }
        }
        return 0
    }
}
