import Coordinator
import EVMCrypto
import Foundation
import TestSupport
import Testing

/// The coordinator's job store on both backends: SQLite in a temporary file and PostgreSQL on a
/// real server started for the suite (a fresh database per test).
@Suite("JobStore", .timeLimit(.minutes(3)))
struct JobStoreTests {
    enum Backend: String, CaseIterable, Sendable { case sqlite, postgres }

    static let server = Result<PostgresServer, any Error> { try PostgresServer(database: "jobstore") }
    static let t0 = Date(timeIntervalSince1970: 1_760_000_000)

    /// A fresh store URL for `backend`.
    static func url(_ backend: Backend) throws -> String {
        switch backend {
        case .sqlite: "sqlite:" + FileManager.default.temporaryDirectory.appendingPathComponent("jobstore-\(UUID().uuidString).db").path
        case .postgres: try server.get().url(database: try server.get().createDatabase(prefix: "js"))
        }
    }

    static func job(_ n: UInt8) -> GrantedJob {
        GrantedJob(jobID: [UInt8](repeating: n, count: 32), datasetRoot: [UInt8](repeating: 0xD0, count: 32), requestedEpochs: 3)
    }

    @Test("migrations are idempotent; a job is recorded once however often it is discovered", arguments: Backend.allCases)
    func recordOnce(_ backend: Backend) async throws {
        let url = try Self.url(backend)
        let store = try await JobStore.open(url)
        defer { Task { await store.close() } }
        #expect(try await store.migrate() == 1)
        let other = try await JobStore.open(url)
        #expect(try await other.migrate() == 1)
        await other.close()
        #expect(try await store.recordDiscovered(Self.job(1), now: Self.t0))
        #expect(try await store.recordDiscovered(Self.job(1), now: Self.t0 + 5) == false)
        let jobs = try await store.jobs()
        #expect(jobs.count == 1)
        #expect(jobs.first?.state == .discovered)
        #expect(jobs.first?.requestedEpochs == 3)
        #expect(jobs.first?.createdAt == Self.t0)
    }

    @Test("two coordinators leasing at once never get the same job, and together get every due job", arguments: Backend.allCases)
    func concurrentLeases(_ backend: Backend) async throws {
        let url = try Self.url(backend)
        let a = try await JobStore.open(url)
        let b = try await JobStore.open(url)
        for n in 1...40 { try await a.recordDiscovered(Self.job(UInt8(n)), now: Self.t0) }
        var seenA: [[UInt8]] = []
        var seenB: [[UInt8]] = []
        for _ in 0..<7 {
            async let la = a.lease(owner: "A", now: Self.t0 + 1, duration: 60, states: [.discovered], limit: 3)
            async let lb = b.lease(owner: "B", now: Self.t0 + 1, duration: 60, states: [.discovered], limit: 3)
            let (ga, gb) = (try await la, try await lb)
            seenA += ga.map(\.jobID)
            seenB += gb.map(\.jobID)
            // As the engine does after acting: the job is not due again for a while.
            for j in ga { #expect(try await a.update(j.jobID, owner: "A", now: Self.t0 + 1, JobChange(nextAt: Self.t0 + 600)) != nil) }
            for j in gb { #expect(try await b.update(j.jobID, owner: "B", now: Self.t0 + 1, JobChange(nextAt: Self.t0 + 600)) != nil) }
        }
        #expect(Set(seenA).isDisjoint(with: Set(seenB)))
        #expect(Set(seenA).count == seenA.count)
        #expect(Set(seenB).count == seenB.count)
        #expect(seenA.count + seenB.count == 40)
        #expect(seenA.count >= 3 && seenB.count >= 3)
        await a.close()
        await b.close()
    }

    @Test("a change is written only under a live lease; an expired lease is taken over and the old holder is shut out", arguments: Backend.allCases)
    func leaseGuardsWrites(_ backend: Backend) async throws {
        let store = try await JobStore.open(try Self.url(backend))
        defer { Task { await store.close() } }
        try await store.recordDiscovered(Self.job(7), now: Self.t0)
        let id = Self.job(7).jobID
        #expect(try await store.lease(owner: "A", now: Self.t0, duration: 30, states: [.discovered], limit: 10).map(\.jobID) == [id])
        // Held by A: B gets nothing, and B's writes change nothing.
        #expect(try await store.lease(owner: "B", now: Self.t0 + 10, duration: 30, states: [.discovered], limit: 10).isEmpty)
        #expect(try await store.update(id, owner: "B", now: Self.t0 + 10, JobChange(state: .dispatching)) == nil)
        let updated = try await store.update(id, owner: "A", now: Self.t0 + 10, JobChange(state: .dispatching, providerURL: "http://127.0.0.1:1", countDispatchAttempt: true))
        #expect(updated?.state == .dispatching)
        #expect(updated?.dispatchAttempts == 1)
        // A stalls past its lease: B takes the job over; A can no longer write.
        let taken = try await store.lease(owner: "B", now: Self.t0 + 31, duration: 30, states: [.dispatching], limit: 10)
        #expect(taken.map(\.jobID) == [id])
        #expect(try await store.update(id, owner: "A", now: Self.t0 + 32, JobChange(state: .dispatched)) == nil)
        #expect(try await store.job(id)?.state == .dispatching)
        // Not due yet: nobody leases it.
        let later = try await store.update(id, owner: "B", now: Self.t0 + 32, JobChange(nextAt: Self.t0 + 100))
        #expect(later?.nextAt == Self.t0 + 100)
        try await store.release(id, owner: "B")
        #expect(try await store.lease(owner: "C", now: Self.t0 + 99, duration: 30, states: [.dispatching], limit: 10).isEmpty)
        #expect(try await store.lease(owner: "C", now: Self.t0 + 100, duration: 30, states: [.dispatching], limit: 10).count == 1)
    }

    @Test("a settlement intent and its transaction hash survive a reopen; the operator's override clears the lease", arguments: Backend.allCases)
    func settlementRoundTrip(_ backend: Backend) async throws {
        let url = try Self.url(backend)
        let store = try await JobStore.open(url)
        let id = Self.job(9).jobID
        try await store.recordDiscovered(Self.job(9), now: Self.t0)
        _ = try await store.lease(owner: "A", now: Self.t0, duration: 30, states: [.discovered], limit: 1)
        let intent = JobRecord.Settlement.confirm(actualEpochs: 2, resultHash: [UInt8](repeating: 0xAB, count: 32), attestationRef: [UInt8](repeating: 0xCD, count: 32))
        let signer = try Address("0x00000000000000000000000000000000000000a1")
        try await store.update(id, owner: "A", now: Self.t0 + 1, JobChange(state: .settling, nodeSigner: signer, taskID: "task-1", taskStatus: .finished, settlement: intent))
        try await store.update(id, owner: "A", now: Self.t0 + 2, JobChange(settlementTransaction: [UInt8](repeating: 0xEE, count: 32)))
        await store.close()

        let reopened = try await JobStore.open(url)
        let record = try #require(try await reopened.job(id))
        #expect(record.state == .settling)
        #expect(record.settlement == intent)
        #expect(record.settlementTransaction == [UInt8](repeating: 0xEE, count: 32))
        #expect(record.settlementAttempts == 1)
        #expect(record.nodeSigner == signer)
        #expect(record.taskID == "task-1")
        #expect(record.taskStatus == .finished)
        // The operator fails the job while A still holds it: the lease is gone.
        let overridden = try await reopened.override(id, state: .settling, settlement: .fail(reason: "operator"), reason: "operator", now: Self.t0 + 3)
        #expect(overridden?.settlement == .fail(reason: "operator"))
        #expect(overridden?.settlementTransaction == nil)
        #expect(try await reopened.update(id, owner: "A", now: Self.t0 + 4, JobChange(state: .completed)) == nil)
        #expect(try await reopened.override([UInt8](repeating: 0x55, count: 32), state: .failed, settlement: nil, reason: nil, now: Self.t0) == nil)
        #expect(try await reopened.counts() == [.settling: 1])
        await reopened.close()
    }

    @Test("the log cursor only moves forward", arguments: Backend.allCases)
    func cursorForward(_ backend: Backend) async throws {
        let store = try await JobStore.open(try Self.url(backend))
        #expect(try await store.cursor("logs") == nil)
        try await store.advanceCursor("logs", to: 100, now: Self.t0)
        try await store.advanceCursor("logs", to: 90, now: Self.t0)
        #expect(try await store.cursor("logs") == 100)
        try await store.advanceCursor("logs", to: 120, now: Self.t0)
        #expect(try await store.cursor("logs") == 120)
        await store.close()
    }

    @Test("a malformed store URL is a configuration error that does not repeat the URL")
    func badURL() async throws {
        for url in ["mysql://u:secret@h/db", "sqlite:", "sqlite://x", "postgres://u:secret@/db"] {
            let error = await #expect(throws: CoordinatorError.self, "\(url)") { _ = try await JobStore.open(url) }
            #expect(error?.code == .configInvalid)
            #expect(error?.message.contains("secret") == false)
        }
    }
}
