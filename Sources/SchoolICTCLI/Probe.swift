import ArgumentParser
import CurlHTTP
import Shared

/// `schoolict probe URL`: exits 0 when the URL answers 2xx (a container healthcheck: the runtime image has no curl).
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if an HTTP URL answers 2xx, else 1 (e.g. http://127.0.0.1:9090/readyz), for healthchecks.")

    @Argument(help: "The URL, e.g. http://127.0.0.1:9090/healthz.") var url: String

    func run() throws {
        guard let slash = url.dropFirst("http://".count).firstIndex(of: "/"), url.hasPrefix("http://") else {
            throw ValidationError("an http:// URL with a path")
        }
        let client = try HTTPClient(baseURL: String(url[..<slash]))
        defer { client.close() }
        let response = try client.request("GET", String(url[slash...]), timeout: .seconds(5))
        print("\(response.status) \(response.text.prefix(200))")
        if !(200..<300).contains(response.status) { throw ExitCode(1) }
    }
}
