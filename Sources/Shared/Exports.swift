// The clients every worker uses come with Shared: `import Shared` is enough to use them.
@_exported import AMQPClient
@_exported import PostgresClient
