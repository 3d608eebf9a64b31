import AMQPClient

extension AMQPConnection {
    /// A connection on which the contract's topology exists: declared on it when this user may (`configure`
    /// rights), otherwise, after the broker's 403, checked passively on a new connection, as for the
    /// least-privilege users of `schoolict provision`, which declares the topology itself.
    ///
    /// - Throws: the broker's 404 when the topology was never declared (run `schoolict provision`).
    public static func withContractTopology(url: AMQPURL, name: String? = nil) throws(AMQPError) -> AMQPConnection {
        let connection = try AMQPConnection(url: url, name: name)
        do {
            try connection.declare(.contract)
            return connection
        } catch where error.replyCode == 403 {
            connection.close()
        } catch {
            connection.close()
            throw error
        }
        let checked = try AMQPConnection(url: url, name: name)
        do {
            for exchange in Topology.contract.exchanges { try checked.checkExchange(exchange) }
        } catch {
            checked.close()
            throw AMQPError(code: error.code, libraryStatus: error.libraryStatus, replyCode: error.replyCode,
                            message: error.message + " (this user may not declare the topology: run `schoolict provision`)")
        }
        return checked
    }
}
