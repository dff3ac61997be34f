import Chain
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

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
        /// Creates defaults.
        public init() {}
    }

    /// The router for `service`.
    public static func router(service: ReleaseService, listener: Listener) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let max = listener.maxBodyBytes
        router.get("/v1/challenge") { _, _ in
            await handle(service, route: "challenge") { _ throws(KeyReleaseError) in try json(await service.challenge()) }
        }
        router.post("/v1/release") { request, _ in
            await handle(service, route: "release") { id throws(KeyReleaseError) in
                let body = try await collect(request, max: max)
                return try json(try await service.release(body: body.readableBytesView, requestID: id))
            } refused: { id, error async in
                // A body too large never reaches the service: audit its refusal here.
                if error.code == .payloadTooLarge { await service.auditTransportRefusal(error, requestID: id) }
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
                return try json(EscrowKeyResponse(publicKey: ChainHex.prefixed(pk.serialized(compressed: true)), publicKeyUncompressed: ChainHex.prefixed(pk.serialized(compressed: false))))
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
        let server: HTTPServerBuilder
        if let tls = listener.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
                server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw KeyReleaseError(.configInvalid, "cannot load the TLS certificate or key: \(error)")
            }
        } else {
            server = .http1()
        }
        return Application(router: router(service: service, listener: listener), server: server,
                           configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "keyrelease"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                           logger: service.logger)
    }

    // MARK: - Plumbing

    static func collect(_ request: Request, max: Int) async throws(KeyReleaseError) -> ByteBuffer {
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
        return ChainHex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

extension ReleaseService {
    /// Audits a release refused before the service saw it (a body over the limit).
    func auditTransportRefusal(_ error: KeyReleaseError, requestID: String) async {
        await auditRefusal(AuditDraft(timeMillis: Self.millis(settings.clock()), outcome: "refused", code: error.code.rawValue, requestID: requestID), error: error)
    }
}
