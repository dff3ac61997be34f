import AsyncHTTPClient
import Attestation
import AttestationCollateral
import BigInt
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import ServiceSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProviderNode
import ReleaseProtocol
import ZeroG

/// Log lines captured from the service (JSON, one per line), to grep for key material.
public final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    /// An empty capture.
    public init() {}
    public var all: [String] { lines.withLockedValue { $0 } }
    public var sink: JSONLogHandler.Sink { { [lines] line in lines.withLockedValue { $0.append(line) } } }
}

/// A movable clock for the service (nonce expiry, evidence age, ticket expiry).
public final class TestClock: Sendable {
    private let offset = NIOLockedValueBox<TimeInterval>(0)
    private let base: Date?
    public init(base: Date? = nil) { self.base = base }
    public func advance(_ s: TimeInterval) { offset.withLockedValue { $0 += s } }
    public var now: Date { (base ?? Date()).addingTimeInterval(offset.withLockedValue { $0 }) }
}

/// Overrides the on-chain state of chosen jobs. Only for the state the real contract never stores
/// (Requested: the dev chain's requestAccess grants at once); every other read goes to the chain.
public struct StateOverrideRegistry: JobRegistry {
    public let base: ChainJobRegistry
    public let overrides: [[UInt8]: DataPolicy.JobState]
    /// `base`, with `overrides` for the jobs named.
    public init(base: ChainJobRegistry, overrides: [[UInt8]: DataPolicy.JobState]) {
        self.base = base
        self.overrides = overrides
    }
    public var contract: Address { base.contract }
    public func chainID() async throws(KeyReleaseError) -> UInt64 { try await base.chainID() }
    public func owner(ofDataset root: [UInt8]) async throws(KeyReleaseError) -> Address? { try await base.owner(ofDataset: root) }
    public func ping() async throws(KeyReleaseError) { try await base.ping() }
    public func job(_ jobID: [UInt8]) async throws(KeyReleaseError) -> DataPolicy.Job? {
        guard let j = try await base.job(jobID) else { return nil }
        guard let s = overrides[jobID] else { return j }
        return DataPolicy.Job(
            datasetRoot: j.datasetRoot, requester: j.requester, provider: j.provider, purposeID: j.purposeID, requestedEpochs: j.requestedEpochs,
            escrowAmount: j.escrowAmount, requestTime: j.requestTime, state: s, termsHash: j.termsHash)
    }
}

/// A dataset registered on chain, its key escrowed with the service, and a Granted job for it.
public struct Dataset {
    public let plaintext: [UInt8]
    public let key: SymmetricKey
    public let iv: [UInt8]
    public let sealed: [UInt8]
    public let root: [UInt8]
    public let jobID: [UInt8]
}

/// The node side inside the "TEE": its ephemeral HPKE key and manifest signer key.
public typealias NodeKeys = ReleaseClient.NodeKeys

/// Everything a key-release test needs, all real: the dev chain (py-evm, Vyper DataPolicy), a
/// swtpm producing evidence through tss2, a store (SQLite file or the Debian PostgreSQL server),
/// and the service on a loopback port over real HTTP.
public final class ReleaseWorld: @unchecked Sendable {
    public static let image = "sha256:" + String(repeating: "5e", count: 32)
    public static let code = "sha256:" + String(repeating: "c0", count: 32)

    public let chain: DevChain
    public let proxy: LoopbackRPCProxy
    public let client: EthClient
    public let dp: DataPolicy
    public let owner: TransactionSender, requester: TransactionSender, backend: TransactionSender
    public let ownerKey: Secp256k1.PrivateKey, requesterKey: Secp256k1.PrivateKey, backendKey: Secp256k1.PrivateKey
    public let tpm: SoftwareTPM
    public let producer: TPMEvidenceProducer
    public let kind: StoreBackend
    public let storeURL: String
    public let sqlitePath: String?
    public let store: any ReleaseStore
    public let escrowKey: EscrowKey
    public let policy: Policy
    public let clock = TestClock()
    public let logs = LogCapture()
    public let service: ReleaseService
    public let http = HTTPClient.shared
    public private(set) var baseURL = ""
    private var serverTask: Task<Void, any Error>?

    public init(store kind: StoreBackend, nonceTTL: TimeInterval = 120) async throws {
        self.kind = kind
        chain = try DevChain()
        proxy = try LoopbackRPCProxy(upstream: chain.info.rpcUrl)
        client = EthClient(url: chain.info.rpcUrl)
        dp = DataPolicy(address: try Address(chain.info.dataPolicy), client: client)
        func key(_ a: DevChain.Account) throws -> Secp256k1.PrivateKey { try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(a.privateKey)) }
        ownerKey = try key(chain.info.owner)
        requesterKey = try key(chain.info.requester)
        backendKey = try key(chain.info.backend)
        owner = TransactionSender(client: client, key: ownerKey)
        requester = TransactionSender(client: client, key: requesterKey)
        backend = TransactionSender(client: client, key: backendKey)
        for s in [owner, requester, backend] { await s.configure(pollInterval: .milliseconds(20), timeout: .seconds(60)) }

        tpm = try SoftwareTPM()
        producer = try TPMEvidenceProducer(tcti: tpm.tcti)
        try await producer.measure(.image(Self.image))
        try await producer.measure(.code(Self.code))

        switch kind {
        case .sqlite:
            let path = NSTemporaryDirectory() + "krs-\(UUID().uuidString).sqlite"
            sqlitePath = path
            storeURL = "sqlite:\(path)"
        case .postgres:
            sqlitePath = nil
            let pg = try SharedPostgres.server.get()
            storeURL = pg.url(database: try pg.createDatabase(prefix: "krs"))
        }
        store = try await ReleaseStores.open(storeURL)
        escrowKey = EscrowKey(privateKey: Secp256k1.PrivateKey())

        // The reference policy: derived from golden evidence of this very node (PCRs 0–7 and 23,
        // the image digest and code hash from the replayed PCR-23 log), at most 5 minutes old.
        let golden = try await producer.quote(nonce: Array(repeating: 7, count: 32))
        let verified = try TPM.QuoteVerifier().verify(golden.tpm!, eventLog: golden.eventLog.map { [UInt8]($0) }, expectedNonce: .anyForReferenceEvidence, now: Date())
        policy = try Policy.derived(from: [VerifiedEvidence.tpm(verified).policyInput(evidenceTime: Date())], name: "swtpm-reference", maxEvidenceAge: 300)

        let clock = self.clock
        var settings = ReleaseService.Settings()
        settings.nonceTTL = nonceTTL
        settings.clock = { clock.now }
        settings.challengeRate = nil  // the limiter has its own test; these worlds take many challenges from one address
        let logs = self.logs
        var logger = Logger(label: "keyrelease-test") { JSONLogHandler(label: $0, sink: logs.sink) }
        logger.logLevel = .debug
        service = try ReleaseService(
            store: store, registry: ChainJobRegistry(rpc: proxy.url, contract: try Address(chain.info.dataPolicy)),
            policies: [try LoadedPolicy(text: policy.yaml, source: "swtpm-reference.yaml")], verification: QuoteVerification(),
            escrowKey: escrowKey, settings: settings, logger: logger)
        try await serve(service)
    }

    /// Another service on this world's store and chain for TDX evidence minted by `pki`: its
    /// clock at `TDXTestPKI.validInstant`, collateral from `source`, judged by `policyYAML`.
    public func tdxService(_ pki: TDXTestPKI, source: any TDX.CollateralSource, policyYAML: String) throws -> ReleaseService {
        let clock = TestClock(base: TDXTestPKI.validInstant)
        var settings = ReleaseService.Settings()
        settings.clock = { clock.now }
        settings.challengeRate = nil
        let v = QuoteVerification(collateralSource: source, verifier: TDX.QuoteVerifier(trustAnchor: pki.root))
        return try ReleaseService(
            store: store, registry: ChainJobRegistry(rpc: chain.info.rpcUrl, contract: try Address(chain.info.dataPolicy)),
            policies: [try LoadedPolicy(text: policyYAML, source: "tdx.yaml")], verification: v, escrowKey: escrowKey, settings: settings)
    }

    /// Runs `body` in a fresh world and shuts the world down whether `body` returns or throws.
    public static func using(store kind: StoreBackend, nonceTTL: TimeInterval = 120, _ body: (ReleaseWorld) async throws -> Void) async throws {
        let w = try await ReleaseWorld(store: kind, nonceTTL: nonceTTL)
        do { try await body(w) } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    /// Serves `service` on a free loopback port (the world's own service by default).
    @discardableResult
    public func serve(_ service: ReleaseService, maxBodyBytes: Int = 1 << 20) async throws -> String {
        let ready = AsyncStream<Int>.makeStream()
        var listener = ReleaseHTTP.Listener()
        listener.port = 0
        listener.maxBodyBytes = maxBodyBytes
        listener.adminToken = "admin-secret"
        // The world owns (and closes) the store: several servers share it.
        let group = try ReleaseHTTP.build(service: service, listener: listener, ownsStore: false, signals: false) { port in ready.continuation.yield(port) }
        let task = Task { try await group.run() }
        var port = 0
        for await p in ready.stream { port = p; break }
        let url = "http://127.0.0.1:\(port)"
        if baseURL.isEmpty { baseURL = url; serverTask = task } else { extraTasks.append(task) }
        return url
    }
    private var extraTasks = [Task<Void, any Error>]()

    /// Cancels `task` (another server on this world's store) at shutdown.
    public func adopt(_ task: Task<Void, any Error>) { extraTasks.append(task) }

    public func shutdown() async {
        serverTask?.cancel()
        for t in extraTasks { t.cancel() }
        _ = await serverTask?.result
        await producer.close()
        await store.close()
        tpm.stop()
        proxy.stop()
        chain.stop()
        if let sqlitePath { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + s) } }
    }

    // MARK: - Chain and dataset set-up

    public static func bytes32(_ s: String) -> [UInt8] { Keccak256.hash(Array(s.utf8)) }

    /// Registers a fresh dataset, escrows its key with the service (owner-signed upload over
    /// HTTP), and has the requester open a Granted job for it.
    public func dataset(escrow: Bool = true) async throws -> Dataset {
        let plaintext = (0..<5000).map { _ in UInt8.random(in: 0...255) }
        let key = SymmetricKey(size: .bits256)
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        let sealed = try LICENFile.seal(plaintext, key: key, iv: iv)
        let root = try ZeroG.merkle(of: sealed).root.bytes
        try await dp.registerDataset(
            .init(
                datasetRoot: root, manifestHash: Self.bytes32("manifest"), royaltyPerEpoch: 1000, maxEpochsPerRun: 10, maxRunsPerRequester: 50,
                accessTTLSeconds: 3600, policyExpiry: UInt64(Date().timeIntervalSince1970) + 86400, requireResultAttestation: true,
                openRequesters: true, allowedPurposeIDs: [Self.bytes32("fine-tune")], allowedRequesters: []), from: owner)
        if escrow {
            let envelope = try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: escrowKey.publicKey)
            let upload = try EscrowUpload.signed(datasetRoot: root, envelope: envelope.bytes, version: 1, owner: ownerKey)
            let (status, body) = try await post("/v1/escrow", upload)
            guard status == 201 else { throw WorldError("escrow upload: \(body)") }
        }
        let jobID = try await newJob(root)
        return Dataset(plaintext: plaintext, key: key, iv: iv, sealed: sealed, root: root, jobID: jobID)
    }

    /// A new Granted job for `root`.
    public func newJob(_ root: [UInt8]) async throws -> [UInt8] {
        try await dp.requestAccess(datasetRoot: root, purposeID: Self.bytes32("fine-tune"), requestedEpochs: 2, termsHash: Self.bytes32("manifest"), value: 2000, from: requester).jobID
    }

    // MARK: - The node's request

    /// A challenge nonce from the service.
    public func challenge(_ base: String? = nil) async throws -> [UInt8] {
        let (status, json) = try await get("/v1/challenge", base: base)
        guard status == 200 else { throw WorldError("challenge: \(json)") }
        return try Hex.decode(json["nonce"] as? String ?? "")
    }

    /// Builds a release request. By default everything is right; each parameter bends one thing.
    public func request(
        _ d: Dataset, nonce: [UInt8], node: NodeKeys, jobID: [UInt8]? = nil, datasetRoot: [UInt8]? = nil, quoteBinding: ReleaseBinding? = nil,
        evidence: EvidenceBundle? = nil, ticketSigner: Secp256k1.PrivateKey? = nil, ticketNode: Address? = nil, ticketJobID: [UInt8]? = nil,
        ticketExpiry: UInt64? = nil, proofSigner: Secp256k1.PrivateKey? = nil
    ) async throws -> ReleaseRequest {
        let job = jobID ?? d.jobID, root = datasetRoot ?? d.root
        let binding = quoteBinding ?? node.binding(nonce: nonce, jobID: job)
        let bundle: EvidenceBundle
        if let evidence { bundle = evidence } else { bundle = try await producer.quote(nonce: binding.tpmExtraData) }
        let ticket = DispatchTicket(
            jobID: ticketJobID ?? job, datasetRoot: root, node: ticketNode ?? node.address,
            expiry: ticketExpiry ?? UInt64(clock.now.timeIntervalSince1970) + 600)
        let message = try DispatchTicketMessage(signing: ticket, with: ticketSigner ?? backendKey, chainID: chain.info.chainId, dataPolicy: try Address(chain.info.dataPolicy))
        // The node's own request (ReleaseClient), with the proof re-signed when a test bends it.
        var request = try ReleaseClient.request(jobID: job, datasetRoot: root, nonce: nonce, keys: node, evidence: bundle, ticket: message)
        if let proofSigner { request.signerProof = try ReleaseRequest.proof(binding: node.binding(nonce: nonce, jobID: job), signer: proofSigner) }
        return request
    }

    /// Opens a release response with the node's HPKE key and decrypts the dataset with it.
    public func open(_ json: [String: Any], _ d: Dataset, node: NodeKeys) throws -> [UInt8] {
        let response = try JSONDecoder().decode(ReleaseResponse.self, from: JSONSerialization.data(withJSONObject: json))
        let released = try ReleaseClient.open(response, jobID: d.jobID, datasetRoot: d.root, keys: node)
        return try LICENFile.open(d.sealed, key: released.key, iv: released.iv)
    }

    /// The node's client for this world's service.
    public func client(_ base: String? = nil) -> ReleaseClient { ReleaseClient(baseURL: base ?? baseURL, http: http) }

    // MARK: - HTTP

    /// Raw bodies of every response this world received (to grep for key material).
    public let responses = NIOLockedValueBox<[String]>([])

    public func post(_ path: String, _ body: some Encodable, base: String? = nil) async throws -> (Int, [String: Any]) {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        return try await post(path, raw: Array(try e.encode(body)), base: base)
    }

    public func post(_ path: String, raw: [UInt8], base: String? = nil) async throws -> (Int, [String: Any]) {
        var r = HTTPClientRequest(url: (base ?? baseURL) + path)
        r.method = .POST
        r.headers.add(name: "content-type", value: "application/json")
        r.body = .bytes(raw)
        return try await send(r)
    }

    public func get(_ path: String, base: String? = nil, headers: [(String, String)] = []) async throws -> (Int, [String: Any]) {
        var r = HTTPClientRequest(url: (base ?? baseURL) + path)
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        return try await send(r)
    }

    public func getText(_ path: String) async throws -> (Int, String) {
        let response = try await http.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        responses.withLockedValue { $0.append(text) }
        return (Int(response.status.code), text)
    }

    private func send(_ r: HTTPClientRequest) async throws -> (Int, [String: Any]) {
        let response = try await http.execute(r, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 22)
        let text = String(buffer: body)
        responses.withLockedValue { $0.append(text) }
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? ["_raw": text]
        return (Int(response.status.code), object)
    }
}

/// A world set-up step that did not go as it must.
public struct WorldError: Error, CustomStringConvertible {
    /// What happened.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
