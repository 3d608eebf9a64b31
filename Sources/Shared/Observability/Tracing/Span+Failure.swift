import Tracing

extension Span {
    /// Marks the span failed with what is safe to export: the error's kind and, for the database and the broker,
    /// its code (their descriptions never hold SQL, parameters or personal data); any other error only by type.
    public func recordFailure(_ error: any Error) {
        let summary: String
        switch error {
        case let error as PostgresError:
            summary = "database: \(error.code)"
            attributes["db.response.status_code"] = error.sqlState ?? ""
        case let error as AMQPError:
            summary = "broker: \(error.code.rawValue)"
        default:
            summary = String(describing: type(of: error))
        }
        attributes["error.type"] = summary
        setStatus(SpanStatus(code: .error, message: summary))
    }
}
