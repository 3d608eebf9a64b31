// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "schoolict",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "SubmissionWorker", targets: ["SubmissionWorker"]),
        .executable(name: "AllocationWorker", targets: ["AllocationWorker"]),
        .executable(name: "NotificationWorker", targets: ["NotificationWorker"]),
        .executable(name: "schoolict", targets: ["SchoolICTCLI"]),
        .executable(name: "schoolict-bench", targets: ["Benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        // The metrics and health endpoint. No traits: swift-configuration support is not used.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP export of spans over HTTP only: the gRPC exporter (grpc-swift) is not built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .systemLibrary(
            name: "CAMQP",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // libpq wrapped: connections, typed rows, errors with SQLSTATE, COPY. Only this target imports CPostgres.
        .target(name: "PostgresClient", dependencies: ["CPostgres"]),
        // rabbitmq-c wrapped: connections, publish with confirms, consume, ack, topology, message ids and trace
        // headers as the broker carries them. Only this target imports CAMQP.
        .target(name: "AMQPClient", dependencies: ["CAMQP"]),
        // SMTP over libcurl (STARTTLS, implicit TLS, AUTH, connection reuse): the NotificationWorker's alone.
        .target(name: "Mail", dependencies: ["CCurl"]),
        // HTTP over libcurl for the RabbitMQ management API: the operator's tool and the tests.
        .target(name: "CurlHTTP", dependencies: ["CCurl", "Shared"]),
        .target(
            name: "Shared",
            dependencies: [
                "AMQPClient",
                "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            resources: [.embedInCode("Migrations/SQL")]
        ),
        .executableTarget(
            name: "SubmissionWorker",
            dependencies: ["Shared", .product(name: "Metrics", package: "swift-metrics")]
        ),
        .executableTarget(
            name: "AllocationWorker",
            dependencies: ["Shared", .product(name: "Tracing", package: "swift-distributed-tracing")]
        ),
        .executableTarget(
            name: "NotificationWorker",
            dependencies: [
                "Shared", "Mail", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .executableTarget(
            name: "SchoolICTCLI",
            dependencies: [
                "Shared",
                "CurlHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CSV", package: "CSV.swift"),
            ]
        ),
        .executableTarget(
            name: "Benchmarks",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // What more than one test target uses: the contract's example messages, the scratch database and vhost.
        // Corpus: the decoder fuzzer's regression inputs, read from the source tree.
        .target(name: "TestSupport", dependencies: ["Shared"], path: "Tests/TestSupport", exclude: ["Corpus"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient"]),
        .testTarget(name: "SharedTests", dependencies: ["Shared", "TestSupport"]),
        .testTarget(name: "SubmissionWorkerTests", dependencies: ["SubmissionWorker", "Shared", "TestSupport"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Shared", "CurlHTTP", "TestSupport",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(name: "SchoolICTCLITests", dependencies: ["SchoolICTCLI", "Shared"]),
        .testTarget(name: "NotificationWorkerTests", dependencies: ["NotificationWorker", "Mail", "Shared", "TestSupport"]),
        .testTarget(
            name: "AllocationWorkerTests",
            dependencies: ["AllocationWorker", "Shared", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
