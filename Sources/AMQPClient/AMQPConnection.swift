import CAMQP
import Foundation

/// One AMQP connection with one channel, owning its rabbitmq-c state.
///
/// Not thread-safe (rabbitmq-c connections are not): a connection belongs to the one thread or task that
/// made it. Close it explicitly with `close()`; `deinit` only guards against a leak.
public final class AMQPConnection {
    /// The broker this connection talks to (password masked in `description`).
    public let url: AMQPURL
    var state: amqp_connection_state_t?
    let channel: amqp_channel_t = 1
    /// Set when the library or the server reported a failure that leaves the connection unusable.
    public internal(set) var isBroken = false

    var confirmsEnabled = false
    var nextPublishTag: UInt64 = 1
    var unconfirmed = Set<UInt64>()
    var nackedCount = 0
    var consumerTag: String?
    var prefetch: UInt16 = 0

    /// Opens a TCP (or TLS, for `amqps`) connection, logs in and opens channel 1.
    ///
    /// - Parameters:
    ///   - heartbeat: seconds between heartbeats; rabbitmq-c services them only inside library calls, so
    ///     an idle owner calls `serviceHeartbeat()` now and then.
    ///   - name: shown as the connection's name in the management UI (client property `connection_name`).
    ///   - caCertificates: for `amqps`, the PEM file of the certificate authorities that may sign the broker's
    ///     certificate (default: `AMQP_CA_CERT`, else the system's bundle). The broker's certificate and its
    ///     host name are always verified.
    public init(url: AMQPURL, heartbeat: Int = 30, connectTimeout: Duration = .seconds(10),
                name: String? = nil,
                caCertificates: String? = ProcessInfo.processInfo.environment["AMQP_CA_CERT"]) throws(AMQPError) {
        self.url = url
        guard let state = amqp_new_connection() else {
            throw AMQPError(code: .connectionFailed, message: "amqp_new_connection returned NULL")
        }
        self.state = state
        do {
            try open(state: state, heartbeat: heartbeat, connectTimeout: connectTimeout, name: name,
                     caCertificates: caCertificates)
        } catch {
            amqp_destroy_connection(state)
            self.state = nil
            throw error
        }
    }

    private func open(state: amqp_connection_state_t, heartbeat: Int, connectTimeout: Duration,
                      name: String?, caCertificates: String?) throws(AMQPError) {
        let socket: OpaquePointer?
        if url.useTLS {
            socket = amqp_ssl_socket_new(state)
            if let socket {
                let caFile = caCertificates.flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/ssl/certs/ca-certificates.crt"
                let status = amqp_ssl_socket_set_cacert(socket, caFile)
                if status != AMQP_STATUS_OK.rawValue {
                    throw Self.libraryError(status, "TLS CA certificates could not be loaded")
                }
                amqp_ssl_socket_set_verify_peer(socket, 1)
                amqp_ssl_socket_set_verify_hostname(socket, 1)
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else {
            throw AMQPError(code: .connectionFailed, message: "could not create a socket")
        }
        let seconds = connectTimeout.components.seconds
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw Self.libraryError(status, "could not connect to \(url.host):\(url.port)", code: .connectionFailed)
        }
        let properties: [(String, AMQPFieldValue)] = [("product", .string("schoolict"))]
            + (name.map { [("connection_name", AMQPFieldValue.string($0))] } ?? [])
        let reply = withTable(properties) { table in
            var table = table
            return camqp_login_plain_with_properties(state, url.virtualHost, 0, 131_072, Int32(heartbeat), &table,
                                                     url.user, url.password)
        }
        try check(reply, "login to vhost \(url.virtualHost)", code: .connectionFailed)
        var rpcTimeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)
        amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
    }

    deinit {
        close()
    }

    /// Closes the channel and the connection (politely when the connection still works).
    public func close() {
        guard let state else { return }
        if !isBroken {
            _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
            _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        }
        amqp_destroy_connection(state)
        self.state = nil
    }

    func liveState() throws(AMQPError) -> amqp_connection_state_t {
        guard let state, !isBroken else {
            throw AMQPError(code: .notConnected, message: "the AMQP connection is closed")
        }
        return state
    }

    // MARK: Errors

    static func libraryError(_ status: Int32, _ context: String, code: AMQPError.Code = .library) -> AMQPError {
        let text = amqp_error_string2(status).map { String(cString: $0) } ?? "unknown"
        return AMQPError(code: code, libraryStatus: status, message: "\(context): \(text)")
    }

    /// Turns a status from a rabbitmq-c call into a typed error, marking the connection broken on
    /// socket-level failures.
    func checkStatus(_ status: Int32, _ context: String) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        isBroken = true
        throw Self.libraryError(status, context)
    }

    /// Turns an RPC reply into a typed error. Any failure leaves the channel or connection closed, so the
    /// connection is marked broken and its owner reconnects.
    func check(_ reply: amqp_rpc_reply_t, _ context: String, code: AMQPError.Code = .library) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            isBroken = true
            throw Self.libraryError(reply.library_error, context, code: code)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            isBroken = true
            throw Self.serverError(method: reply.reply, context: context)
        default:
            isBroken = true
            throw AMQPError(code: code, message: "\(context): no reply")
        }
    }

    static func serverError(method: amqp_method_t, context: String) -> AMQPError {
        if method.id == CAMQP_CHANNEL_CLOSE_METHOD, let decoded = method.decoded {
            let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return AMQPError(code: .serverClosed, replyCode: close.reply_code,
                             message: "\(context): channel closed: \(close.reply_text.string)")
        }
        if method.id == CAMQP_CONNECTION_CLOSE_METHOD, let decoded = method.decoded {
            let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return AMQPError(code: .serverClosed, replyCode: close.reply_code,
                             message: "\(context): connection closed: \(close.reply_text.string)")
        }
        return AMQPError(code: .serverClosed, message: "\(context): unexpected method \(method.id)")
    }
}

extension amqp_bytes_t {
    /// The bytes as a String (UTF-8, lossy), copied.
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    var byteArray: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }
}
