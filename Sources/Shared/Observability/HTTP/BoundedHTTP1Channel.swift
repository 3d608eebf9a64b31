import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 child channel held to ``MetricsServer/Limits``: ``RequestBoundsHandler`` in front of the
/// HTTP parser (request bytes, deadlines), ``OneRequestPerConnectionHandler`` behind it, and the parser's own
/// header limits as a second line.
struct BoundedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http1: HTTP1Channel
    private let limits: MetricsServer.Limits

    init(responder: @escaping HTTPChannelHandler.Responder, limits: MetricsServer.Limits) {
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maximumRequestBytes, maxHeaderListSize: limits.maximumRequestBytes,
            maxHeaderFieldCount: 100)
        http1 = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [OneRequestPerConnectionHandler()],
            idleTimeout: TimeAmount(limits.connectionTimeout),
            httpDecoderConfiguration: decoder))
        self.limits = limits
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits
        let http1 = http1
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestBoundsHandler(limits: limits), position: .first)
        }.flatMap {
            http1.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 held to `limits` (``BoundedHTTP1Channel``).
    static func bounded(_ limits: MetricsServer.Limits) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in BoundedHTTP1Channel(responder: responder, limits: limits) }
    }
}
