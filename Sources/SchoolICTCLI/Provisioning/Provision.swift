import ArgumentParser
import CurlHTTP
import Foundation
import Logging
import Shared

/// `schoolict provision`: one idempotent command that makes a deployment least-privilege. It declares the
/// contract's topology and a dead-letter TTL with the broker administrator's credentials, creates one broker user
/// per principal with only the permissions it needs (``AccessModel/brokerUsers``), creates the database roles, hands
/// the schema to `schoolict_owner`, migrates as that owner and grants each role its tables and columns
/// (``AccessModel/grants``), and writes one connection URL per principal to the secrets folder.
struct Provision: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create least-privilege broker users and database roles and write one URL per principal (idempotent).")

    @Option(name: .customLong("amqp-url"), help: "The broker as its administrator, amqp[s]://ADMIN:PASS@HOST:PORT/VHOST (default AMQP_URL or AMQP_URL_FILE).")
    var amqpURL: String?

    @Option(name: .customLong("management-url"), help: "The management API as its administrator, http://ADMIN:PASS@HOST:PORT (default SCHOOLICT_MANAGEMENT_URL).")
    var managementURL: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL as a superuser, postgresql://ADMIN@HOST:PORT/DB (default DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Folder for the principals' URLs (amqp-<user>.url, db-<role>.url), mode 0700; passwords are kept across runs.")
    var secrets: String

    @Option(help: "Days a dead letter is kept in <queue>.dead before the broker drops it.")
    var deadLetterDays = 14

    func run() throws {
        guard let amqpText = try amqpURL ?? Configuration.value("AMQP_URL"),
              let managementText = try managementURL ?? Configuration.value("SCHOOLICT_MANAGEMENT_URL"),
              let databaseText = try databaseURL ?? Configuration.value("DATABASE_URL") else {
            throw ValidationError("give --amqp-url, --management-url and --database-url (or AMQP_URL, SCHOOLICT_MANAGEMENT_URL, "
                                  + "DATABASE_URL, or each as a file named by *_FILE)")
        }
        guard (1...3650).contains(deadLetterDays) else { throw ValidationError("--dead-letter-days must be 1 to 3650") }
        let folder = try SecretsDirectory(path: secrets)
        try provisionBroker(admin: try AMQPURL(parsing: amqpText), management: managementText, folder: folder)
        try provisionDatabase(admin: databaseText, folder: folder)
        print("provisioned: broker users \(AccessModel.brokerUsers.map(\.name).joined(separator: ", ")); database roles "
              + AccessModel.databaseRoles.map(AccessModel.roleName).joined(separator: ", ") + "; URLs in \(folder.path.path)")
    }

    // MARK: Broker

    private func provisionBroker(admin: AMQPURL, management: String, folder: SecretsDirectory) throws {
        let api = try HTTPClient(baseURL: management)
        defer { api.close() }
        let vhost = HTTPClient.segment(admin.virtualHost)
        try api.expectSuccess("PUT", "/api/vhosts/\(vhost)", json: .object([:]))
        try api.expectSuccess("PUT", "/api/permissions/\(vhost)/\(HTTPClient.segment(admin.user))",
                              json: ["configure": ".*", "write": ".*", "read": ".*"])
        // The topology, as the administrator: no other user may configure anything.
        let connection = try AMQPConnection(url: admin, name: "schoolict provision")
        defer { connection.close() }
        try connection.declare(.contract)
        for user in AccessModel.brokerUsers {
            let password = folder.password(for: "amqp-\(user.name)")
            try api.expectSuccess("PUT", "/api/users/\(HTTPClient.segment(user.name))",
                                  json: ["password": .string(password), "tags": ""])
            try api.expectSuccess("PUT", "/api/permissions/\(vhost)/\(HTTPClient.segment(user.name))",
                                  json: ["configure": .string(user.configure), "write": .string(user.write),
                                         "read": .string(user.read)])
            let scheme = admin.useTLS ? "amqps" : "amqp"
            try folder.write("amqp-\(user.name)",
                             url: "\(scheme)://\(user.name):\(password)@\(admin.host):\(admin.port)/\(vhost)")
        }
        // Dead letters are kept for an operator, not for ever (they may hold personal data).
        let queues = Topology.contract.queues.map(\.name).filter { $0.hasSuffix(".dead") }
            .map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
        try api.expectSuccess("PUT", "/api/policies/\(vhost)/schoolict-dead-letter-ttl", json: [
            "pattern": .string("^(\(queues))$"), "apply-to": "queues", "priority": 0,
            "definition": ["message-ttl": .int(deadLetterDays * 86_400_000)],
        ])
    }

    // MARK: Database

    private func provisionDatabase(admin adminURL: String, folder: SecretsDirectory) throws {
        guard let adminComponents = URLComponents(string: adminURL), let scheme = adminComponents.scheme,
              scheme == "postgresql" || scheme == "postgres" else {
            throw ValidationError("--database-url must be a postgresql:// URL")
        }
        let admin = try PostgresConnection(url: adminURL, applicationName: "schoolict provision")
        defer { admin.close() }
        let database = try admin.query("SELECT current_database()")[0].string(0)
        var urls: [String: String] = [:]
        for role in AccessModel.databaseRoles {
            let name = AccessModel.roleName(role)
            let password = folder.password(for: "db-\(role)")
            let exists = try !admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]).isEmpty
            // format(%I, %L) quotes on the server: no identifier or literal is spliced in by hand.
            try execute(admin, """
                SELECT format('%s ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
                              $1::text, $2::text, $3::text)
                """, [exists ? "ALTER" : "CREATE", name, password])
            var components = adminComponents
            components.user = name
            components.password = password
            components.path = "/" + database
            urls[role] = components.string
        }
        let roles = AccessModel.databaseRoles.map(AccessModel.roleName)
        try execute(admin, "SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', $1::text)", [database])
        for role in roles {
            try execute(admin, "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text)", [database, role])
        }
        try admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        try admin.execute("GRANT USAGE, CREATE ON SCHEMA public TO schoolict_owner")
        try admin.execute("GRANT USAGE ON SCHEMA public TO " + roles.dropFirst().joined(separator: ", "))
        try admin.execute("ALTER ROLE schoolict_operator SET default_transaction_read_only = on")
        // Tables made earlier by another role (a deployment that ran with one all-powerful URL) pass to the owner.
        for row in try admin.query("""
            SELECT format('ALTER TABLE public.%I OWNER TO schoolict_owner', tablename) FROM pg_tables
            WHERE schemaname = 'public' AND tableowner <> 'schoolict_owner'
            """) {
            try admin.execute(try row.string(0))
        }

        guard let ownerURL = urls["owner"] else { return }
        let owner = try PostgresConnection(url: ownerURL, applicationName: "schoolict provision")
        defer { owner.close() }
        var logger = Logger(label: "schoolict.provision")
        logger.logLevel = .notice
        try Migrator.migrate(owner, logger: logger)
        try Migrate.grant(owner)
        for (role, url) in urls { try folder.write("db-\(role)", url: url) }
    }

    /// Runs the statement that `query` (a `SELECT format(…)`) builds.
    private func execute(_ connection: PostgresConnection, _ query: String, _ parameters: [any PostgresBindable]) throws {
        try connection.execute(try connection.query(query, parameters)[0].string(0))
    }
}

/// `schoolict migrate`: applies the schema's migrations with `DATABASE_URL` (the schema owner's, `db-owner.url`),
/// then, where `schoolict provision` made the roles, grants them what the new schema needs.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the database migrations as the schema owner (DATABASE_URL), then re-apply the roles' grants.")

    func run() throws {
        let configuration = try Configuration()
        let connection = try PostgresConnection(url: configuration.databaseURL, applicationName: "schoolict migrate")
        defer { connection.close() }
        let logger = Logger(label: "schoolict.migrate")
        let missing = try Migrator.missingVersions(connection)
        try Migrator.migrate(connection, logger: logger)
        let granted = try Self.grant(connection)
        print("schema current (\(missing.isEmpty ? "nothing to apply" : "applied \(missing.map(String.init).joined(separator: ", "))"))"
              + (granted ? "; grants applied" : ""))
    }

    /// Applies ``AccessModel/grants`` when every role exists; returns whether it did.
    @discardableResult
    static func grant(_ connection: PostgresConnection) throws -> Bool {
        let roles = AccessModel.databaseRoles.map(AccessModel.roleName)
        let found = try connection.query("SELECT count(*)::int FROM pg_roles WHERE rolname = ANY($1)", [roles])[0].int(0)
        guard found == roles.count else { return false }
        try connection.transaction { connection in
            for statement in AccessModel.grants { try connection.execute(statement) }
        }
        return true
    }
}
