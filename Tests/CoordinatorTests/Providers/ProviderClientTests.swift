import AsyncHTTPClient
import ByteEncoding
import Coordinator
import EVMCrypto
import Foundation
import ReleaseProtocol
import TestSupport
import Testing

/// The provider task API client against a loopback node speaking the wire independently
/// (``LoopbackTaskProvider``): create (and idempotent re-create by jobId), poll through the 0G
/// states, acknowledge, read the signed manifest; 404 as nil; 5xx, a crash and a timeout as
/// providerUnavailable; unexpected answers as providerFailed, with messages that carry no body.
@Suite("Coordinator: provider task client", .serialized)
struct ProviderClientTests {
    static let chainID: UInt64 = 31337
    static let dataPolicy = try! Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
    static let pki = try! TDXTestPKI()
    static let user = Secp256k1.PrivateKey().publicKey.address

    static func request(job: [UInt8], epochs: UInt64 = 3, user: Address = user) -> TaskRequest {
        TaskRequest(
            userAddress: user.checksummed, preTrainedModelHash: Hex.prefixed([UInt8](repeating: 0xb4, count: 32)), datasetHash: Hex.prefixed([UInt8](repeating: 0xda, count: 32)),
            trainingParams: #"{"epochs":3}"#, fee: "0", nonce: "17000000000040", signature: Hex.prefixed([UInt8](repeating: 0, count: 65)), wait: true,
            jobId: Hex.prefixed(job), datasetRoot: Hex.prefixed([UInt8](repeating: 0xda, count: 32)),
            dispatchTicket: .init(signature: Hex.prefixed([UInt8](repeating: 1, count: 65)), expiry: 1_900_000_000, node: user.checksummed),
            keyReleaseURL: "http://127.0.0.1:1/", requestedEpochs: epochs)
    }

    static func job(_ tag: UInt8) -> [UInt8] { [UInt8](repeating: tag, count: 32) }

    @Test("create, idempotent create by jobId, poll to Delivered, acknowledge, Finished with a manifest signed by the node")
    func lifecycle() async throws {
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        defer { node.shutdown() }
        let client = ProviderClient(url: node.baseURL + "/")
        #expect(client.url == node.baseURL)
        let id = try await client.createTask(user: Self.user, request: Self.request(job: Self.job(1)))
        #expect(try await client.createTask(user: Self.user, request: Self.request(job: Self.job(1))) == id)
        let other = try await client.createTask(user: Self.user, request: Self.request(job: Self.job(2)))
        #expect(other != id)
        #expect(try await client.pendingCount() == 2)
        #expect(Set(try await client.tasks(user: Self.user).map(\.id)) == [id, other])

        var seen = [TaskStatus]()
        for _ in 0..<10 {
            let t = try #require(try await client.task(user: Self.user, id: id))
            seen.append(t.progress)
            if t.progress == .delivered { break }
        }
        #expect(seen == [.settingUp, .setUp, .training, .trained, .delivering, .delivered])
        // Waits for the acknowledgement.
        #expect(try await client.task(user: Self.user, id: id)?.progress == .delivered)
        try await client.acknowledge(user: Self.user, id: id)
        try await client.acknowledge(user: Self.user, id: id)  // again: still fine
        let finished = try #require(try await client.task(user: Self.user, id: id))
        #expect(finished.progress == .finished)
        #expect(finished.jobId == Hex.prefixed(Self.job(1)))
        let manifest = try #require(finished.manifest)
        #expect(try manifest.signer(chainID: Self.chainID, dataPolicy: Self.dataPolicy) == node.signerAddress)
        #expect(manifest.manifest.jobID == Self.job(1))
        #expect(manifest.manifest.actualEpochs == 3)
        #expect(manifest.manifest.resultHash == LoopbackTaskProvider.resultHash(jobID: Self.job(1)))
        #expect(finished.outputRootHash != nil && finished.attestationRef == Hex.prefixed(LoopbackTaskProvider.attestationRef(jobID: Self.job(1))))
        // The create carried the user in EIP-55 in the path, as 0G compares it.
        #expect(node.requests.contains { $0.method == "POST" && $0.path == "/v1/user/\(Self.user.checksummed)/task" })
    }

    /// Drives a task to Finished and returns its manifest.
    static func finishedManifest(_ node: LoopbackTaskProvider, job: [UInt8]) async throws -> ResultManifest.Signed {
        let client = ProviderClient(url: node.baseURL)
        let id = try await client.createTask(user: user, request: request(job: job, epochs: 3))
        for _ in 0..<6 { _ = try await client.task(user: user, id: id) }
        try await client.acknowledge(user: user, id: id)
        let t = try #require(try await client.task(user: user, id: id))
        #expect(t.progress == .finished)
        return try #require(t.manifest)
    }

    @Test("the scripted dishonest manifests reach the client as such: another signer, another job, more epochs than requested")
    func dishonestManifests() async throws {
        var script = LoopbackTaskProvider.Script()
        script.stepsPerPoll = 2
        let other = Secp256k1.PrivateKey()
        script.manifestKey = other
        script.manifestJobID = Self.job(0xee)
        script.actualEpochs = 4
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy, script: script)
        defer { node.shutdown() }
        let m = try await Self.finishedManifest(node, job: Self.job(7))
        #expect(try m.signer(chainID: Self.chainID, dataPolicy: Self.dataPolicy) == other.publicKey.address)
        #expect(m.manifest.jobID == Self.job(0xee))
        #expect(m.manifest.actualEpochs == 4)
    }

    @Test("a task that fails reports Failed with its reason; acknowledging before delivery is providerFailed")
    func failedTask() async throws {
        var script = LoopbackTaskProvider.Script()
        script.failAt = "Training"
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy, script: script)
        defer { node.shutdown() }
        let client = ProviderClient(url: node.baseURL)
        let id = try await client.createTask(user: Self.user, request: Self.request(job: Self.job(3)))
        let e = try await #require(throws: CoordinatorError.self) { try await client.acknowledge(user: Self.user, id: id) }
        #expect(e.code == .providerFailed && e.message.contains("HTTP 409"))
        var last: TaskRecord?
        for _ in 0..<5 { last = try await client.task(user: Self.user, id: id) }
        #expect(last?.progress == .failed)
        #expect(last?.failureReason == "trainer_exited")
    }

    @Test("an unknown or vanished task is nil (404), not an error")
    func notFound() async throws {
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        defer { node.shutdown() }
        let client = ProviderClient(url: node.baseURL)
        #expect(try await client.task(user: Self.user, id: "00000000-0000-0000-0000-000000000000") == nil)
        let id = try await client.createTask(user: Self.user, request: Self.request(job: Self.job(4)))
        #expect(try await client.task(user: Self.user, id: id) != nil)
        // Another user does not see it.
        #expect(try await client.task(user: Secp256k1.PrivateKey().publicKey.address, id: id) == nil)
        node.update { $0.vanished = true }
        #expect(try await client.task(user: Self.user, id: id) == nil)
    }

    @Test("5xx, a crashed node and a timeout are providerUnavailable; the message names node, route and status, not the body")
    func unavailable() async throws {
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        let client = ProviderClient(url: node.baseURL, timeout: .seconds(2))
        node.update { $0.failingStatus = 503 }
        let e = try await #require(throws: CoordinatorError.self) { try await client.pendingCount() }
        #expect(e.code == .providerUnavailable)
        #expect(e.message.contains(node.baseURL) && e.message.contains("/v1/task/pending") && e.message.contains("HTTP 503"))
        #expect(!e.message.contains("internal error"))
        let e2 = try await #require(throws: CoordinatorError.self) { try await client.createTask(user: Self.user, request: Self.request(job: Self.job(5))) }
        #expect(e2.code == .providerUnavailable)
        node.crash()
        let e3 = try await #require(throws: CoordinatorError.self) { try await client.task(user: Self.user, id: "abc") }
        #expect(e3.code == .providerUnavailable)

        let slow = try LoopbackHTTPServer { _ in
            Thread.sleep(forTimeInterval: 1.5)
            return .init(status: 200, body: Array("1".utf8))
        }
        defer { slow.shutdown() }
        let started = Date()
        let e4 = try await #require(throws: CoordinatorError.self) { try await ProviderClient(url: slow.baseURL, timeout: .milliseconds(300)).pendingCount() }
        #expect(e4.code == .providerUnavailable && e4.message.contains("timed out"))
        #expect(Date().timeIntervalSince(started) < 1.4)
    }

    @Test("unexpected answers are providerFailed: a refused create, a malformed record, an unsafe id, a secret in the URL is not echoed")
    func failed() async throws {
        let node = try LoopbackTaskProvider(pki: Self.pki, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        defer { node.shutdown() }
        let client = ProviderClient(url: node.baseURL)
        // The body names another user than the path: the node refuses (400).
        let e = try await #require(throws: CoordinatorError.self) {
            try await client.createTask(user: Self.user, request: Self.request(job: Self.job(6), user: Secp256k1.PrivateKey().publicKey.address))
        }
        #expect(e.code == .providerFailed && e.message.contains("HTTP 400"))
        let e2 = try await #require(throws: CoordinatorError.self) { try await client.task(user: Self.user, id: "../../v1/quote") }
        #expect(e2.code == .providerFailed)

        let bad = try LoopbackHTTPServer { _ in .init(status: 200, body: Array(#"{"id":"x","progress":"Sleeping","secret":"hunter2"}"#.utf8)) }
        defer { bad.shutdown() }
        let withSecret = bad.baseURL.replacingOccurrences(of: "http://", with: "http://operator:hunter2@")
        let e3 = try await #require(throws: CoordinatorError.self) { try await ProviderClient(url: withSecret).task(user: Self.user, id: "x") }
        #expect(e3.code == .providerFailed && e3.message.contains("malformed"))
        #expect(!e3.message.contains("hunter2") && !e3.message.contains("Sleeping"))
    }
}
