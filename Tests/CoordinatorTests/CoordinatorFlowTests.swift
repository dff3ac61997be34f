import BigInt
import ByteEncoding
import Chain
import Coordinator
import EVMCrypto
import Foundation
import ReleaseProtocol
import TestSupport
import Testing

/// Jobs from Granted to a settled state through the coordinator, on the real dev chain with the
/// real key-release service: the happy path with royalties and refund as the contract computes
/// them, and each failure path ending Failed on chain with its own reason code.
@Suite("Coordinator: jobs end to end", .serialized, .timeLimit(.minutes(5)))
struct CoordinatorFlowTests {
    @Test(
        "Granted → Running → Completed: one settlement, royalty for the epochs trained and the rest refunded, the manifest's signer is the released one",
        arguments: StoreBackend.allCases)
    func happyPath(_ backend: StoreBackend) async throws {
        try await CoordinatorWorld.using(storeBackend: backend) { w in
            let d = try await w.release.dataset()
            var script = LoopbackTaskProvider.Script()
            script.actualEpochs = 1  // of 2 requested: royalty 1 × 1000, refund 1000
            let node = try w.node(script: script)
            let engine = try await w.engine([node])
            let records = try await w.drive(engine, until: [d.jobID])
            let record = try #require(records.first)
            #expect(record.state == .completed, "\(record)")
            #expect(try await w.release.dp.job(d.jobID).state == .completed)

            let events = try await w.events(d.jobID)
            let completions = events.compactMap { e -> (UInt32, [UInt8], [UInt8])? in
                if case .jobCompleted(_, let epochs, let result, let ref) = e { return (epochs, result, ref) }
                return nil
            }
            #expect(completions.count == 1)
            #expect(completions.first?.0 == 1)
            #expect(completions.first?.1 == LoopbackTaskProvider.resultHash(jobID: d.jobID))
            #expect(events.contains { if case .jobStarted = $0 { true } else { false } })
            #expect(!events.contains { if case .jobFailed = $0 { true } else { false } })
            #expect(events.contains { if case .royaltySettled(_, 1000) = $0 { true } else { false } })
            #expect(events.contains { if case .refundIssued(_, 1000) = $0 { true } else { false } })

            // The attestationRef on chain is the key-release service's audit record of the
            // release to this node's signer.
            let ref = try #require(completions.first?.2)
            let (status, audit) = try await w.release.get("/v1/audit/\(Hex.prefixed(ref))")
            #expect(status == 200)
            let body = audit["record"] as? [String: Any]
            #expect(body?["outcome"] as? String == "released")
            #expect(body?["signerPublicKey"] as? String == Hex.prefixed(try #require(w.keys[node.baseURL]).signerPublicKey))
            // The orchestrator's events as JSON log lines, each naming the job (and its task).
            let lines = w.logs.all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            for event in ["jobs_found", "dispatching", "task_dispatched", "model_acknowledged", "job_completed"] {
                #expect(lines.contains { $0["event"] as? String == event }, "no \(event) line")
            }
            let completedLine = lines.first { $0["event"] as? String == "job_completed" }
            #expect(completedLine?["jobId"] as? String == Hex.prefixed(d.jobID))
            #expect((completedLine?["taskId"] as? String).map { !$0.isEmpty && $0 != "-" } == true)
            // One task at the node for the job, acknowledged, finished.
            #expect(node.taskStates.values.sorted() == ["Finished"])
            #expect(node.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/task") }.count == 1)
        }
    }

    /// A scenario that must end Failed on chain with `reason`.
    struct FailurePath: Sendable, CustomTestStringConvertible {
        let name: String
        let reason: String
        var script = LoopbackTaskProvider.Script()
        var escrow = true
        var storesModel = true
        var crashAfterDispatch = false
        var dispatchRefused = false
        var testDescription: String { name }
    }

    static let failurePaths: [FailurePath] = {
        var paths: [FailurePath] = []
        var s = LoopbackTaskProvider.Script()
        s.failAt = "Training"
        s.failureReason = "trainer_exited"
        paths.append(FailurePath(name: "task Failed", reason: "task_failed:trainer_exited", script: s))
        paths.append(FailurePath(name: "the key-release service refuses (no escrowed key)", reason: "task_failed:escrow_missing", escrow: false))
        s = .init()
        s.manifestKey = Secp256k1.PrivateKey()
        paths.append(FailurePath(name: "manifest signed by another key", reason: "manifest_signer", script: s))
        s = .init()
        s.manifestJobID = [UInt8](repeating: 0x42, count: 32)
        paths.append(FailurePath(name: "manifest for another job", reason: "manifest_job", script: s))
        s = .init()
        s.actualEpochs = 3
        paths.append(FailurePath(name: "actualEpochs above requested", reason: "epochs_exceeded", script: s))
        paths.append(FailurePath(name: "result root absent", reason: "result_missing", storesModel: false))
        s = .init()
        s.vanished = true
        paths.append(FailurePath(name: "task vanished", reason: "task_lost", script: s))
        paths.append(FailurePath(name: "provider unreachable past its timeout", reason: "provider_unreachable", crashAfterDispatch: true))
        s = .init()
        s.refuseTasks = 400
        paths.append(FailurePath(name: "the provider refuses the task every time", reason: "dispatch_failed", script: s, dispatchRefused: true))
        return paths
    }()

    @Test("each failure path ends Failed on chain with its own reason code, settled once, on both stores", arguments: failurePaths, StoreBackend.allCases)
    func failurePath(_ path: FailurePath, _ backend: StoreBackend) async throws {
        CoordinatorWorld.trace("case \(path.name) on \(backend)")
        try await CoordinatorWorld.using(storeBackend: backend) { w in
            CoordinatorWorld.trace("world up")
            let d = try await w.release.dataset(escrow: path.escrow)
            CoordinatorWorld.trace("dataset")
            var script = path.script
            let vanish = script.vanished
            script.vanished = false
            let node = try w.node(script: script, storesModel: path.storesModel)
            let engine = try await w.engine([node]) { $0.taskTimeout = 30 }
            var now = Date()
            _ = try await engine.discoverOnce(now: now)
            CoordinatorWorld.trace("discovered")
            #expect(await engine.dispatchOnce(now: now) == (path.dispatchRefused ? 0 : 1))
            CoordinatorWorld.trace("dispatched")
            if vanish { node.update { $0.vanished = true } }
            if path.crashAfterDispatch { node.crash() }
            now += 1
            let records = try await w.drive(engine, until: [d.jobID], start: now)
            #expect(records.first?.state == .failed, "\(String(describing: records.first))")
            #expect(try await w.release.dp.job(d.jobID).state == .failed)
            let failures = try await w.events(d.jobID).compactMap { e -> String? in
                if case .jobFailed(_, let reason) = e { return reason }
                return nil
            }
            #expect(failures == [path.reason])
            #expect(!(try await w.events(d.jobID)).contains { if case .jobCompleted = $0 { true } else { false } })
        }
    }
}
