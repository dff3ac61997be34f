import Attestation
import AttestationCollateral
import ByteEncoding
import ConfigFile
import EVMCrypto
import Foundation
import SQLStore
import X509
import ZeroG

/// `coordinator run --config FILE`: the coordinator daemon's YAML configuration
/// (examples/coordinator.yaml). Decoded strictly (``StrictYAML``: an unknown key at any depth is
/// an error naming its line and path), then checked (URL schemes, addresses, ranges). The
/// backend wallet's key is named by file (mode 0600) or environment variable, never inline.
public struct CoordinatorConfig: Codable, Sendable, Hashable {
    /// The chain.
    public var chain: ChainSettings
    /// The backend wallet: the job's on-chain `provider`, which signs dispatch tickets and settles.
    public var wallet: SecretSource
    /// Where Granted jobs are found (at least one source).
    public var discovery: Discovery
    /// `sqlite:PATH` (default `sqlite:coordinator.db`) or `postgres://user@host:port/db`.
    public var store: String
    /// The provider nodes jobs may go to (at least one).
    public var providers: [Provider]
    /// The key-release service's base URL, handed to nodes in each task.
    public var keyRelease: String
    /// `host:port` for `/healthz` and metrics (default `127.0.0.1:8091`).
    public var listen: String
    /// Polling intervals.
    public var intervals: Intervals
    /// Timeouts.
    public var timeouts: Timeouts
    /// Retry budgets.
    public var retries: Retries
    /// What verifying providers' evidence needs beyond the evidence (as the key-release service's).
    public var verification: Verification
    /// Where trained models are stored, for the result check (default `{local: models}`).
    public var results: Results

    /// The chain endpoint and contract.
    public struct ChainSettings: Codable, Sendable, Hashable {
        /// JSON-RPC URL (`http`, `https`).
        public var rpc: String
        /// The DataPolicy contract (a mixed-case address must carry a valid EIP-55 checksum).
        public var dataPolicy: Address
        /// The chain id; absent: asked of the RPC (`eth_chainId`) at start.
        public var chainId: UInt64?
    }

    /// Job discovery.
    public struct Discovery: Codable, Sendable, Hashable {
        /// An Envio HyperIndex GraphQL endpoint (`…/v1/graphql`).
        public var hyperindex: String?
        /// `eth_getLogs` scanning.
        public var logs: Logs?

        /// Log scanning settings.
        public struct Logs: Codable, Sendable, Hashable {
            /// First block scanned (default 0: the contract's deployment block is better).
            public var fromBlock: UInt64
            /// Blocks a log must be buried under before it counts (default 0).
            public var confirmations: UInt64

            /// Creates settings.
            public init(fromBlock: UInt64 = 0, confirmations: UInt64 = 0) {
                self.fromBlock = fromBlock
                self.confirmations = confirmations
            }

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                fromBlock = try c.decodeIfPresent(UInt64.self, forKey: .fromBlock) ?? 0
                confirmations = try c.decodeIfPresent(UInt64.self, forKey: .confirmations) ?? 0
            }
        }
    }

    /// One provider node.
    public struct Provider: Codable, Sendable, Hashable {
        /// The node's base URL (`http`, `https`).
        public var url: String
        /// The TEE it must attest from.
        public var platform: Platform
        /// Policy files (YAML or JSON); any one accepting the node's evidence admits it.
        public var policies: [String]
    }

    /// Polling intervals, seconds, each > 0.
    public struct Intervals: Codable, Sendable, Hashable {
        /// Between job discovery rounds (default 5).
        public var discoverySeconds: Int
        /// Between task status polls (default 3).
        public var taskSeconds: Int

        /// Creates intervals (the defaults).
        public init(discoverySeconds: Int = 5, taskSeconds: Int = 3) {
            self.discoverySeconds = discoverySeconds
            self.taskSeconds = taskSeconds
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            discoverySeconds = try c.decodeIfPresent(Int.self, forKey: .discoverySeconds) ?? 5
            taskSeconds = try c.decodeIfPresent(Int.self, forKey: .taskSeconds) ?? 3
        }
    }

    /// Timeouts, seconds, each > 0.
    public struct Timeouts: Codable, Sendable, Hashable {
        /// A task showing no progress this long is failed on chain (default 3600).
        public var taskSeconds: Int
        /// One call to a provider node (default 30).
        public var providerSeconds: Int
        /// A job lease held by one coordinator instance (default 60).
        public var leaseSeconds: Int

        /// Creates timeouts (the defaults).
        public init(taskSeconds: Int = 3600, providerSeconds: Int = 30, leaseSeconds: Int = 60) {
            self.taskSeconds = taskSeconds
            self.providerSeconds = providerSeconds
            self.leaseSeconds = leaseSeconds
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            taskSeconds = try c.decodeIfPresent(Int.self, forKey: .taskSeconds) ?? 3600
            providerSeconds = try c.decodeIfPresent(Int.self, forKey: .providerSeconds) ?? 30
            leaseSeconds = try c.decodeIfPresent(Int.self, forKey: .leaseSeconds) ?? 60
        }
    }

    /// Attempts before giving up, each ≥ 0.
    public struct Retries: Codable, Sendable, Hashable {
        /// Dispatching one job (default 5).
        public var dispatch: Int
        /// Sending one settlement transaction (default 10).
        public var settlement: Int

        /// Creates budgets (the defaults).
        public init(dispatch: Int = 5, settlement: Int = 10) {
            self.dispatch = dispatch
            self.settlement = settlement
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dispatch = try c.decodeIfPresent(Int.self, forKey: .dispatch) ?? 5
            settlement = try c.decodeIfPresent(Int.self, forKey: .settlement) ?? 10
        }
    }

    /// Verification inputs, as the key-release service's `verification` section.
    public struct Verification: Codable, Sendable, Hashable {
        /// TDX collateral files or folders (offline).
        public var collateral: [String]
        /// SEV-SNP certificate files (ASK/ARK bundles, VLEKs).
        public var snpCertificates: [String]
        /// TPM AK roots (PEM or DER): AK certificate chains must end at one of them.
        public var akRoots: [String]
        /// Let a verified Azure HCL report in TPM evidence anchor the AK it names (default false).
        public var akHardwareBinding: Bool
        /// Fetch TDX collateral from Intel PCS and SNP certificates from AMD KDS (default false).
        public var online: Bool

        /// Creates inputs (the defaults: nothing, offline).
        public init(collateral: [String] = [], snpCertificates: [String] = [], akRoots: [String] = [], akHardwareBinding: Bool = false, online: Bool = false) {
            self.collateral = collateral
            self.snpCertificates = snpCertificates
            self.akRoots = akRoots
            self.akHardwareBinding = akHardwareBinding
            self.online = online
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            collateral = try c.decodeIfPresent([String].self, forKey: .collateral) ?? []
            snpCertificates = try c.decodeIfPresent([String].self, forKey: .snpCertificates) ?? []
            akRoots = try c.decodeIfPresent([String].self, forKey: .akRoots) ?? []
            akHardwareBinding = try c.decodeIfPresent(Bool.self, forKey: .akHardwareBinding) ?? false
            online = try c.decodeIfPresent(Bool.self, forKey: .online) ?? false
        }
    }

    /// Where trained models are stored: exactly one of `local: DIR` or `zeroG: URL`.
    public enum Results: Codable, Sendable, Hashable {
        /// A local content-addressed store (``LocalDatasetStore``) in this folder (the embedded
        /// default: `models`).
        case local(String)
        /// A 0G storage node's JSON-RPC URL (`http`, `https`).
        case zeroG(String)

        private enum CodingKeys: String, CodingKey { case local, zeroG }

        /// Decodes `{local: DIR}` or `{zeroG: URL}`: exactly one, not empty.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let local = try c.decodeIfPresent(String.self, forKey: .local)
            let zeroG = try c.decodeIfPresent(String.self, forKey: .zeroG)
            switch (local, zeroG) {
            case (let l?, nil) where !l.isEmpty: self = .local(l)
            case (nil, let z?) where !z.isEmpty: self = .zeroG(z)
            default: throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "give exactly one of local or zeroG"))
            }
        }

        /// Encodes `{local: DIR}` or `{zeroG: URL}`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .local(let l): try c.encode(l, forKey: .local)
            case .zeroG(let z): try c.encode(z, forKey: .zeroG)
            }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case chain, wallet, discovery, store, providers, keyRelease, listen, intervals, timeouts, retries, verification, results
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chain = try c.decode(ChainSettings.self, forKey: .chain)
        wallet = try c.decode(SecretSource.self, forKey: .wallet)
        discovery = try c.decode(Discovery.self, forKey: .discovery)
        store = try c.decodeIfPresent(String.self, forKey: .store) ?? "sqlite:coordinator.db"
        providers = try c.decode([Provider].self, forKey: .providers)
        keyRelease = try c.decode(String.self, forKey: .keyRelease)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? "127.0.0.1:8091"
        intervals = try c.decodeIfPresent(Intervals.self, forKey: .intervals) ?? Intervals()
        timeouts = try c.decodeIfPresent(Timeouts.self, forKey: .timeouts) ?? Timeouts()
        retries = try c.decodeIfPresent(Retries.self, forKey: .retries) ?? Retries()
        verification = try c.decodeIfPresent(Verification.self, forKey: .verification) ?? Verification()
        results = try c.decodeIfPresent(Results.self, forKey: .results) ?? .local("models")
    }

    /// Parses and checks YAML text.
    public init(yaml text: String) throws(CoordinatorError) {
        do { self = try StrictYAML.decode(CoordinatorConfig.self, from: text) } catch {
            throw CoordinatorError(.configInvalid, "config: \(error.message)")
        }
        try check()
    }

    /// Reads and checks a config file.
    public init(file path: String) throws(CoordinatorError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw CoordinatorError(.configInvalid, "cannot read config file \(path)") }
        do { try self.init(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw CoordinatorError(.configInvalid, "\(path): \(error.message)")
        }
    }

    /// ``store`` parsed (``SQLDatabase/Location``). `.configInvalid` for anything but
    /// `sqlite:PATH` or `postgres://…`; the message never repeats the URL (it may carry a password).
    public func storeLocation() throws(CoordinatorError) -> SQLDatabase.Location {
        do { return try SQLDatabase.Location(store) } catch { throw CoordinatorError(.configInvalid, error.message) }
    }

    /// Where the result check looks for trained models (``results``).
    public func resultStorage() -> ResultStorage {
        switch results {
        case .local(let directory): .local(LocalDatasetStore(directory: directory))
        case .zeroG(let url): .zeroG(ZeroG.StorageNodeClient(url: url))
        }
    }

    /// `listen` split into host and port.
    public func listenAddress() throws(CoordinatorError) -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), colon > listen.startIndex, let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw CoordinatorError(.configInvalid, "listen must be host:port, not \"\(listen)\"")
        }
        return (String(listen[..<colon]), port)
    }

    /// Reads the backend wallet's secp256k1 key (64 hex digits, optional `0x`). Errors name
    /// where the key was looked for, never what was found.
    public func walletKey(environment: [String: String] = ProcessInfo.processInfo.environment) throws(CoordinatorError) -> Secp256k1.PrivateKey {
        let text: String
        do { text = try wallet.read(environment: environment) } catch { throw CoordinatorError(.configInvalid, "wallet: \(error.message)") }
        guard let bytes = try? Hex.decode(text), bytes.count == 32, let key = try? Secp256k1.PrivateKey(rawRepresentation: bytes) else {
            throw CoordinatorError(.configInvalid, "wallet: the \(wallet.location) does not hold a secp256k1 private key (64 hex digits)")
        }
        return key
    }

    /// The providers with their policy files loaded. Fails when a file cannot be read or parsed,
    /// or when a policy accepts TPM evidence but nothing could anchor an attestation key.
    public func configuredProviders() throws(CoordinatorError) -> [ConfiguredProvider] {
        var out = [ConfiguredProvider]()
        for (i, p) in providers.enumerated() {
            var policies = [Policy]()
            for file in p.policies {
                guard let data = FileManager.default.contents(atPath: file) else { throw CoordinatorError(.configInvalid, "providers[\(i)]: cannot read policy file \(file)") }
                let policy: Policy
                do { policy = try Policy(yaml: String(decoding: data, as: UTF8.self)) } catch {
                    throw CoordinatorError(.configInvalid, "providers[\(i)]: policy \(file): \(error.message)")
                }
                if let tpm = policy.platforms[.tpm], tpm.attestationKeys == nil, verification.akRoots.isEmpty, !verification.akHardwareBinding {
                    throw CoordinatorError(
                        .configInvalid,
                        "providers[\(i)]: policy \(file) accepts TPM evidence but nothing can anchor an attestation key: configure verification.akRoots, "
                            + "verification.akHardwareBinding, or pin tpm.attestationKeys in the policy")
                }
                policies.append(policy)
            }
            out.append(ConfiguredProvider(url: p.url, platform: p.platform, policies: PolicySet(policies)))
        }
        return out
    }

    /// The verification use case providers' quotes are checked with: the configured collateral
    /// and certificate files, AK roots, and Intel PCS / AMD KDS when `online`.
    public func quoteVerification() throws(CoordinatorError) -> QuoteVerification {
        do {
            return try QuoteVerification(
                collateralFiles: verification.collateral + verification.snpCertificates, akRootFiles: verification.akRoots,
                akHardwareBinding: verification.akHardwareBinding, online: verification.online)
        } catch {
            throw CoordinatorError(.configInvalid, "verification: \(error.message)")
        }
    }

    /// The checks decoding cannot make.
    func check() throws(CoordinatorError) {
        func fail(_ m: String) -> CoordinatorError { CoordinatorError(.configInvalid, m) }
        try Self.requireURL(chain.rpc, "chain.rpc")
        if chain.chainId == 0 { throw fail("chain.chainId must be > 0") }
        guard discovery.hyperindex != nil || discovery.logs != nil else { throw fail("discovery: configure hyperindex, logs, or both") }
        if let h = discovery.hyperindex { try Self.requireURL(h, "discovery.hyperindex") }
        _ = try storeLocation()
        if case .zeroG(let url) = results { try Self.requireURL(url, "results.zeroG") }
        guard !providers.isEmpty else { throw fail("providers: at least one provider node is required") }
        var seen = Set<String>()
        for (i, p) in providers.enumerated() {
            try Self.requireURL(p.url, "providers[\(i)].url")
            guard seen.insert(p.url).inserted else { throw fail("providers[\(i)].url: \(p.url) is listed twice") }
            guard !p.policies.isEmpty else { throw fail("providers[\(i)].policies: at least one policy file is required (none would refuse the node)") }
            if p.platform == .tdx && verification.collateral.isEmpty && !verification.online {
                // Why: collateral a node bundles is used only when at least as new as the
                // coordinator's own; with none of its own, no TDX node could ever be admitted.
                throw fail("providers[\(i)] is tdx, but verification has neither collateral files nor online: its quotes could never be verified")
            }
        }
        try Self.requireURL(keyRelease, "keyRelease")
        _ = try listenAddress()
        for (name, v) in [
            ("intervals.discoverySeconds", intervals.discoverySeconds), ("intervals.taskSeconds", intervals.taskSeconds), ("timeouts.taskSeconds", timeouts.taskSeconds),
            ("timeouts.providerSeconds", timeouts.providerSeconds), ("timeouts.leaseSeconds", timeouts.leaseSeconds),
        ] where v <= 0 {
            throw fail("\(name) must be > 0, not \(v)")
        }
        for (name, v) in [("retries.dispatch", retries.dispatch), ("retries.settlement", retries.settlement)] where v < 0 {
            throw fail("\(name) must be ≥ 0, not \(v)")
        }
    }

    /// An `http` or `https` URL with a host.
    static func requireURL(_ text: String, _ name: String) throws(CoordinatorError) {
        guard let u = URL(string: text), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = u.host, !host.isEmpty else {
            throw CoordinatorError(.configInvalid, "\(name) must be an http(s) URL, not \"\(text)\"")
        }
    }
}
