// Load benchmark for the key-release service (`Benchmarks/release-load`): N concurrent clients
// doing challenge + release over real HTTP on loopback for D seconds against the real service,
// store and dev chain. Evidence is TDX quotes minted by the test PKI (no TDX hardware here),
// verified by the same TDX path as real quotes; each client mints its quote for its own nonce.
// Reports throughput, latency percentiles and the ratio of release latency to the time the
// evidence verification alone takes, measured in the same run.
import AsyncHTTPClient
import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import Logging
import NIOCore
import NIOConcurrencyHelpers
import ProviderNode
import ReleaseProtocol
import TestSupport
import ZeroG

struct Options {
    var clients = 200
    var duration: Double = 60
    var store = "sqlite"
    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--clients": clients = Int(it.next() ?? "") ?? clients
            case "--duration": duration = Double(it.next() ?? "") ?? duration
            case "--store": store = it.next() ?? store
            default: FileHandle.standardError.write(Data("usage: release-load [--clients N] [--duration S] [--store sqlite|postgres]\n".utf8)); exit(3)
            }
        }
    }
}

final class Samples: Sendable {
    private let box = NIOLockedValueBox<(challenge: [Double], release: [Double], errors: [String])>(([], [], []))
    func add(challenge: Double, release: Double) {
        box.withLockedValue {
            $0.challenge.append(challenge); $0.release.append(release)
        }
    }
    func error(_ e: String) { box.withLockedValue { $0.errors.append(e) } }
    var snapshot: (challenge: [Double], release: [Double], errors: [String]) { box.withLockedValue { $0 } }
}

/// One simulated node: its HPKE key (kept as raw bytes: swift-crypto's key type is not
/// Sendable), signer key and dispatch ticket.
struct Node: Sendable {
    let keys: ReleaseClient.NodeKeys
    let ticket: DispatchTicketMessage
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

func micros(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
}

@main
struct ReleaseLoad {
    static func main() async throws {
        let options = Options()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label); h.logLevel = .warning; return h
        }

        // The world: dev chain, a registered dataset with its key escrowed, one Granted job.
        let chain = try DevChain()
        defer { chain.stop() }
        var pg: PostgresServer?
        let storeURL: String
        if options.store == "postgres" {
            pg = try PostgresServer()
            storeURL = pg!.url
        } else {
            storeURL = "sqlite:" + NSTemporaryDirectory() + "release-load-\(UUID().uuidString).sqlite"
        }
        defer { pg?.shutdown() }
        let client = EthClient(url: chain.info.rpcUrl)
        let contract = try Address(chain.info.dataPolicy)
        let dp = DataPolicy(address: contract, client: client)
        let ownerKey = try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(chain.info.owner.privateKey))
        let backendKey = try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(chain.info.backend.privateKey))
        let owner = TransactionSender(client: client, key: ownerKey)
        let requester = TransactionSender(client: client, key: try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(chain.info.requester.privateKey)))
        for s in [owner, requester] { await s.configure(pollInterval: .milliseconds(20), timeout: .seconds(60)) }

        let key = SymmetricKey(size: .bits256)
        let iv = [UInt8](repeating: 7, count: 12)
        let sealed = try LICENFile.seal(Array("load-test dataset".utf8), key: key, iv: iv)
        let root = try ZeroG.merkle(of: sealed).root.bytes
        func b32(_ s: String) -> [UInt8] { Keccak256.hash(Array(s.utf8)) }
        try await dp.registerDataset(
            .init(
                datasetRoot: root, manifestHash: b32("m"), royaltyPerEpoch: 1, maxEpochsPerRun: 10, maxRunsPerRequester: 10,
                accessTTLSeconds: 86400, policyExpiry: UInt64(Date().timeIntervalSince1970) + 86400, requireResultAttestation: true,
                openRequesters: true, allowedPurposeIDs: [b32("p")], allowedRequesters: []), from: owner)
        let jobID = try await dp.requestAccess(datasetRoot: root, purposeID: b32("p"), requestedEpochs: 1, termsHash: b32("m"), value: 1, from: requester).jobID

        let pki = try TDXTestPKI()
        let started = Date()
        let clock: @Sendable () -> Date = { TDXTestPKI.validInstant.addingTimeInterval(Date().timeIntervalSince(started)) }
        var settings = ReleaseService.Settings()
        settings.clock = clock
        settings.challengeRate = nil  // one loopback client drives the whole load
        let escrow = EscrowKey(privateKey: Secp256k1.PrivateKey())
        let store = try await ReleaseStores.open(storeURL)
        let verification = QuoteVerification(collateralSource: pki.collateralSource, verifier: TDX.QuoteVerifier(trustAnchor: pki.root))
        let policy = try LoadedPolicy(text: TDXTestPKI.policyYAML(name: "load"), source: "load.yaml")
        let service = try ReleaseService(
            store: store, registry: ChainJobRegistry(rpc: chain.info.rpcUrl, contract: contract), policies: [policy],
            verification: verification, escrowKey: escrow, settings: settings)
        try await store.putEscrow(
            EscrowEntry(
                datasetRoot: root, envelope: try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: escrow.publicKey).bytes,
                owner: ownerKey.publicKey.address.bytes, signature: [], storedAt: Date(), version: 1))
        let portStream = AsyncStream<Int>.makeStream()
        var listener = ReleaseHTTP.Listener()
        listener.port = 0
        let group = try ReleaseHTTP.build(service: service, listener: listener, signals: false) { portStream.continuation.yield($0) }
        let server = Task { try await group.run() }
        var port = 0
        for await p in portStream.stream { port = p; break }
        let base = "http://127.0.0.1:\(port)"

        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: options.clients + 8)))
        let chainID = chain.info.chainId
        let keyBytes = key.withUnsafeBytes { Array($0) }

        /// One challenge + release; returns (challenge µs, release µs) or throws with why.
        let releaseClient = ReleaseClient(baseURL: base, http: http)
        @Sendable func once(_ node: Node) async throws -> (Double, Double) {
            // The provider node's own client, step by step so the two round trips are timed apart.
            let t0 = ContinuousClock.now
            let nonce = try await releaseClient.challenge()
            let tChallenge = micros(since: t0)
            let binding = node.keys.binding(nonce: nonce, jobID: jobID)
            let quote = try pki.quote(reportData: binding.reportData)
            let body = try ReleaseClient.request(jobID: jobID, datasetRoot: root, nonce: nonce, keys: node.keys, evidence: EvidenceBundle(platform: .tdx, report: Data(quote)), ticket: node.ticket)
            let t1 = ContinuousClock.now
            let resp = try await releaseClient.release(body)
            let tRelease = micros(since: t1)
            let opened = try ReleaseClient.open(resp, jobID: jobID, datasetRoot: root, keys: node.keys)
            guard opened.key.withUnsafeBytes({ Array($0) }) == keyBytes, opened.iv == iv else { throw CLIError("released key differs") }
            return (tChallenge, tRelease)
        }
        func makeNode() throws -> Node {
            let keys = ReleaseClient.NodeKeys()
            let ticket = try DispatchTicketMessage(
                signing: DispatchTicket(
                    jobID: jobID, datasetRoot: root, node: keys.address,
                    expiry: UInt64(TDXTestPKI.validInstant.timeIntervalSince1970) + 86400),
                with: backendKey, chainID: chainID, dataPolicy: contract)
            return Node(keys: keys, ticket: ticket)
        }

        // Baseline, same run: the evidence verification alone (verify + policy), warm, in-process.
        let probeNode = try makeNode()
        let probeBinding = probeNode.keys.binding(nonce: Array(repeating: 1, count: 32), jobID: jobID)
        let probe = EvidenceBundle(platform: .tdx, report: Data(try pki.quote(reportData: probeBinding.reportData)))
        var v = service.verification
        var verifySamples = [Double]()
        for i in 0..<600 {
            v.now = clock()
            let t = ContinuousClock.now
            guard case .success(let e) = await v.verify(bundle: probe), policy.policy.validate(e.policyInput(evidenceTime: v.now), now: v.now).failures.isEmpty else {
                throw CLIError("baseline verification failed")
            }
            if i >= 100 { verifySamples.append(micros(since: t)) }
        }
        let verifyMedian = percentile(verifySamples, 0.5)

        // Unloaded: one client, sequential.
        let single = Samples()
        let n1 = try makeNode()
        for _ in 0..<200 {
            do { let (c, r) = try await once(n1); single.add(challenge: c, release: r) } catch { single.error("\(error)") }
        }

        // Loaded: N clients for D seconds.
        let loaded = Samples()
        let deadline = ContinuousClock.now + .milliseconds(Int(options.duration * 1000))
        let t0 = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<options.clients {
                let node = try makeNode()
                group.addTask {
                    while ContinuousClock.now < deadline {
                        do { let (c, r) = try await once(node); loaded.add(challenge: c, release: r) } catch { loaded.error("\(error)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = micros(since: t0) / 1e6
        try await http.shutdown()
        let summary = try await AuditChain.verify(store)
        server.cancel()  // the group closes the store once the server has stopped
        _ = await server.result

        let s1 = single.snapshot, sl = loaded.snapshot
        let result: [String: Any] = [
            "store": options.store, "clients": options.clients, "durationSeconds": elapsed,
            "verifyAloneMedianMicros": verifyMedian,
            "unloaded": [
                "releases": s1.release.count, "errors": s1.errors.count, "releaseP50Micros": percentile(s1.release, 0.5), "releaseP99Micros": percentile(s1.release, 0.99),
                "challengeP50Micros": percentile(s1.challenge, 0.5), "releaseOverVerify": percentile(s1.release, 0.5) / verifyMedian,
            ],
            "loaded": [
                "releases": sl.release.count, "errors": sl.errors.count, "throughputPerSecond": Double(sl.release.count) / elapsed,
                "releaseP50Micros": percentile(sl.release, 0.5), "releaseP99Micros": percentile(sl.release, 0.99),
                "challengeP50Micros": percentile(sl.challenge, 0.5), "challengeP99Micros": percentile(sl.challenge, 0.99),
                "releaseOverVerify": percentile(sl.release, 0.5) / verifyMedian, "firstErrors": Array(sl.errors.prefix(3)),
            ],
            "auditChain": ["records": summary.records, "released": summary.released, "intact": true],
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        if !sl.errors.isEmpty || !s1.errors.isEmpty { exit(1) }
    }
}
