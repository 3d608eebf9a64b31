import Hummingbird
import HummingbirdCore
import Prometheus

/// What ``MetricsServer`` answers: `GET` or `HEAD` on `/metrics`, `/healthz` and `/readyz` (a query string is
/// ignored); `405` with `Allow` for any other method, `404` for any other path. Every answer closes the connection.
struct MetricsResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let registry: PrometheusCollectorRegistry
    let health: Health

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            var response = Self.text(.methodNotAllowed, "method not allowed")
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        let response = answer(path: request.uri.path)
        return request.method == .head ? response.createHeadResponse() : response
    }

    private func answer(path: String) -> Response {
        switch path {
        case "/metrics":
            return Self.response(.ok, contentType: "text/plain; version=0.0.4", registry.emitToBuffer())
        case "/healthz":
            let stalled = health.stalled()
            guard stalled.isEmpty else {
                return Self.text(.serviceUnavailable, "stalled: " + stalled.joined(separator: ", ") + "\n")
            }
            return Self.text(.ok, "ok")
        case "/readyz":
            let notReady = health.notReady()
            guard notReady.isEmpty, health.hasReadyComponent else {
                let reasons = notReady.isEmpty ? ["not connected yet"] : notReady
                return Self.text(.serviceUnavailable, "not ready: " + reasons.joined(separator: "; ") + "\n")
            }
            return Self.text(.ok, "ready")
        default:
            return Self.text(.notFound, "not found")
        }
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        response(status, contentType: "text/plain; charset=utf-8", Array(body.utf8))
    }

    private static func response(_ status: HTTPResponse.Status, contentType: String, _ body: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.connection] = "close"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
