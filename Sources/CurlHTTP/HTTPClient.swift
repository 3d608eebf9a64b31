import CCurl
import Shared
import Foundation

/// A small blocking HTTP client over libcurl, for the RabbitMQ management API (provisioning, dead letters):
/// one request at a time, JSON in and out, basic authentication, bounded responses.
///
/// Like the libcurl handle it wraps, a client is confined to one thread.
public final class HTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { "HTTP request failed: \(message)" }
    }

    /// Largest response body kept (the management API's answers are small; a listing is cut, never unbounded).
    public static let maximumResponseBytes = 8 * 1024 * 1024

    private var handle: UnsafeMutableRawPointer?
    private let user: String
    private let password: String
    private let base: String

    /// `baseURL` like `http://admin:secret@127.0.0.1:15672` (credentials percent-encoded) or without credentials.
    public init(baseURL: String) throws(Failure) {
        guard var components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host != nil else {
            throw Failure(message: "the management URL must be http://[user:password@]host:port")
        }
        user = components.user ?? ""
        password = components.password ?? ""
        components.user = nil
        components.password = nil
        components.path = ""
        guard let stripped = components.string else { throw Failure(message: "unusable management URL") }
        base = stripped
        guard curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK, let handle = curl_easy_init() else {
            throw Failure(message: "libcurl could not be initialised")
        }
        self.handle = handle
    }

    deinit { close() }

    public func close() {
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
    }

    /// `method` `path` (e.g. `/api/users/portal`) with an optional JSON body; any status is returned.
    public func request(_ method: String, _ path: String, json: JSONValue? = nil,
                        timeout: Duration = .seconds(20)) throws(Failure) -> Response {
        guard let handle else { throw Failure(message: "the client is closed") }
        curl_easy_reset(handle)
        let capacity = Self.maximumResponseBytes
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var download = ccurl_download(data: buffer, capacity: capacity, length: 0, dropped: 0)
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/json")
        headers = curl_slist_append(headers, "Accept: application/json")
        defer { curl_slist_free_all(headers) }
        let body = json.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? ""
        let seconds = Int(timeout.components.seconds)
        let status: CURLcode = (base + path).withCString { url in
            method.withCString { method in
                body.withCString { bodyPointer in
                    "\(user):\(password)".withCString { credentials in
                        var status = ccurl_setopt_string(handle, CURLOPT_URL, url)
                        if status == CURLE_OK { status = ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") }
                        if status == CURLE_OK { status = ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
                        if status == CURLE_OK { status = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers) }
                        if status == CURLE_OK { status = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) }
                        if status == CURLE_OK { status = ccurl_setopt_long(handle, CURLOPT_TIMEOUT, seconds) }
                        if status == CURLE_OK, !user.isEmpty {
                            status = ccurl_setopt_string(handle, CURLOPT_USERPWD, credentials)
                        }
                        if status == CURLE_OK, json != nil {
                            status = ccurl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, bodyPointer)
                        }
                        if status == CURLE_OK { status = ccurl_set_download(handle, &download) }
                        if status == CURLE_OK { status = curl_easy_perform(handle) }
                        return status
                    }
                }
            }
        }
        guard status == CURLE_OK else {
            throw Failure(message: "\(method) \(path): \(String(cString: curl_easy_strerror(status)))")
        }
        var code = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        let bytes = UnsafeRawBufferPointer(start: buffer, count: download.length)
        return Response(status: code, body: Array(bytes))
    }

    /// A request that must answer 2xx; the error names the status and the server's reason, never the body sent.
    @discardableResult
    public func expectSuccess(_ method: String, _ path: String, json: JSONValue? = nil) throws(Failure) -> Response {
        let response = try request(method, path, json: json)
        guard (200..<300).contains(response.status) else {
            let reason = (try? JSONParser.parse(response.body))?["reason"]?.stringValue ?? String(response.text.prefix(200))
            throw Failure(message: "\(method) \(path): HTTP \(response.status) \(reason)")
        }
        return response
    }

    /// A path segment percent-encoded for the management API (`/` as `%2F`, so the default vhost is `%2F`).
    public static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
