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

    /// The router for `service`.
    public static func router(service: ReleaseService, listener: Listener) -> Router<ReleaseRequestContext> {
        let router = Router(context: ReleaseRequestContext.self)
        let max = listener.maxBodyBytes
        router.get("/v1/challenge") { _, context in
            await handle(service, route: "challenge") { _ throws(KeyReleaseError) in try json(await service.challenge(client: context.clientAddress)) }
        }
        router.post("/v1/release") { request, _ in
            await handle(service, route: "release") { id throws(KeyReleaseError) in
                let body = try await collect(request, max: max)
                return try json(try await service.release(body: body.readableBytesView, requestID: id))
            } refused: { _, error async in
                // A body too large never reaches the service: counted, not audited (no nonce).
                if error.code == .payloadTooLarge { service.metrics.unauditedRefusal(error.code) }
            }
        }
        router.post("/v1/escrow") { request, _ in
            await handle(service, route: "escrow") { id throws(KeyReleaseError) in
                let body = try await collect(request, max: max)
                try await service.escrow(body: body.readableBytesView, requestID: id)
                return try json(["stored": true], status: .created)
            }
        }
        router.get("/v1/escrow-key") { _, _ in
            await handle(service, route: "escrow-key") { _ throws(KeyReleaseError) in
                let pk = service.escrowPublicKey
                return try json(EscrowKeyResponse(publicKey: Hex.prefixed(pk.serialized(compressed: true)), publicKeyUncompressed: Hex.prefixed(pk.serialized(compressed: false))))
            }
        }
        router.get("/v1/audit/:ref") { _, context in
            await handle(service, route: "audit") { _ throws(KeyReleaseError) in
                guard let ref = context.parameters.get("ref") else { throw KeyReleaseError(.badRequest, "missing reference") }
                return try json(AuditRecordResponse(try await service.auditRecord(ref: ref)))
            }
        }
        router.get("/v1/admin/audit") { request, _ in
            await handle(service, route: "admin-audit") { _ throws(KeyReleaseError) in
                guard let token = listener.adminToken, let given = request.headers[.authorization],
                      constantTimeEqual(Array(given.utf8), Array("Bearer \(token)".utf8)) else {
                    throw KeyReleaseError(.unauthorized, "admin route without the admin token")
                }
                let after = Int64(request.uri.queryParameters.get("after") ?? "0") ?? 0
                let limit = min(Int(request.uri.queryParameters.get("limit") ?? "100") ?? 100, 1000)
                return try json(try await service.store.auditRecords(afterSequence: after, limit: limit).map(AuditRecordResponse.init))
            }
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
        }
        router.get("/readyz") { _, _ in
            await handle(service, route: "readyz") { _ throws(KeyReleaseError) in
                try await service.ready()
                return try json(["status": "ready"])
            }
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: service.metrics.exposition())))
        }
        return router
    }

    /// Runs the service until cancelled or signalled (SIGTERM/SIGINT: graceful shutdown through
    /// swift-service-lifecycle). `onRunning` gets the bound port.
    public static func run(service: ReleaseService, listener: Listener, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = try application(service: service, listener: listener, onRunning: onRunning)
        try await app.runService()
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
        return Application(router: router(service: service, listener: listener), server: server,
                           configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "keyrelease",
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

    static func handle(_ service: ReleaseService, route: String, _ body: (String) async throws(KeyReleaseError) -> Response,
                       refused: (String, KeyReleaseError) async -> Void = { _, _ in }) async -> Response {
        let id = newRequestID()
        do {
            var response = try await body(id)
            response.headers[.init("x-request-id")!] = id
            service.metrics.request(route: route, outcome: "ok")
            return response
        } catch {
            await refused(id, error)
            service.metrics.request(route: route, outcome: error.code.rawValue)
            service.logger.log(level: error.code.httpStatus >= 500 ? .error : .notice, "request failed",
                               metadata: ["requestId": "\(id)", "route": "\(route)", "code": "\(error.code.rawValue)", "detail": "\(error.message)"])
            var response = (try? json(ErrorBody(code: error.code.rawValue, requestId: id), status: .init(code: error.code.httpStatus)))
                ?? Response(status: .internalServerError)
            response.headers[.init("x-request-id")!] = id
            return response
        }
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

    /// Creates the context for a request on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address (no port), or nil when unknown.
    var clientAddress: String? { remoteAddress?.ipAddress }
}
