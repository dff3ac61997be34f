import BigInt
import ByteEncoding
import Chain
import EVMCrypto
import Foundation
import TestSupport
import Testing

/// The Swift chain client against the real dev chain (py-evm executing the Vyper DataPolicy):
/// every write is signed here, mined there, and its events decoded here.
@Suite("DataPolicy on the dev chain", .serialized)
struct DevChainTests {
    typealias World = DevChainWorld

    static func world() async throws -> World { try await DevChainWorld.start() }

    static func bytes32(_ s: String) -> [UInt8] { DevChainWorld.bytes32(s) }

    static func register(_ w: World, root: [UInt8], royalty: BigUInt = 1_000_000_000_000_000, attestation: Bool = true) async throws {
        try await w.register(root: root, royalty: royalty, attestation: attestation)
    }

    @Test func lifecycleEventsAndSettlement() async throws {
        let w = try await Self.world()
        defer { w.chain.stop() }
        #expect(try await w.client.chainID() == w.chain.info.chainId)
        #expect(try await w.dp.backendWallet() == w.backend.address)
        let root = Self.bytes32("dataset-1"), royalty: BigUInt = 1_000_000_000_000_000
        try await Self.register(w, root: root, royalty: royalty)
        let policy = try await w.dp.policy(root)
        #expect(policy.owner == w.ownerAddress && policy.active && policy.royaltyPerEpoch == royalty)
        #expect(try await w.dp.isPurposeAllowed(root, Self.bytes32("fine-tune")))

        // Request 4 epochs: escrow 4 × royalty; the job is Granted to the backend wallet.
        let (req, jobID) = try await w.dp.requestAccess(
            datasetRoot: root, purposeID: Self.bytes32("fine-tune"), requestedEpochs: 4, termsHash: Self.bytes32("manifest"),
            value: royalty * 4, from: w.requester)
        let events = req.logs.compactMap { try? w.dp.decode($0) }
        #expect(events == [.accessRequested(jobID: jobID, datasetRoot: root, requester: w.requesterAddress, requestedEpochs: 4), .accessGranted(jobID: jobID)])
        var job = try await w.dp.job(jobID)
        #expect(job.state == .granted && job.provider == w.backend.address && job.escrowAmount == royalty * 4 && job.requester == w.requesterAddress)

        // Only the backend wallet may start it: the revert string comes back typed.
        do { try await w.dp.startJob(jobID, from: w.requester); Issue.record("a requester started a job") } catch {
            #expect(error.code == .reverted && error.message.contains("Not backend wallet"), "\(error)")
        }
        let started = try await w.dp.startJob(jobID, from: w.backend)
        #expect(started.logs.compactMap { try? w.dp.decode($0) } == [.jobStarted(jobID: jobID)])
        #expect(try await w.dp.job(jobID).state == .running)

        // Settle 3 of 4 epochs: the owner gets 3 × royalty, the requester 1 × royalty back.
        let ownerBefore = try await w.client.balance(of: w.ownerAddress), requesterBefore = try await w.client.balance(of: w.requesterAddress)
        do {
            try await w.dp.confirmTrainingComplete(jobID, actualEpochs: 5, resultHash: Self.bytes32("model"), attestationRef: Self.bytes32("audit"), from: w.backend)
            Issue.record("more epochs than requested were accepted")
        } catch { #expect(error.message.contains("Actual epochs exceed requested"), "\(error)") }
        do {
            try await w.dp.confirmTrainingComplete(jobID, actualEpochs: 3, resultHash: Self.bytes32("model"), attestationRef: [UInt8](repeating: 0, count: 32), from: w.backend)
            Issue.record("a zero attestationRef was accepted")
        } catch { #expect(error.message.contains("Attestation required"), "\(error)") }
        let done = try await w.dp.confirmTrainingComplete(jobID, actualEpochs: 3, resultHash: Self.bytes32("model"), attestationRef: Self.bytes32("audit"), from: w.backend)
        let doneEvents = done.logs.compactMap { try? w.dp.decode($0) }
        #expect(doneEvents.contains(.jobCompleted(jobID: jobID, actualEpochs: 3, resultHash: Self.bytes32("model"), attestationRef: Self.bytes32("audit"))))
        #expect(doneEvents.contains(.royaltySettled(jobID: jobID, amount: royalty * 3)))
        #expect(try await w.client.balance(of: w.ownerAddress) == ownerBefore + royalty * 3)
        #expect(try await w.client.balance(of: w.requesterAddress) == requesterBefore + royalty)
        job = try await w.dp.job(jobID)
        #expect(job.state == .completed)

        // A second job fails, then is refunded in full.
        let (_, job2) = try await w.dp.requestAccess(
            datasetRoot: root, purposeID: Self.bytes32("fine-tune"), requestedEpochs: 2, termsHash: Self.bytes32("manifest"),
            value: royalty * 2, from: w.requester)
        let failed = try await w.dp.markJobFailed(job2, reasonCode: "ATTESTATION_REJECTED", from: w.backend)
        #expect(failed.logs.compactMap { try? w.dp.decode($0) } == [.jobFailed(jobID: job2, reasonCode: "ATTESTATION_REJECTED")])
        let before = try await w.client.balance(of: w.requesterAddress)
        let refund = try await w.dp.refund(job2, from: w.requester)
        #expect(refund.logs.compactMap { try? w.dp.decode($0) }.contains(.refundIssued(jobID: job2, amount: royalty * 2)))
        #expect(try await w.client.balance(of: w.requesterAddress) == before + royalty * 2 - refund.fee)
        #expect(try await w.dp.job(job2).state == .refunded)
        do { try await w.dp.startJob(job2, from: w.backend); Issue.record("a refunded job started") } catch {
            #expect(error.message.contains("Invalid state transition"), "\(error)")
        }

        // The indexer-free event source sees the whole history.
        let all = try await w.dp.events(fromBlock: 0)
        #expect(all.contains(.datasetRegistered(datasetRoot: root, owner: w.ownerAddress, manifestHash: Self.bytes32("manifest"))))
        #expect(all.filter { if case .accessGranted = $0 { true } else { false } }.count == 2)

        // The CLI reads the same job.
        let cli = try CLIRunner.run("keyrelease", ["chain", "job", Hex.prefixed(jobID), "--rpc", w.chain.info.rpcUrl, "--contract", w.chain.info.dataPolicy, "--json"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(try cli.json()["state"] as? String == "Completed")
        let none = try CLIRunner.run("keyrelease", ["chain", "job", Hex.prefixed(Self.bytes32("nope")), "--rpc", w.chain.info.rpcUrl, "--contract", w.chain.info.dataPolicy, "--json"])
        #expect(try none.json()["state"] as? String == "None")
    }

    @Test func twentyConcurrentSendsFromOneKey() async throws {
        let w = try await Self.world()
        defer { w.chain.stop() }
        let before = try await w.client.transactionCount(of: w.ownerAddress, block: "latest")
        let receipts = try await withThrowingTaskGroup(of: Receipt.self) { group in
            for i in 0..<20 {
                group.addTask {
                    try await w.dp.registerDataset(
                        .init(
                            datasetRoot: Self.bytes32("concurrent-\(i)"), manifestHash: Self.bytes32("m"), royaltyPerEpoch: 1, maxEpochsPerRun: 1,
                            maxRunsPerRequester: 1, accessTTLSeconds: 60, policyExpiry: UInt64(Date().timeIntervalSince1970) + 86400,
                            requireResultAttestation: false, openRequesters: true, allowedPurposeIDs: [], allowedRequesters: []), from: w.owner)
                }
            }
            var out = [Receipt]()
            for try await r in group { out.append(r) }
            return out
        }
        #expect(receipts.count == 20 && receipts.allSatisfy(\.succeeded))
        #expect(Set(receipts.map(\.transactionHash)).count == 20)
        // Exactly 20 nonces used: no gap, no reuse.
        #expect(try await w.client.transactionCount(of: w.ownerAddress, block: "latest") == before + 20)
        for i in 0..<20 { #expect(try await w.dp.policy(Self.bytes32("concurrent-\(i)")).owner == w.ownerAddress) }
        // A duplicate registration reverts with the contract's string and consumes no nonce.
        do { try await Self.register(w, root: Self.bytes32("concurrent-0")); Issue.record("duplicate registration accepted") } catch {
            #expect((error as? ChainError)?.message.contains("Dataset already registered") == true, "\(error)")
        }
        #expect(try await w.client.transactionCount(of: w.ownerAddress, block: "pending") == before + 20)
    }

    @Test func unreachableRPCIsTyped() async throws {
        let client = EthClient(rpc: JSONRPCClient(url: "http://127.0.0.1:1", timeout: .seconds(2), retries: 1, backoff: .milliseconds(10)))
        do { _ = try await client.chainID(); Issue.record("no error") } catch { #expect(error.code == .rpcUnavailable) }
    }
}

/// The sender's recovery paths through a faulty proxy in front of the dev chain.
@Suite("Transaction sender recovery", .serialized)
struct TransactionSenderRecoveryTests {
    @Test func stuckTransactionIsReplacedUnderTheSameNonceWithHigherFees() async throws {
        let chain = try DevChain()
        defer { chain.stop() }
        let proxy = try LoopbackRPCProxy(upstream: chain.info.rpcUrl)
        defer { proxy.stop() }
        let client = EthClient(url: proxy.url)
        let sender = TransactionSender(client: client, key: try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(chain.info.owner.privateKey)))
        await sender.configure(pollInterval: .milliseconds(50), stuckAfter: .seconds(1), timeout: .seconds(30))
        let to = try Address(chain.info.extra[0].address)
        let before = try await client.balance(of: to)
        proxy.swallowSends(1)
        let receipt = try await sender.send(to: to, data: [], value: 12345)
        #expect(receipt.succeeded)
        #expect(try await client.balance(of: to) == before + 12345)
        // Two raw transactions went out: the swallowed one and its replacement, same nonce, higher fees.
        let raws = try proxy.rawSends.map { try Hex.decode($0) }
        #expect(raws.count == 2)
        let fields = try raws.map { raw -> [RLP] in try #require(try RLP(decoding: Array(raw.dropFirst())).listValue) }  // type-2: 0x02 ‖ RLP
        #expect(fields[0][1] == fields[1][1], "same nonce")
        let maxFee = fields.map { BigUInt(Data($0[3].bytesValue ?? [])) }
        #expect(maxFee[1] > maxFee[0])
        #expect(receipt.transactionHash == Keccak256.hash(raws[1]))
    }

    @Test func transportFailuresAreRetriedErrorObjectsAreNot() async throws {
        let chain = try DevChain()
        defer { chain.stop() }
        let proxy = try LoopbackRPCProxy(upstream: chain.info.rpcUrl)
        defer { proxy.stop() }
        proxy.unavailable(2)
        let client = EthClient(rpc: JSONRPCClient(url: proxy.url, retries: 3, backoff: .milliseconds(10)))
        #expect(try await client.chainID() == chain.info.chainId)
        proxy.unavailable(5)
        do { _ = try await EthClient(rpc: JSONRPCClient(url: proxy.url, retries: 2, backoff: .milliseconds(10))).chainID(); Issue.record("no error") } catch {
            #expect(error.code == .rpcUnavailable)
        }
        proxy.unavailable(0)
        do { _ = try await client.rpc.call("eth_noSuchMethod", []); Issue.record("no error") } catch { #expect(error.code == .rpcError) }
    }
}
