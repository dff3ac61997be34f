import AsyncHTTPClient
import ByteEncoding
import Foundation
import NIOCore
import NIOFoundationCompat

/// A JSON value as JSON-RPC carries it.
public indirect enum RPCValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([RPCValue])
    case object([String: RPCValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([RPCValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: RPCValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Member `key` of an object.
    public subscript(key: String) -> RPCValue? { if case .object(let o) = self { return o[key] } else { return nil } }
    /// The string, if this is one.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The array, if this is one.
    public var array: [RPCValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// Whether this is null.
    public var isNull: Bool { self == .null }
}

/// A JSON-RPC 2.0 client over HTTP (async-http-client). Transport failures (connection refused,
/// timeouts, 5xx) are retried with exponential backoff; JSON-RPC error objects are not: they are
/// answers. Errors: ``ChainError/Code/rpcUnavailable`` after the retries,
/// ``ChainError/Code/rpcError`` for an error object (the `data` field is kept for revert decoding).
public struct JSONRPCClient: Sendable {
    /// An error object the endpoint returned.
    public struct ErrorObject: Error, Sendable {
        /// JSON-RPC error code (3 = execution reverted, by geth's convention).
        public let code: Int
        /// The message.
        public let message: String
        /// `data`, when a hex string (revert data).
        public let data: [UInt8]?
    }

    /// The endpoint.
    public let url: String
    /// The HTTP client.
    public let client: HTTPClient
    /// Time allowed per request.
    public let timeout: TimeAmount
    /// Retries after a transport failure.
    public let retries: Int
    /// First backoff delay; doubles each retry.
    public let backoff: Duration

    /// Creates a client.
    public init(url: String, client: HTTPClient = .shared, timeout: TimeAmount = .seconds(15), retries: Int = 3, backoff: Duration = .milliseconds(200)) {
        self.url = url
        self.client = client
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
    }

    /// A client for one-shot command-line calls: no retries, and an HTTP client that gives up
    /// on the first failed connection (refused, unreachable) instead of retrying it until the
    /// request deadline. Why: a CLI call to a wrong or stopped endpoint should fail at once; the
    /// services keep the retrying default, where an RPC restart is worth waiting for.
    public static func failingFast(url: String, timeout: TimeAmount = .seconds(15)) -> JSONRPCClient {
        JSONRPCClient(url: url, client: failFastHTTPClient, timeout: timeout, retries: 0)
    }

    /// The HTTP client of ``failingFast(url:timeout:)``: connection establishment is not retried.
    /// Process-wide and never shut down, like `HTTPClient.shared`.
    private static let failFastHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Calls `method`; returns the result, or throws an ``ErrorObject`` wrapped as
    /// ``ChainError/Code/rpcError`` via ``callRaw(_:_:)``.
    public func call(_ method: String, _ params: [RPCValue]) async throws(ChainError) -> RPCValue {
        switch try await callRaw(method, params) {
        case .success(let v): return v
        case .failure(let e): throw ChainError(.rpcError, "\(method): \(e.message) (code \(e.code))")
        }
    }

    /// Calls `method`, returning an error object as a value so callers can decode revert data.
    public func callRaw(_ method: String, _ params: [RPCValue]) async throws(ChainError) -> Result<RPCValue, ErrorObject> {
        let body: Data
        do { body = try JSONEncoder().encode(RPCValue.object(["jsonrpc": .string("2.0"), "id": .number(1), "method": .string(method), "params": .array(params)])) } catch {
            throw ChainError(.encoding, "cannot encode \(method) request")
        }
        var attempt = 0
        var delay = backoff
        while true {
            do {
                return try await post(body, method: method)
            } catch let e where e.code == .rpcUnavailable && attempt < retries {
                attempt += 1
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
    }

    /// `url` fit for logs and errors: scheme, host and port only. Providers put API keys in
    /// the userinfo, the path (`/v3/KEY`) or the query, so all three are dropped (`/…` marks a
    /// dropped path). Unparsable input is shown as `<rpc url>`.
    public static func redacted(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host, !host.isEmpty else { return "<rpc url>" }
        let hasMore = !(c.path.isEmpty || c.path == "/") || c.query != nil || c.fragment != nil
        return "\(scheme)://\(host)\(c.port.map { ":\($0)" } ?? "")\(hasMore ? "/…" : "")"
    }

    private func post(_ body: Data, method: String) async throws(ChainError) -> Result<RPCValue, ErrorObject> {
        let bytes: ByteBuffer
        let status: UInt
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            let shown = Self.redacted(url)
            throw ChainError(.rpcUnavailable, "\(method) to \(shown): \(String(describing: error).replacingOccurrences(of: url, with: shown))")
        }
        guard status < 500 else { throw ChainError(.rpcUnavailable, "\(method): HTTP \(status)") }
        let reply: RPCValue
        do { reply = try JSONDecoder().decode(RPCValue.self, from: Data(buffer: bytes)) } catch {
            throw ChainError(.rpcError, "\(method): HTTP \(status), not a JSON-RPC reply")
        }
        if let e = reply["error"], !e.isNull {
            var code = 0
            if case .number(let n)? = e["code"] { code = Int(n) }
            let data = e["data"]?.string.flatMap { try? Hex.decode($0) }
            return .failure(ErrorObject(code: code, message: e["message"]?.string ?? "error", data: data))
        }
        guard let result = reply["result"] else { throw ChainError(.rpcError, "\(method): reply has neither result nor error") }
        return .success(result)
    }
}
