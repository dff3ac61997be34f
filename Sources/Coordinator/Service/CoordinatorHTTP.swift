import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The coordinator's operations endpoints (Hummingbird): `GET /healthz` (the process answers),
/// `GET /readyz` (the store answers, no dependency failed its last use, at least one provider
/// node is attested; 503 naming what is not, with each node's standing), `GET /metrics`
/// (Prometheus text: jobs by state, dispatch and settlement latency, dependency errors).
public enum CoordinatorHTTP {
    /// The readiness answer.
    public struct Readiness: Codable, Sendable, Hashable {
        /// `ready` or `not ready`.
        public var status: String
        /// Dependencies that failed their last use (store, chain, indexer), with why.
        public var dependencies: [String: String]
        /// Each configured provider node: `attested <signer>` or `refused: why`.
        public var providers: [String: String]
    }

    /// What `/readyz` says now.
    public static func readiness(_ engine: CoordinatorEngine) async -> Readiness {
        var problems = engine.unhealthyDependencies()
        do { try await engine.store.ping() } catch { problems["store"] = error.message }
        var nodes: [String: String] = [:]
        let standing = engine.nodeStatus()
        for provider in engine.providers {
            switch standing[provider.url] {
            case .attested(let node, _)?: nodes[provider.url] = "attested \(node.signer.checksummed) (policy \(node.policyName))"
            case .refused(let reason, _)?: nodes[provider.url] = "refused: \(reason)"
            case nil: nodes[provider.url] = "not yet verified"
            }
        }
        let anyAttested = standing.values.contains { if case .attested = $0 { true } else { false } }
        if !anyAttested { problems["providers"] = "no provider node is attested" }
        return Readiness(status: problems.isEmpty ? "ready" : "not ready", dependencies: problems, providers: nodes)
    }

    /// What `/metrics` says now: `coordinator_jobs{state}` from the store, then the engine's
    /// counters and timers (`coordinator_dispatch_seconds`, `coordinator_settlement_seconds`,
    /// `coordinator_dependency_errors_total{dependency}`, `coordinator_provider_refusals_total{code}`,
    /// `coordinator_jobs_settled_total{state}`).
    public static func metricsText(_ engine: CoordinatorEngine) async -> String {
        if let counts = try? await engine.store.counts() {
            for state in JobRecord.State.allCases { engine.metrics.gauge("coordinator_jobs", [("state", state.description)], Double(counts[state] ?? 0)) }
        }
        return engine.metrics.exposition()
    }

    /// The router.
    public static func router(_ engine: CoordinatorEngine) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in try json(["status": "ok"], .ok) }
        router.get("/readyz") { _, _ in
            let r = await readiness(engine)
            return try json(r, r.status == "ready" ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: await metricsText(engine))))
        }
        return router
    }

    /// The engine and its endpoints as one swift-service-lifecycle `ServiceGroup`: SIGTERM/SIGINT
    /// (when `signals`) stop the server and then the engine, which finishes the step it is in.
    public static func build(
        engine: CoordinatorEngine, host: String, port: Int, signals: Bool = true, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ServiceGroup {
        let app = Application(
            router: router(engine), configuration: .init(address: .hostname(host, port: port), serverName: "coordinator"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
        return ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: EngineService(engine: engine), successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                ], gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger))
    }

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status) throws -> Response {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try e.encode(value))))
    }
}

/// The engine's loops as a `Service`: they stop at graceful shutdown (between steps), and the
/// store closes after them.
struct EngineService: Service {
    let engine: CoordinatorEngine

    func run() async throws {
        await cancelWhenGracefulShutdown { await engine.run() }
        await engine.store.close()
    }
}
