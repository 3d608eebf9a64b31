import Foundation

/// The folder `schoolict provision` writes one connection URL per principal to (`amqp-<user>.url`,
/// `db-<role>.url`), each mode 0600, the folder 0700. A password is generated once and read back from its file on
/// every later run, so provisioning again changes nothing that works.
struct SecretsDirectory {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let path: URL

    init(path: String) throws {
        self.path = URL(fileURLWithPath: path, isDirectory: true)
        try FileManager.default.createDirectory(at: self.path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard chmod(self.path.path, 0o700) == 0 else { throw Failure(description: "cannot restrict \(path) to its owner") }
    }

    func file(_ name: String) -> URL { path.appendingPathComponent(name + ".url") }

    /// The password in `name`'s URL file, or a new random one (32 hex digits: safe in any URL and SQL literal).
    func password(for name: String) -> String {
        if let text = try? String(contentsOf: file(name), encoding: .utf8),
           let password = URLComponents(string: text.trimmingCharacters(in: .whitespacesAndNewlines))?.password,
           password.count >= 16, password.allSatisfy({ $0.isHexDigit }) {
            return password
        }
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Writes `url` to `name`'s file, readable by the owner only (created 0600, never world-readable for an instant).
    func write(_ name: String, url: String) throws {
        let target = file(name)
        let temporary = path.appendingPathComponent(".\(name).url.tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot write \(temporary.path)") }
        let bytes = Array((url + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        fchmod(descriptor, 0o600)
        close(descriptor)
        guard written == bytes.count, rename(temporary.path, target.path) == 0 else {
            throw Failure(description: "cannot write \(target.path)")
        }
    }
}
