import Coordinator
import EVMCrypto
import Foundation
import TestSupport
import Testing

/// Dependencies failing under a running job: the chain RPC down, a provider answering 5xx, the
/// database down. Each time `/readyz` names what is down, the job waits (nothing is lost or
/// failed for it), and once the dependency is back the job runs on to one settlement.
@Suite("Coordinator: dependency faults", .serialized, .timeLimit(.minutes(6)))
struct CoordinatorFaultTests {
    @Test("chain down, provider 5xx, database down: /readyz says which, the job waits, then completes once")
    func faults() async throws {
        let pg = try PostgresServer(database: "coordfaults")
        defer { pg.shutdown() }
        try await CoordinatorWorld.using(storeBackend: .postgres, postgres: pg) { w in
            let d = try await w.release.dataset()
            let node = try w.node()
            // A node whose quote binds another signer: never used, and /readyz says why.
            var dishonest = LoopbackTaskProvider.Script()
            dishonest.quote = .wrongBinding(Secp256k1.PrivateKey().publicKey.address)
            let impostor = try w.node(script: dishonest)
            let proxy = try LoopbackRPCProxy(upstream: w.release.chain.info.rpcUrl)
            defer { proxy.stop() }
            let engine = try await w.engine([impostor, node], rpc: proxy.url) { $0.taskTimeout = 600 }
            var now = Date()
            func round() async {
                _ = try? await engine.discoverOnce(now: now)
                await engine.dispatchOnce(now: now)
                await engine.trackOnce(now: now)
                now += 5
            }
            func state() async throws -> JobRecord.State? { try await engine.store.job(d.jobID)?.state }

            // Dispatched and running, on the honest node.
            await round()
            #expect(try await state() == .started)
            #expect(try await engine.store.job(d.jobID)?.providerURL == node.baseURL)
            let standing = await CoordinatorHTTP.readiness(engine)
            #expect(standing.providers[impostor.baseURL]?.hasPrefix("refused") == true, "\(standing)")
            #expect(standing.providers[node.baseURL]?.hasPrefix("attested") == true, "\(standing)")

            // The chain RPC down: nothing moves, /readyz names the chain.
            proxy.unavailable(10_000)
            for _ in 0..<3 { await round() }
            var ready = await CoordinatorHTTP.readiness(engine)
            #expect(ready.status == "not ready" && ready.dependencies["chain"] != nil, "\(ready)")
            #expect(try await state() == .started)
            proxy.unavailable(0)
            await round()
            ready = await CoordinatorHTTP.readiness(engine)
            #expect(ready.dependencies["chain"] == nil, "\(ready)")

            // The provider answers 503: the job waits (not failed), /readyz names the node.
            node.update { $0.failingStatus = 503 }
            for _ in 0..<3 { await round() }
            ready = await CoordinatorHTTP.readiness(engine)
            #expect(ready.dependencies["provider \(node.baseURL)"] != nil, "\(ready)")
            #expect(try await state() == .started)
            node.update { $0.failingStatus = nil }

            // The database down: rounds fail without acting, /readyz names the store.
            try pg.stop()
            for _ in 0..<2 { await round() }
            ready = await CoordinatorHTTP.readiness(engine)
            #expect(ready.status == "not ready" && ready.dependencies["store"] != nil, "\(ready)")
            try pg.start()

            // Everything back: the job completes, settled once.
            let records = try await w.drive(engine, until: [d.jobID], start: now)
            #expect(records.first?.state == .completed)
            ready = await CoordinatorHTTP.readiness(engine)
            #expect(ready.status == "ready", "\(ready)")
            let settlements = try await w.events(d.jobID).filter { if case .jobCompleted = $0 { true } else if case .jobFailed = $0 { true } else { false } }
            #expect(settlements.count == 1)
            #expect(node.tasksPerJob[d.jobID] == 1)
            #expect(impostor.tasksPerJob.isEmpty)
            // /metrics: jobs by state, latencies, dependency errors and the refused node.
            let metrics = await CoordinatorHTTP.metricsText(engine)
            for expected in [
                #"coordinator_jobs{state="completed"} 1"#, "coordinator_dispatch_seconds", "coordinator_settlement_seconds",
                #"coordinator_dependency_errors_total{dependency="chain"}"#, #"coordinator_dependency_errors_total{dependency="provider"}"#,
                #"coordinator_provider_refusals_total{code="providerUntrusted"}"#,
            ] {
                #expect(metrics.contains(expected), "\(expected) missing from /metrics")
            }
        }
    }

    @Test("the indexer down: /readyz names discovery and nothing is dispatched; once a (lagging) indexer answers, the job runs to one settlement")
    func indexerDown() async throws {
        try await CoordinatorWorld.using { w in
            let d = try await w.release.dataset()
            let node = try w.node()
            let down = ChainConfirmedJobSource(HyperIndexJobSource(url: "http://127.0.0.1:1/v1/graphql"), dataPolicy: w.release.dp)
            let blind = try await w.engine([node], owner: "blind", source: down)
            let now = Date()
            await #expect(throws: CoordinatorError.self) { try await blind.discoverOnce(now: now) }
            #expect(await blind.dispatchOnce(now: now) == 0)
            let ready = await CoordinatorHTTP.readiness(blind)
            #expect(ready.status == "not ready" && ready.dependencies["discovery"] != nil, "\(ready)")
            #expect(try await blind.store.jobs().isEmpty)
            await blind.store.close()

            // The indexer is back, still catching up (isReady false): what it lists is confirmed on chain.
            let indexer = try GrantedJobSourceTests.hasura([(d.jobID, d.root, 2)], isReady: false, requests: LockedCounter())
            defer { indexer.shutdown() }
            let up = ChainConfirmedJobSource(HyperIndexJobSource(url: indexer.baseURL + "/v1/graphql"), dataPolicy: w.release.dp)
            let engine = try await w.engine([node], owner: "seeing", source: up)
            let records = try await w.drive(engine, until: [d.jobID])
            #expect(records.first?.state == .completed)
            #expect(await CoordinatorHTTP.readiness(engine).dependencies["discovery"] == nil)
            let settlements = try await w.events(d.jobID).filter { if case .jobCompleted = $0 { true } else { false } }
            #expect(settlements.count == 1)
        }
    }

    @Test("a settlement transaction the node never received is found lost by the next coordinator and sent again: one settlement")
    func lostSettlement() async throws {
        try await CoordinatorWorld.using { w in
            let d = try await w.release.dataset()
            let node = try w.node()
            let proxy = try LoopbackRPCProxy(upstream: w.release.chain.info.rpcUrl)
            defer { proxy.stop() }
            let first = try await w.engine([node], owner: "first", rpc: proxy.url, senderTimeout: .seconds(3))
            var now = Date()
            func round(_ e: CoordinatorEngine) async {
                _ = try? await e.discoverOnce(now: now)
                await e.dispatchOnce(now: now)
                await e.trackOnce(now: now)
                now += 5
            }
            // Up to the model's acknowledgement; the next look settles.
            for _ in 0..<20 where try await first.store.job(d.jobID)?.state != .acknowledged { await round(first) }
            #expect(try await first.store.job(d.jobID)?.state == .acknowledged)
            proxy.swallowSends(1)
            await round(first)
            let stuck = try #require(try await first.store.job(d.jobID))
            #expect(stuck.state == .settling)
            let hash = try #require(stuck.settlementTransaction, "the hash is stored before the broadcast")
            #expect(stuck.settlementAttempts == 1)
            #expect(try await w.release.client.knowsTransaction(hash) == false)
            #expect(try await w.release.dp.job(d.jobID).state == .running)
            await first.store.close()

            // Another coordinator (a restart) reconciles: the node does not know the transaction, so it is sent again.
            let second = try await w.engine([node], owner: "second", rpc: proxy.url)
            let records = try await w.drive(second, until: [d.jobID], start: now + 60)
            #expect(records.first?.state == .completed)
            #expect(records.first?.settlementAttempts == 2)
            let settlements = try await w.events(d.jobID).filter { if case .jobCompleted = $0 { true } else if case .jobFailed = $0 { true } else { false } }
            #expect(settlements.count == 1)
        }
    }
}
