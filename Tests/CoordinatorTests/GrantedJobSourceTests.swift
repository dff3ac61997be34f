import BigInt
import ByteEncoding
import Chain
import Coordinator
import Foundation
import TestSupport
import Testing

/// Job discovery against the dev chain: chain logs, and a loopback server speaking Hasura's
/// reply shape for Envio HyperIndex (paged by id, `_meta` sync status). The indexer is only a
/// hint: a job it lists that the chain says is Failed, or that it lists with another dataset,
/// is dropped by the chain confirmation; a lagging indexer just lists less.
@Suite("Coordinator: granted job discovery", .serialized)
struct GrantedJobSourceTests {
    /// A Hasura-shaped HyperIndex over `listed` (id, datasetRoot, epochs), honouring the query's
    /// `after` / `n` variables and answering `_meta { isReady progressBlock }`.
    static func hasura(_ listed: [(id: [UInt8], root: [UInt8], epochs: UInt32)], isReady: Bool, requests: LockedCounter) throws -> LoopbackHTTPServer {
        let rows = listed.map { (id: Hex.prefixed($0.id), root: Hex.prefixed($0.root), epochs: $0.epochs) }.sorted { $0.id < $1.id }
        return try LoopbackHTTPServer { request in
            requests.increment()
            guard request.method == "POST", let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
                let query = body["query"] as? String, query.contains(#"state: {_eq: "Granted"}"#),
                let vars = body["variables"] as? [String: Any], let after = vars["after"] as? String, let n = vars["n"] as? Int
            else { return .init(status: 400) }
            let page = rows.filter { $0.id > after }.prefix(n).map { r -> [String: Any] in
                ["id": r.id, "datasetRoot": r.root, "requestedEpochs": String(r.epochs)]  // BigInt columns come back as strings
            }
            let reply: [String: Any] = ["data": ["Job": page, "_meta": [["isReady": isReady, "progressBlock": 7]]]]
            return .init(headers: [("Content-Type", "application/json")], body: Array(try! JSONSerialization.data(withJSONObject: reply)))
        }
    }

    @Test("logs and a paged HyperIndex list the Granted jobs; only what the chain confirms is reported")
    func discovery() async throws {
        let w = try await DevChainWorld.start()
        defer { w.chain.stop() }
        let root = DevChainWorld.bytes32("indexed")
        try await w.register(root: root)
        func request(_ epochs: UInt32) async throws -> [UInt8] {
            try await w.dp.requestAccess(
                datasetRoot: root, purposeID: DevChainWorld.bytes32("fine-tune"), requestedEpochs: epochs, termsHash: DevChainWorld.bytes32("manifest"),
                value: BigUInt(1_000_000_000_000_000) * BigUInt(epochs), from: w.requester
            ).jobID
        }
        let granted1 = try await request(2), granted2 = try await request(1), running = try await request(1), failed = try await request(1)
        try await w.dp.startJob(running, from: w.backend)
        _ = try await w.dp.markJobFailed(failed, reasonCode: "test", from: w.backend)

        // The chain's logs, re-read from block 0.
        let fromLogs = try await ChainLogJobSource(dataPolicy: w.dp).grantedJobs()
        #expect(Set(fromLogs.map(\.jobID)) == [granted1, granted2])

        // A stale indexer: it still calls the failed job Granted, and names a wrong dataset for one.
        let requests = LockedCounter()
        let stale = try Self.hasura(
            [(granted1, root, 2), (granted2, DevChainWorld.bytes32("other"), 1), (failed, root, 1)], isReady: false, requests: requests)
        defer { stale.shutdown() }
        let source = HyperIndexJobSource(url: stale.baseURL + "/v1/graphql", pageSize: 1)
        let listing = try await source.listing()
        #expect(Set(listing.jobs.map(\.jobID)) == [granted1, granted2, failed])
        #expect(listing.pages == 4 && requests.value == 4)  // three full pages of one, then an empty one
        #expect(!listing.isReady && listing.progressBlock == 7)
        let confirmed = try await ChainConfirmedJobSource(source, dataPolicy: w.dp).confirm()
        #expect(confirmed.granted == [GrantedJob(jobID: granted1, datasetRoot: root, requestedEpochs: 2)])
        #expect(Set(confirmed.dropped.map(\.job.jobID)) == [granted2, failed])
        #expect(confirmed.dropped.first { $0.job.jobID == failed }?.reason == "the chain says Failed")

        // A lagging indexer lists less; nothing it omits is invented, and pages of 500 take one request.
        let lagging = try Self.hasura([(granted2, root, 1)], isReady: true, requests: LockedCounter())
        defer { lagging.shutdown() }
        let fromLagging = try await ChainConfirmedJobSource(HyperIndexJobSource(url: lagging.baseURL), dataPolicy: w.dp).grantedJobs()
        #expect(fromLagging == [GrantedJob(jobID: granted2, datasetRoot: root, requestedEpochs: 1)])

        // Errors in the reply and dead endpoints are typed.
        let broken = try LoopbackHTTPServer { _ in .init(body: Array(#"{"errors":[{"message":"field 'Job' not found"}]}"#.utf8)) }
        defer { broken.shutdown() }
        do { _ = try await HyperIndexJobSource(url: broken.baseURL).grantedJobs(); Issue.record("no error") } catch { #expect(error.code == .discoveryFailed) }
        do { _ = try await HyperIndexJobSource(url: "http://127.0.0.1:1").grantedJobs(); Issue.record("no error") } catch { #expect(error.code == .discoveryUnavailable) }
    }
}

/// A counter shared with a server handler.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }

    @Test("chain logs: only blocks `confirmations` deep are read, and the persisted position survives a restart (recording is what moves it)")
    func logCursorAndDepth() async throws {
        let w = try await DevChainWorld.start()
        defer { w.chain.stop() }
        let root = DevChainWorld.bytes32("cursor")
        try await w.register(root: root)
        func request() async throws -> [UInt8] {
            try await w.dp.requestAccess(
                datasetRoot: root, purposeID: DevChainWorld.bytes32("fine-tune"), requestedEpochs: 1, termsHash: DevChainWorld.bytes32("manifest"),
                value: BigUInt(1_000_000_000_000_000), from: w.requester
            ).jobID
        }
        /// Mines a block (a plain transfer).
        func mine() async throws { try await w.owner.send(to: w.ownerAddress, data: [], value: 1) }
        let url = "sqlite:" + NSTemporaryDirectory() + "cursor-\(UUID().uuidString).db"
        let store = try await JobStore.open(url)
        let first = try await request()

        // Two confirmations: the job's block is not deep enough yet.
        let source = ChainLogJobSource(dataPolicy: w.dp, confirmations: 2, store: store)
        #expect(try await source.grantedJobs().isEmpty)
        try await mine()
        try await mine()
        #expect(try await source.grantedJobs().map(\.jobID) == [first])
        // Not recorded yet: the position has not moved, a restarted reader sees the job again.
        #expect(try await store.cursor(source.cursorName) == nil)
        #expect(try await ChainLogJobSource(dataPolicy: w.dp, confirmations: 2, store: store).grantedJobs().map(\.jobID) == [first])
        try await source.recorded()
        let position = try #require(try await store.cursor(source.cursorName))
        #expect(position >= 1)

        // After a restart (a new reader on the same store) the first job is behind the cursor.
        let second = try await request()
        try await mine()
        try await mine()
        let restarted = ChainLogJobSource(dataPolicy: w.dp, confirmations: 2, store: store)
        #expect(try await restarted.grantedJobs().map(\.jobID) == [second])
        try await restarted.recorded()
        #expect(try await store.cursor(restarted.cursorName)! > position)
        await store.close()
    }
}
