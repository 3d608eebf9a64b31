import NIOCore

/// The first handler of every metrics connection, before HTTP parsing, so its bounds hold whatever the bytes are
/// (a request line of megabytes, headers sent a byte a second):
///
/// - more than ``MetricsServer/Limits/maximumRequestBytes`` received before the answer starts: `431`, and the
///   connection's output is closed;
/// - no answer started ``MetricsServer/Limits/requestTimeout`` after the connection was accepted (the request did
///   not arrive in time): closed;
/// - ``MetricsServer/Limits/connectionTimeout`` after it was accepted, answered or not: closed.
///
/// Once the answer starts, what the client sends is not read any more: a connection carries one request.
final class RequestBoundsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let tooLarge = Array("""
        HTTP/1.1 431 Request Header Fields Too Large\r
        Content-Type: text/plain; charset=utf-8\r
        Content-Length: 17\r
        Connection: close\r
        \r
        request too large
        """.utf8)

    private let limits: MetricsServer.Limits
    private var received = 0
    private var answering = false
    private var requestDeadline: Scheduled<Void>?
    private var connectionDeadline: Scheduled<Void>?

    init(limits: MetricsServer.Limits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startClocks(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startClocks(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopClocks()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopClocks()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answering else { return }
        received += unwrapInboundIn(data).readableBytes
        guard received <= limits.maximumRequestBytes else {
            refuse(context)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !answering {
            answering = true
            requestDeadline?.cancel()
        }
        context.write(data, promise: promise)
    }

    /// Answers `431` itself (the parser has not seen the whole request and never will) and closes the output;
    /// the connection deadline closes the rest if the client does not.
    private func refuse(_ context: ChannelHandlerContext) {
        answering = true
        requestDeadline?.cancel()
        context.write(wrapOutboundOut(ByteBuffer(bytes: Self.tooLarge)), promise: nil)
        context.flush()
        context.close(mode: .output, promise: nil)
    }

    private func startClocks(_ context: ChannelHandlerContext) {
        guard connectionDeadline == nil else { return }
        let loop = context.eventLoop.assumeIsolated()
        requestDeadline = loop.scheduleTask(in: TimeAmount(limits.requestTimeout)) {
            context.close(promise: nil)
        }
        connectionDeadline = loop.scheduleTask(in: TimeAmount(limits.connectionTimeout)) {
            context.close(promise: nil)
        }
    }

    private func stopClocks() {
        requestDeadline?.cancel()
        connectionDeadline?.cancel()
        requestDeadline = nil
        connectionDeadline = nil
    }
}
