import ByteEncoding
import Chain
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ReleaseProtocol
import ServiceLifecycle

/// The key-release service over HTTP (Hummingbird 2). Routes:
/// `GET /v1/challenge`, `POST /v1/release`, `POST /v1/escrow`, `GET /v1/escrow-key`,
/// `GET /v1/audit/{attestationRef}`, `GET /v1/admin/audit?after=N&limit=M` (bearer admin token),
/// `GET /healthz`, `GET /readyz`, `GET /metrics`. Every error body is `{code, requestId}` with the
/// status of ``KeyReleaseError/Code/httpStatus``; details go to the log under the request id.
public enum ReleaseHTTP {
    /// Listener settings.
    public struct Listener: Sendable {
        /// Host to bind.
        public var host: String = "127.0.0.1"
        /// Port (0 picks a free one).
        public var port: Int = 8443
        /// PEM certificate chain and private key files; nil serves plain HTTP (loopback or behind a TLS proxy).
        public var tls: (certificateChain: String, privateKey: String)?
        /// Largest accepted request body.
        public var maxBodyBytes: Int = 1 << 20
        /// Bearer token for admin routes; nil disables them.
        public var adminToken: String?
        /// A new connection must deliver its first request head within this.
        public var headerTimeout: Duration = .seconds(10)
        /// A request body must arrive whole within this of its head.
        public var bodyTimeout: Duration = .seconds(30)
        /// A keep-alive connection may stay idle between requests for this long.
        public var idleTimeout: Duration = .seconds(60)
        /// Open connections at most; further ones wait to be accepted.
        public var maxConnections: Int = 1024
        /// Creates defaults.
        public init() {}
    }

    /// The router for `service`. Handlers throw ``KeyReleaseError``; ``ErrorMiddleware`` turns
    /// every error into its status and `{code, requestId}` body, logs it and counts it.
    public static func router(service: ReleaseService, listener: Listener) -> Router<ReleaseRequestContext> {
        let router = Router(context: ReleaseRequestContext.self)
        router.add(middleware: ErrorMiddleware(service: service))
        let max = listener.maxBodyBytes
        router.get("/v1/challenge") { _, context in
            try json(await service.challenge(client: context.clientAddress))
        }
        router.post("/v1/release") { request, context in
            let body = try await collect(request, max: max)
            return try json(try await service.release(body: body.readableBytesView, requestID: context.requestID))
        }
        router.post("/v1/escrow") { request, context in
            let body = try await collect(request, max: max)
            try await service.escrow(body: body.readableBytesView, requestID: context.requestID)
            return try json(["stored": true], status: .created)
        }
        router.get("/v1/escrow-key") { _, _ in
            let pk = service.escrowPublicKey
            return try json(EscrowKeyResponse(publicKey: Hex.prefixed(pk.serialized(compressed: true)), publicKeyUncompressed: Hex.prefixed(pk.serialized(compressed: false))))
        }
        router.get("/v1/audit/:ref") { _, context in
            guard let ref = context.parameters.get("ref") else { throw KeyReleaseError(.badRequest, "missing reference") }
            return try json(AuditRecordResponse(try await service.auditRecord(ref: ref)))
        }
        router.get("/v1/admin/audit") { request, _ in
            guard let token = listener.adminToken, let given = request.headers[.authorization],
                constantTimeEqual(Array(given.utf8), Array("Bearer \(token)".utf8))
            else {
                throw KeyReleaseError(.unauthorized, "admin route without the admin token")
            }
            let after = Int64(request.uri.queryParameters.get("after") ?? "0") ?? 0
            let limit = min(Int(request.uri.queryParameters.get("limit") ?? "100") ?? 100, 1000)
            return try json(try await service.store.auditRecords(afterSequence: after, limit: limit).map(AuditRecordResponse.init))
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
        }
        router.get("/readyz") { _, _ in
            try await service.ready()
            return try json(["status": "ready"])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: service.metrics.exposition())))
        }
        return router
    }

    /// The service as one swift-service-lifecycle `ServiceGroup`: the HTTP server, and the store,
    /// closed once the server has stopped (SIGTERM/SIGINT shut the group down gracefully when
    /// `signals` is true). `serve` and the tests both run this. `ownsStore`: whether the group
    /// closes the store (false when several servers in one process share it, as test replicas do).
    public static func build(
        service: ReleaseService, listener: Listener, ownsStore: Bool = true, signals: Bool = true,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> ServiceGroup {
        let app = try application(service: service, listener: listener, onRunning: onRunning)
        var services = [ServiceGroupConfiguration.ServiceConfiguration]()
        // Shut down in reverse order: the server stops taking requests before the store closes.
        if ownsStore { services.append(.init(service: StoreLifecycle(store: service.store))) }
        services.append(.init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: service.logger))
    }

    /// The Hummingbird application (a swift-service-lifecycle `Service`).
    public static func application(service: ReleaseService, listener: Listener, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let (header, body, idle) = (TimeAmount(listener.headerTimeout), TimeAmount(listener.bodyTimeout), TimeAmount(listener.idleTimeout))
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionDeadlines(header: header, body: body, idle: idle)])
        let server: HTTPServerBuilder
        if let tls = listener.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
                server = try .tls(.http1(configuration: http1), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw KeyReleaseError(.configInvalid, "cannot load the TLS certificate or key: \(error)")
            }
        } else {
            server = .http1(configuration: http1)
        }
        return Application(
            router: router(service: service, listener: listener), server: server,
            configuration: .init(
                address: .hostname(listener.host, port: listener.port), serverName: "keyrelease",
                availableConnectionsDelegate: MaximumAvailableConnections(listener.maxConnections)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: service.logger)
    }

    // MARK: - Plumbing

    /// The whole body, at most `max` bytes. A declared Content-Length over `max` is refused at
    /// once, before any of the body is read.
    static func collect(_ request: Request, max: Int) async throws(KeyReleaseError) -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > max {
            throw KeyReleaseError(.payloadTooLarge, "declared body of \(declared) bytes is over \(max)")
        }
        do { return try await request.body.collect(upTo: max) } catch {
            if error is NIOTooManyBytesError || (error as? HTTPError)?.status == .contentTooLarge {
                throw KeyReleaseError(.payloadTooLarge, "body over \(max) bytes")
            }
            throw KeyReleaseError(.badRequest, "cannot read the body")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws(KeyReleaseError) -> Response {
        do {
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try CanonicalJSON.encode(value))))
        } catch { throw KeyReleaseError(.internalError, "response does not encode") }
    }

    static func newRequestID() -> String {
        var rng = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// Compares two secrets in time that depends on neither's content nor on where they differ,
    /// and not on `a`'s length either: both are hashed first (SHA-256), then the digests compared
    /// byte for byte without an early exit.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let x = Array(SHA256.hash(data: a)), y = Array(SHA256.hash(data: b))
        var diff: UInt8 = 0
        for i in 0..<32 { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// The request context: Hummingbird's core storage and the peer's address (the challenge
/// budget is charged to it).
public struct ReleaseRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The peer's socket address.
    public let remoteAddress: SocketAddress?

    /// This request's id: in the `x-request-id` header, every error body, log line and audit record.
    public let requestID: String

    /// Creates the context for a request on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        requestID = ReleaseHTTP.newRequestID()
    }

    /// The peer's IP address (no port), or nil when unknown.
    var clientAddress: String? { remoteAddress?.ipAddress }
}

/// Maps every error a route throws to its HTTP answer, in one place: the status of
/// ``KeyReleaseError/Code/httpStatus``, the body `{code, requestId}` (details only in the log,
/// under the request id), a log line and the request counter. Any other error is an internal
/// error. Every response carries `x-request-id`.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ReleaseRequestContext
    let service: ReleaseService

    /// The metrics label of the routes that are counted (by path).
    static func route(_ path: String) -> String? {
        switch path {
        case "/v1/challenge": "challenge"
        case "/v1/release": "release"
        case "/v1/escrow": "escrow"
        case "/v1/escrow-key": "escrow-key"
        case "/v1/admin/audit": "admin-audit"
        case "/readyz": "readyz"
        default: path.hasPrefix("/v1/audit/") ? "audit" : nil
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = context.requestID
        let route = Self.route(request.uri.path)
        do {
            var response = try await next(request, context)
            response.headers[.init("x-request-id")!] = id
            if let route { service.metrics.request(route: route, outcome: "ok") }
            return response
        } catch {
            let e: KeyReleaseError
            switch error {
            case let k as KeyReleaseError: e = k
            case let h as HTTPError where h.status == .notFound: e = KeyReleaseError(.notFound, "no such route")
            case let h as HTTPError where h.status == .methodNotAllowed: e = KeyReleaseError(.badRequest, "method not allowed")
            default: e = KeyReleaseError(.internalError, "unexpected \(type(of: error))")
            }
            // A body too large never reaches the service: counted, not audited (no nonce).
            if e.code == .payloadTooLarge && route == "release" { service.metrics.unauditedRefusal(e.code) }
            if let route { service.metrics.request(route: route, outcome: e.code.rawValue) }
            service.logger.log(
                level: e.code.httpStatus >= 500 ? .error : .notice, "request failed",
                metadata: ["requestId": "\(id)", "route": "\(route ?? request.uri.path)", "code": "\(e.code.rawValue)", "detail": "\(e.message)"])
            var response =
                (try? ReleaseHTTP.json(ErrorBody(code: e.code.rawValue, requestId: id), status: .init(code: e.code.httpStatus)))
                ?? Response(status: .internalServerError)
            response.headers[.init("x-request-id")!] = id
            return response
        }
    }
}

/// Closes a store when its service group shuts down: the store's lifetime is the group's.
struct StoreLifecycle: Service {
    let store: any ReleaseStore

    func run() async throws {
        // Returns on graceful shutdown; throws on cancellation: either way the store closes.
        try? await gracefulShutdown()
        await store.close()
    }
}
