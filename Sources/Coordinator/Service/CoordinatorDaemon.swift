import AsyncHTTPClient
import Chain
import EVMCrypto
import Foundation
import Logging
import NIOCore
import SQLStore
import ServiceSupport
import ZeroG

/// Builds a running coordinator from its configuration (what `coordinator run` does).
public enum CoordinatorDaemon {
    /// Opens the store, connects to the chain (checking the wallet is the contract's backend
    /// wallet, since every dispatch ticket and settlement needs it), loads the providers'
    /// policies and wires the engine. `owner` names this replica on its leases. The start-up
    /// chain calls do not retry a refused connection (an RPC that is not there fails at once);
    /// the engine's own client retries. Fails closed with `.configInvalid` (bad settings,
    /// unreadable wallet or policy, wrong wallet) or a dependency's `…Unavailable` code; the
    /// store is closed again on failure.
    public static func make(
        _ config: CoordinatorConfig, owner: String, results: ResultStorage, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) async throws(CoordinatorError) -> CoordinatorEngine {
        let wallet = try config.walletKey(environment: environment)
        let providers = try config.configuredProviders()
        let verification = try config.quoteVerification()
        let client = EthClient(url: config.chain.rpc)
        let dataPolicy = DataPolicy(address: config.chain.dataPolicy, client: client)
        let chainID: UInt64
        let backend: Address
        do {
            // Why a client of its own: the engine's retries a connection until each call's
            // deadline (an RPC restart is worth waiting for), but a chain that is not there at
            // start is a misconfiguration to report at once.
            let probe = EthClient(rpc: .failingFast(url: config.chain.rpc))
            chainID = try await probe.chainID()
            backend = try await DataPolicy(address: config.chain.dataPolicy, client: probe).backendWallet()
        } catch {
            throw CoordinatorError(.chainUnavailable, "chain \(config.chain.rpc): \(error.message)")
        }
        if let expected = config.chain.chainId, expected != chainID {
            throw CoordinatorError(.configInvalid, "chain.chainId is \(expected), but the RPC serves chain \(chainID)")
        }
        guard backend == wallet.publicKey.address else {
            throw CoordinatorError(.configInvalid, "the wallet is \(wallet.publicKey.address.checksummed), but the contract's backend wallet is \(backend.checksummed)")
        }
        let store = try await JobStore.open(config.store)
        var sources: [any GrantedJobSource] = []
        if let url = config.discovery.hyperindex { sources.append(ChainConfirmedJobSource(HyperIndexJobSource(url: url), dataPolicy: dataPolicy)) }
        if let logs = config.discovery.logs {
            sources.append(ChainLogJobSource(dataPolicy: dataPolicy, fromBlock: logs.fromBlock, confirmations: logs.confirmations, store: store))
        }
        let sender = TransactionSender(client: client, key: wallet)
        var settings = CoordinatorSettings(owner: owner, keyReleaseURL: config.keyRelease)
        settings.discoveryInterval = .seconds(config.intervals.discoverySeconds)
        settings.taskInterval = .seconds(config.intervals.taskSeconds)
        settings.taskTimeout = TimeInterval(config.timeouts.taskSeconds)
        settings.providerTimeout = .seconds(Int64(config.timeouts.providerSeconds))
        settings.leaseSeconds = TimeInterval(config.timeouts.leaseSeconds)
        settings.dispatchRetries = config.retries.dispatch
        settings.settlementRetries = config.retries.settlement
        let timeout = TimeAmount.seconds(Int64(config.timeouts.providerSeconds))
        return CoordinatorEngine(
            store: store, source: sources.count == 1 ? sources[0] : MergedJobSource(sources), dataPolicy: dataPolicy, sender: sender, wallet: wallet,
            chainID: chainID, providers: providers, attestor: ProviderAttestor(verification: verification, timeout: timeout),
            results: ResultCheck(keyReleaseURL: config.keyRelease, storage: results, chainID: chainID, dataPolicy: dataPolicy.address, timeout: timeout),
            settings: settings, logger: logger)
    }

    /// What `coordinator run --check` reports of an engine ``make(_:owner:results:environment:logger:)``
    /// built: each item was checked on the way (nothing here is secret; the wallet appears only
    /// as its address).
    public struct CheckReport: Codable, Sendable, Hashable {
        /// The store (the SQLite path, never a PostgreSQL URL) and its schema version after migration.
        public var store: String
        /// The store's schema version.
        public var storeSchema: Int
        /// The chain id the RPC serves.
        public var chainId: UInt64
        /// The DataPolicy contract.
        public var dataPolicy: String
        /// The backend wallet's address (equal to the contract's backend wallet).
        public var backendWallet: String
        /// Each provider node with the names of its loaded policies.
        public var providers: [Provider]
        /// Where results are looked for.
        public var results: String

        /// One provider node.
        public struct Provider: Codable, Sendable, Hashable {
            /// The node's URL.
            public var url: String
            /// The platform it must attest from.
            public var platform: String
            /// Its policies' names.
            public var policies: [String]
        }
    }

    /// The report for `engine`, built from `config` (the store is asked its schema version).
    public static func checkReport(_ engine: CoordinatorEngine, config: CoordinatorConfig) async throws(CoordinatorError) -> CheckReport {
        let version = try await engine.store.migrate()
        let store = (try? config.storeLocation().displayName) ?? "the store"
        let results: String
        switch config.results {
        case .local(let directory): results = "local \(directory)"
        case .zeroG(let url): results = "0G storage node \(url)"
        }
        return CheckReport(
            store: store, storeSchema: version, chainId: engine.chainID, dataPolicy: config.chain.dataPolicy.checksummed, backendWallet: engine.walletAddress.checksummed,
            providers: engine.providers.map { .init(url: $0.url, platform: $0.platform.rawValue, policies: $0.policies.policies.map(\.name)) }, results: results)
    }
}
