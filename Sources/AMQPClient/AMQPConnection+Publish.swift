import CAMQP
import Foundation

extension AMQPConnection {
    /// Puts the channel in publisher-confirm mode (`confirm.select`).
    public func enableConfirms() throws(AMQPError) {
        let state = try liveState()
        guard !confirmsEnabled else { return }
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
        confirmsEnabled = true
    }

    /// Sends one persistent message; with confirms on, its confirmation is awaited by `waitForConfirms`.
    public func publish(_ message: AMQPMessage) throws(AMQPError) {
        let state = try liveState()
        var properties = amqp_basic_properties_t()
        properties._flags = CAMQP_PROPS_CONTENT_TYPE | CAMQP_PROPS_DELIVERY_MODE | CAMQP_PROPS_MESSAGE_ID
            | CAMQP_PROPS_TIMESTAMP
        properties.delivery_mode = 2
        properties.timestamp = UInt64(Date().timeIntervalSince1970)
        // The id and correlation id go by length, not as C strings: a NUL in them must not cut them short.
        let messageID = message.rawMessageID ?? Array(message.messageID.utf8)
        let correlationID = message.correlationID.map { Array($0.utf8) } ?? []
        let userID = message.userID.map { Array($0.utf8) } ?? []
        let status: Int32 = message.exchange.withCString { exchange in
            message.routingKey.withCString { routingKey in
                message.contentType.withCString { contentType in
                    messageID.withUnsafeBytes { messageID in
                        correlationID.withUnsafeBytes { correlationIDBytes in userID.withUnsafeBytes { userIDBytes in
                            properties.content_type = camqp_bytes(contentType)
                            properties.message_id = camqp_bytes_len(messageID.baseAddress, messageID.count)
                            if message.correlationID != nil {
                                properties._flags |= CAMQP_PROPS_CORRELATION_ID
                                properties.correlation_id = camqp_bytes_len(correlationIDBytes.baseAddress,
                                                                            correlationIDBytes.count)
                            }
                            if message.userID != nil {
                                properties._flags |= CAMQP_PROPS_USER_ID
                                properties.user_id = camqp_bytes_len(userIDBytes.baseAddress, userIDBytes.count)
                            }
                            return withTable(message.headers) { headers in
                                if !message.headers.isEmpty {
                                    properties._flags |= CAMQP_PROPS_HEADERS
                                    properties.headers = headers
                                }
                                return message.body.withUnsafeBytes { body in
                                    amqp_basic_publish(state, channel, camqp_bytes(exchange), camqp_bytes(routingKey),
                                                       0, 0, &properties,
                                                       camqp_bytes_len(body.baseAddress, body.count))
                                }
                            }
                        } }
                    }
                }
            }
        }
        try checkStatus(status, "basic.publish to \(message.exchange)")
        if confirmsEnabled {
            unconfirmed.insert(nextPublishTag)
            nextPublishTag += 1
        }
    }

    /// Publishes messages and waits for the broker to confirm all of them, `window` at a time.
    ///
    /// Throws `.publishNacked` if the broker refused any; the caller then publishes them again (the
    /// contract's consumers drop duplicates by `message_id`).
    public func publishConfirmed(_ messages: [AMQPMessage], window: Int = 500,
                                 timeout: Duration = .seconds(30)) throws(AMQPError) {
        try enableConfirms()
        var sent = 0
        for message in messages {
            try publish(message)
            sent += 1
            if sent % window == 0 { try waitForConfirms(timeout: timeout) }
        }
        try waitForConfirms(timeout: timeout)
    }

    /// Waits until every message published so far is confirmed (`basic.ack`, honouring `multiple`).
    public func waitForConfirms(timeout: Duration = .seconds(30)) throws(AMQPError) {
        let state = try liveState()
        let deadline = ContinuousClock.now + timeout
        while !unconfirmed.isEmpty {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                isBroken = true
                throw AMQPError(code: .library, libraryStatus: AMQP_STATUS_TIMEOUT.rawValue,
                                message: "timed out waiting for \(unconfirmed.count) publisher confirms")
            }
            var frame = amqp_frame_t()
            var wait = timeval(remaining)
            let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
            if status == AMQP_STATUS_TIMEOUT.rawValue { continue }
            try checkStatus(status, "waiting for publisher confirms")
            try handleConfirmFrame(frame)
        }
        if nackedCount > 0 {
            let count = nackedCount
            nackedCount = 0
            throw AMQPError(code: .publishNacked, message: "the broker refused \(count) published messages")
        }
    }

    private func handleConfirmFrame(_ frame: amqp_frame_t) throws(AMQPError) {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        switch method.id {
        case CAMQP_BASIC_ACK_METHOD:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            settle(upTo: ack.delivery_tag, multiple: ack.multiple != 0, nacked: false)
        case CAMQP_BASIC_NACK_METHOD:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            settle(upTo: nack.delivery_tag, multiple: nack.multiple != 0, nacked: true)
        case CAMQP_CHANNEL_CLOSE_METHOD, CAMQP_CONNECTION_CLOSE_METHOD:
            isBroken = true
            throw Self.serverError(method: method, context: "publishing")
        default:
            return
        }
    }

    private func settle(upTo tag: UInt64, multiple: Bool, nacked: Bool) {
        if multiple {
            let settled = unconfirmed.filter { $0 <= tag }
            unconfirmed.subtract(settled)
            if nacked { nackedCount += settled.count }
        } else if unconfirmed.remove(tag) != nil, nacked {
            nackedCount += 1
        }
    }

    /// Lets rabbitmq-c send a due heartbeat on an otherwise idle connection, and notices a closed one.
    public func serviceHeartbeat() throws(AMQPError) {
        let state = try liveState()
        var frame = amqp_frame_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return }
        try checkStatus(status, "heartbeat")
        if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
            let id = frame.payload.method.id
            if id == CAMQP_CHANNEL_CLOSE_METHOD || id == CAMQP_CONNECTION_CLOSE_METHOD {
                isBroken = true
                throw Self.serverError(method: frame.payload.method, context: "idle")
            }
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(max(0, seconds)), tv_usec: Int(max(0, attoseconds / 1_000_000_000_000)))
    }
}
