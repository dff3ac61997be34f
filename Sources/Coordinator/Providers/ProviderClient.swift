import AsyncHTTPClient
import ByteEncoding
import EVMCrypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ReleaseProtocol

/// A client for one provider node's 0G fine-tuning task API (zerog.md §2.2) with LICEN's
/// extensions: the node quote, the `jobId`-keyed create, and the coordinator's acknowledgement.
///
/// Every call has a deadline (``timeout``). Failures are ``CoordinatorError``s:
/// ``CoordinatorError/Code/providerUnavailable`` when the node cannot be reached, times out or
/// answers 5xx (retry later); ``CoordinatorError/Code/providerFailed`` for an unexpected status
/// or a body that does not parse. Messages name the node (without any user-info part of its URL),
/// the route and the status, never a response body (it could carry anything).
public struct ProviderClient: Sendable {
    /// The node's base URL (`http(s)://host:port`, no trailing `/`).
    public let url: String
    /// How long one call may take, from connecting to the last body byte (default 30 s).
    public let timeout: TimeAmount
    /// The largest response body read (default 16 MiB: evidence with collateral).
    public let maxBodyBytes: Int
    let client: HTTPClient

    /// A client for the node at `url`.
    public init(url: String, timeout: TimeAmount = .seconds(30), maxBodyBytes: Int = 16 << 20, client: HTTPClient = .shared) {
        var u = url
        while u.hasSuffix("/") { u.removeLast() }
        self.url = u
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
        self.client = client
    }

    /// `url` without user-info (`user:secret@`), for messages.
    public var displayURL: String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let slash = url[scheme.upperBound...].firstIndex(of: "/") ?? url.endIndex
        return at < slash ? String(url[..<scheme.upperBound]) + String(url[url.index(after: at)...]) : url
    }

    /// `GET /v1/quote?nonce=HEX`: the node's signer and evidence binding it to `nonce`. The
    /// answer is parsed, not verified (``ProviderAttestor`` verifies).
    public func quote(nonce: [UInt8]) async throws(CoordinatorError) -> NodeQuote {
        let (status, body) = try await send(.GET, "/v1/quote?nonce=\(Hex.prefixed(nonce))")
        try expect(status, [200], "GET /v1/quote")
        do throws(ReleaseProtocolError) { return try NodeQuote(json: body) } catch { throw CoordinatorError(.providerFailed, "provider \(displayURL): GET /v1/quote: \(error.message)") }
    }

    /// `GET /v1/task/pending`: tasks in Init, SettingUp, SetUp or Training (a text integer).
    public func pendingCount() async throws(CoordinatorError) -> Int {
        let (status, body) = try await send(.GET, "/v1/task/pending")
        try expect(status, [200], "GET /v1/task/pending")
        guard let n = Int(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), n >= 0 else {
            throw CoordinatorError(.providerFailed, "provider \(displayURL): GET /v1/task/pending: not a count")
        }
        return n
    }

    /// `POST /v1/user/{user}/task` (201 `{"id"}`; 200 when the node already has a task for
    /// the request's `jobId` and answers its id): the task's id.
    public func createTask(user: Address, request: TaskRequest) async throws(CoordinatorError) -> String {
        let route = "/v1/user/\(user.checksummed)/task"
        let body: Data
        do { body = try JSONEncoder().encode(request) } catch { throw CoordinatorError(.providerFailed, "task request does not encode: \(error)") }
        let (status, reply) = try await send(.POST, route, body: body)
        try expect(status, [200, 201], "POST \(route)")
        struct Created: Decodable { var id: String }
        guard let created = try? JSONDecoder().decode(Created.self, from: reply), Self.isTaskID(created.id) else {
            throw CoordinatorError(.providerFailed, "provider \(displayURL): POST \(route): no task id in the answer")
        }
        return created.id
    }

    /// `GET /v1/user/{user}/task/{id}`: the task, or nil when the node answers 404 (it does not
    /// know the task: lost, or never created).
    public func task(user: Address, id: String) async throws(CoordinatorError) -> TaskRecord? {
        let route = "/v1/user/\(user.checksummed)/task/\(try checked(id))"
        let (status, body) = try await send(.GET, route)
        if status == 404 { return nil }
        try expect(status, [200], "GET \(route)")
        return try decode(TaskRecord.self, body, "GET \(route)")
    }

    /// `GET /v1/user/{user}/task`: the user's tasks (newest first, as the node orders them).
    public func tasks(user: Address) async throws(CoordinatorError) -> [TaskRecord] {
        let route = "/v1/user/\(user.checksummed)/task"
        let (status, body) = try await send(.GET, route)
        try expect(status, [200], "GET \(route)")
        return try decode([TaskRecord].self, body, "GET \(route)")
    }

    /// `POST /v1/user/{user}/task/{id}/acknowledge` (LICEN): the coordinator, for the user,
    /// acknowledges the delivered model so the node moves on to UserAcknowledged and Finished.
    /// 200 (also when already acknowledged); 404 and 409 (not Delivered) are
    /// ``CoordinatorError/Code/providerFailed``.
    public func acknowledge(user: Address, id: String) async throws(CoordinatorError) {
        let route = "/v1/user/\(user.checksummed)/task/\(try checked(id))/acknowledge"
        let (status, _) = try await send(.POST, route, body: Data("{}".utf8))
        try expect(status, [200, 204], "POST \(route)")
    }

    /// Whether `id` is safe in a path: 1…128 of `A-Z a-z 0-9 - _` (UUIDs and the like). Why:
    /// an id comes from the node; it must never reshape the route it is put into.
    public static func isTaskID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { c in (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7a) || c == 0x2d || c == 0x5f }
    }

    private func checked(_ id: String) throws(CoordinatorError) -> String {
        guard Self.isTaskID(id) else { throw CoordinatorError(.providerFailed, "task id is not of the form [A-Za-z0-9_-]{1,128}") }
        return id
    }

    private func expect(_ status: Int, _ accepted: Set<Int>, _ route: String) throws(CoordinatorError) {
        guard !accepted.contains(status) else { return }
        // 5xx and 429: the node is down or busy, which is worth retrying; anything else is an answer we did not ask for.
        let code: CoordinatorError.Code = status >= 500 || status == 429 ? .providerUnavailable : .providerFailed
        throw CoordinatorError(code, "provider \(displayURL): \(route): HTTP \(status)")
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data, _ route: String) throws(CoordinatorError) -> T {
        do { return try JSONDecoder().decode(T.self, from: body) } catch {
            throw CoordinatorError(.providerFailed, "provider \(displayURL): \(route): malformed answer (\(Self.describe(error)))")
        }
    }

    /// A decoding error's path and kind, without values.
    static func describe(_ error: any Error) -> String {
        func path(_ c: [any CodingKey]) -> String { c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined() }
        switch error {
        case DecodingError.keyNotFound(let k, let c): return "\(path(c.codingPath + [k])) missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): return "\(path(c.codingPath)) has the wrong type"
        case DecodingError.dataCorrupted(let c): return "\(path(c.codingPath)) is invalid"
        case let e as ReleaseProtocolError: return e.message
        default: return "not JSON"
        }
    }

    private func send(_ method: HTTPMethod, _ route: String, body: Data? = nil) async throws(CoordinatorError) -> (Int, Data) {
        do {
            var request = HTTPClientRequest(url: url + route)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: body))
            }
            let deadline = NIODeadline.now() + timeout
            let response = try await client.execute(request, deadline: deadline)
            let bytes: ByteBuffer
            do { bytes = try await response.body.collect(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
                throw CoordinatorError(.providerFailed, "provider \(displayURL): \(method.rawValue) \(Self.path(route)): answer larger than \(maxBodyBytes) bytes")
            }
            return (Int(response.status.code), Data(buffer: bytes))
        } catch let e as CoordinatorError {
            throw e
        } catch {
            throw CoordinatorError(.providerUnavailable, "provider \(displayURL): \(method.rawValue) \(Self.path(route)): \(Self.transport(error))")
        }
    }

    /// The route without its query.
    static func path(_ route: String) -> Substring { route.split(separator: "?", maxSplits: 1).first ?? "" }

    /// A transport failure in words (AsyncHTTPClient's and NIO's errors name no body).
    static func transport(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout { return "timed out" }
        }
        return String(describing: type(of: error)) + ": " + "\(error)".prefix(200)
    }
}
