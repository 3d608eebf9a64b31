import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Behind the HTTP parser: marks every request `Connection: close`, so Hummingbird answers it and then closes its
/// side of the connection instead of waiting for another request (``RequestBoundsHandler`` stops reading).
final class OneRequestPerConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[.connection] = "close"
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
