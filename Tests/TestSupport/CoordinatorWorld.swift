import Attestation
import AttestationCollateral
import BigInt
import ByteEncoding
import Chain
import Coordinator
import EVMCrypto
import Foundation
import Logging
import ProviderNode
import ReleaseProtocol
import ServiceSupport
import ZeroG

/// The coordinator in a real world: the dev chain (py-evm, the Vyper DataPolicy), the real
/// key-release service on loopback (swtpm evidence, its policy derived from the node's golden
/// evidence), loopback provider nodes that obtain each task's key from that service for real
/// (challenge → swtpm quote binding the release → release → HPKE open) and answer node quotes
/// with TDX evidence from the test PKI, a local model store, and the coordinator's own store.
public final class CoordinatorWorld: @unchecked Sendable {
    public let release: ReleaseWorld
    public let pki: TDXTestPKI
    public let models: LocalDatasetStore
    public let modelDirectory: String
    public let storeURL: String
    public let logs = LogCapture()
    public var nodes: [LoopbackTaskProvider] = []
    /// The node keys (inside each node's "TEE").
    public var keys: [String: ReleaseClient.NodeKeys] = [:]

    /// `postgres`: a server of the test's own (to stop and start) instead of the shared one.
    public init(storeBackend: StoreBackend = .sqlite, postgres: PostgresServer? = nil) async throws {
        release = try await ReleaseWorld(store: .sqlite)
        pki = try TDXTestPKI()
        modelDirectory = NSTemporaryDirectory() + "models-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: modelDirectory, withIntermediateDirectories: true)
        models = LocalDatasetStore(directory: modelDirectory)
        switch storeBackend {
        case .sqlite: storeURL = "sqlite:" + NSTemporaryDirectory() + "coordinator-\(UUID().uuidString).db"
        case .postgres:
            let pg = try postgres ?? SharedPostgres.server.get()
            storeURL = pg.url(database: try pg.createDatabase(prefix: "coord"))
        }
    }

    public static func using(storeBackend: StoreBackend = .sqlite, postgres: PostgresServer? = nil, _ body: (CoordinatorWorld) async throws -> Void) async throws {
        let w = try await CoordinatorWorld(storeBackend: storeBackend, postgres: postgres)
        do { try await body(w) } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    public func shutdown() async {
        for n in nodes { n.shutdown() }
        await release.shutdown()
        try? FileManager.default.removeItem(atPath: modelDirectory)
    }

    public var chainID: UInt64 { release.chain.info.chainId }

    /// A provider node whose tasks obtain their key from the world's key-release service with
    /// the world's swtpm evidence, and whose finished tasks have stored their model (unless
    /// `storesModel` is false).
    /// With `swtpmQuotes`, its `/v1/quote` answers the world's swtpm evidence (judged by the
    /// world's swtpm policy, valid at any time) instead of test-PKI TDX quotes.
    public func node(script: LoopbackTaskProvider.Script = .init(), storesModel: Bool = true, swtpmQuotes: Bool = false) throws -> LoopbackTaskProvider {
        let keys = ReleaseClient.NodeKeys()
        let producer = release.producer
        var script = script
        if swtpmQuotes { script.quote = .evidence { binding in try await producer.quote(nonce: binding.tpmExtraData) } }
        let directory = modelDirectory
        let node = try LoopbackTaskProvider(
            pki: pki, chainID: chainID, dataPolicy: release.dp.address, signer: keys.signer, script: script,
            release: { task in
                do {
                    let released = try await ReleaseClient(baseURL: task.keyReleaseURL, http: .shared).obtainKey(
                        jobID: task.jobID, datasetRoot: task.datasetRoot, ticket: task.ticket, keys: keys,
                        evidence: { binding in try await producer.quote(nonce: binding.tpmExtraData) })
                    // The node trains and uploads its (encrypted) model: its root is the manifest's resultHash.
                    if storesModel {
                        let root = Hex.encode(LoopbackTaskProvider.resultHash(jobID: task.jobID))
                        FileManager.default.createFile(atPath: directory + "/" + root, contents: Data("encrypted model".utf8))
                    }
                    return .success(released.attestationRef)
                } catch let error as ProviderNodeError {
                    return .failure(.init(error.serviceCode ?? error.code.rawValue))
                } catch {
                    return .failure(.init("node_error"))
                }
            })
        nodes.append(node)
        self.keys[node.baseURL] = keys
        return node
    }

    /// The coordinator for `nodes`, on the world's chain, key-release service and store.
    /// `rpc`: the chain endpoint the coordinator uses (a recording proxy; default the chain's own).
    public func engine(
        _ nodes: [LoopbackTaskProvider], owner: String = "c1", rpc: String? = nil, source: (any GrantedJobSource)? = nil,
        senderTimeout: Duration = .seconds(60), auditURL: String? = nil, tune: (inout CoordinatorSettings) -> Void = { _ in }
    ) async throws -> CoordinatorEngine {
        let store = try await JobStore.open(storeURL)
        var dataPolicy = release.dp
        var sender = release.backend
        if let rpc {
            let client = EthClient(url: rpc)
            dataPolicy = DataPolicy(address: release.dp.address, client: client)
            sender = TransactionSender(client: client, key: release.backendKey)
            // No fee-bumped resend within one send: a lost transaction is the coordinator's to find.
            await sender.configure(pollInterval: .milliseconds(20), stuckAfter: .seconds(600), timeout: senderTimeout)
        }
        let policy = try Policy(yaml: TDXTestPKI.policyYAML(name: "test-tdx"))
        var settings = CoordinatorSettings(owner: owner, keyReleaseURL: release.baseURL)
        settings.ticketLifetime = 600
        settings.providerTimeout = .seconds(5)
        settings.verificationClock = { TDXTestPKI.validInstant }
        tune(&settings)
        let verification = QuoteVerification(collateralSource: pki.collateralSource, verifier: TDX.QuoteVerifier(trustAnchor: pki.root))
        let logs = self.logs
        let logger = Logger(label: "coordinator-test") { JSONLogHandler(label: $0, sink: logs.sink) }
        return CoordinatorEngine(
            store: store, source: source ?? ChainLogJobSource(dataPolicy: dataPolicy, store: store), dataPolicy: dataPolicy, sender: sender,
            wallet: release.backendKey, chainID: chainID,
            providers: nodes.map { ConfiguredProvider(url: $0.baseURL, platform: .tdx, policies: PolicySet([policy])) },
            attestor: ProviderAttestor(verification: verification, timeout: .seconds(5)),
            results: ResultCheck(keyReleaseURL: auditURL ?? release.baseURL, storage: .local(models), chainID: chainID, dataPolicy: dataPolicy.address, timeout: .seconds(5)),
            settings: settings, logger: logger)
    }

    /// Runs rounds of discovery, dispatch and tracking (each `now` a little later) until every
    /// job in `jobs` is terminal in the store, or `rounds` are spent. Returns the records.
    @discardableResult
    public func drive(_ engine: CoordinatorEngine, until jobs: [[UInt8]], rounds: Int = 60, step: TimeInterval = 5, start: Date = Date()) async throws -> [JobRecord] {
        var now = start
        for _ in 0..<rounds {
            _ = try? await engine.discoverOnce(now: now)
            await engine.dispatchOnce(now: now)
            await engine.trackOnce(now: now)
            let records = try await jobs.asyncMap { try await engine.store.job($0) }
            Self.trace(records.map { r in "\(r?.state.description ?? "-")/\(r?.taskStatus?.rawValue ?? "-")/\(r?.reason ?? "-")" }.joined(separator: " "))
            if records.allSatisfy({ $0?.state.isTerminal == true }) { return records.compactMap { $0 } }
            now += step
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await jobs.asyncMap { try await engine.store.job($0) }.compactMap { $0 }
    }

    /// Writes a configuration for the `coordinator` process into `dir` (which must exist): this
    /// world's chain, key-release service and model store, `nodes` judged by the world's swtpm
    /// policy, chain-log discovery, an SQLite store in `dir`, the wallet key from the environment
    /// variable `walletEnv`. Returns the file's path.
    public func writeProcessConfig(dir: String, nodes: [LoopbackTaskProvider], walletEnv: String, providerSeconds: Int = 5, leaseSeconds: Int = 3) throws -> String {
        try release.policy.yaml.write(toFile: dir + "/swtpm.yaml", atomically: true, encoding: .utf8)
        let providers = nodes.map { "  - {url: \"\($0.baseURL)\", platform: tpm, policies: [\"\(dir)/swtpm.yaml\"]}" }.joined(separator: "\n")
        let path = dir + "/coordinator.yaml"
        try """
        chain: {rpc: "\(release.chain.info.rpcUrl)", dataPolicy: "\(release.chain.info.dataPolicy)"}
        wallet: {env: \(walletEnv)}
        discovery: {logs: {fromBlock: 0, confirmations: 0}}
        store: "sqlite:\(dir)/coordinator.db"
        providers:
        \(providers)
        keyRelease: "\(release.baseURL)"
        listen: "127.0.0.1:0"
        intervals: {discoverySeconds: 1, taskSeconds: 1}
        timeouts: {taskSeconds: 600, providerSeconds: \(providerSeconds), leaseSeconds: \(leaseSeconds)}
        results: {local: "\(modelDirectory)"}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Appends `line` to the file `COORDINATOR_TEST_TRACE` names (for watching a long run).
    public static func trace(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["COORDINATOR_TEST_TRACE"] else { return }
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        h.seekToEndOfFile()
        h.write(Data("\(Date()) \(line)\n".utf8))
        try? h.close()
    }

    /// The DataPolicy events about `jobID`.
    public func events(_ jobID: [UInt8]) async throws -> [DataPolicy.Event] {
        try await release.dp.events(fromBlock: 0).filter { e in
            switch e {
            case .jobStarted(let j), .accessGranted(let j), .jobTimedOut(let j): j == jobID
            case .accessRequested(let j, _, _, _), .jobCompleted(let j, _, _, _), .jobFailed(let j, _), .royaltySettled(let j, _), .refundIssued(let j, _): j == jobID
            default: false
            }
        }
    }
}

extension Array {
    public func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}
