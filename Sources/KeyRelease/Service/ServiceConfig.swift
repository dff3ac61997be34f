import Attestation
import AttestationCollateral
import Chain
import EVMCrypto
import Foundation
import Logging
import X509
import Yams

/// `keyrelease serve --config FILE`: the service's YAML configuration (documented in
/// Docs/keyrelease-service.md). Unknown keys are errors, so a typo never silently drops a
/// setting; secrets (escrow key, admin token) are named by file or environment variable, never
/// written inline.
public struct ServiceConfig: Codable, Sendable, Hashable {
    /// `host:port` to listen on (port 0 picks one).
    public var listen: String
    /// Optional TLS: PEM certificate chain and private key files.
    public var tls: TLS?
    /// `sqlite:PATH` (the embedded default) or `postgres://user@host:port/db`.
    public var store: String
    /// Policy files (YAML or JSON); evidence is accepted when one of them accepts it.
    public var policies: [String]
    /// The chain.
    public var chain: ChainSettings
    /// Where the escrow private key comes from.
    public var escrowKey: SecretSource
    /// Where the admin bearer token comes from; absent disables admin routes.
    public var adminToken: SecretSource?
    /// Nonce lifetime in seconds (default 120).
    public var nonceTTLSeconds: Int?
    /// Largest request body in bytes (default 1 MiB).
    public var maxBodyBytes: Int?
    /// Verification inputs.
    public var verification: Verification?
    /// Log level (trace … critical; default info).
    public var logLevel: String?
    /// Resource limits against strangers (each optional; safe defaults).
    public var limits: Limits?

    /// What a stranger can make the service spend.
    public struct Limits: Codable, Sendable, Hashable {
        /// A new connection's first request head must arrive within this (default 10 s).
        public var headerTimeoutSeconds: Int?
        /// A request body must arrive within this of its head (default 30 s).
        public var bodyTimeoutSeconds: Int?
        /// A keep-alive connection may idle this long between requests (default 60 s).
        public var idleTimeoutSeconds: Int?
        /// Open connections at most (default 1024).
        public var maxConnections: Int?
        /// Challenges a client address may take at once (default 60); 0 disables the limit.
        public var challengeBurst: Int?
        /// Challenges per second refilled per client address (default 2).
        public var challengesPerSecond: Double?
        /// A dispatch ticket may be valid for at most this long when presented (default 3600 s).
        public var maxTicketLifetimeSeconds: Int?
    }

    /// TLS files.
    public struct TLS: Codable, Sendable, Hashable {
        /// PEM certificate chain.
        public var certificateChain: String
        /// PEM private key.
        public var privateKey: String
    }

    /// Chain endpoint and contract.
    public struct ChainSettings: Codable, Sendable, Hashable {
        /// JSON-RPC URL.
        public var rpc: String
        /// DataPolicy contract address.
        public var dataPolicy: String
    }

    /// A secret named by a file (mode 0600) or an environment variable.
    public struct SecretSource: Codable, Sendable, Hashable {
        /// File path.
        public var file: String?
        /// Environment variable name.
        public var env: String?
    }

    /// What evidence verification needs beyond the evidence itself.
    public struct Verification: Codable, Sendable, Hashable {
        /// TDX collateral files or folders (offline); absent fetches from Intel PCS when `online`.
        public var collateral: [String]?
        /// SEV-SNP certificate files (ASK/ARK bundles, VLEKs).
        public var snpCertificates: [String]?
        /// TPM AK roots (PEM or DER): AK certificate chains must end at one of them.
        public var akRoots: [String]?
        /// Let a verified Azure HCL report carried in TPM evidence anchor the AK it names.
        public var akHardwareBinding: Bool?
        /// Fetch TDX collateral from Intel PCS and SNP certificates from AMD KDS, cached.
        public var online: Bool?
    }

    static let allowedKeys: [String: Set<String>] = [
        "": ["listen", "tls", "store", "policies", "chain", "escrowKey", "adminToken", "nonceTTLSeconds", "maxBodyBytes", "verification", "logLevel", "limits"],
        "limits": ["headerTimeoutSeconds", "bodyTimeoutSeconds", "idleTimeoutSeconds", "maxConnections", "challengeBurst", "challengesPerSecond", "maxTicketLifetimeSeconds"],
        "tls": ["certificateChain", "privateKey"],
        "chain": ["rpc", "dataPolicy"],
        "escrowKey": ["file", "env"],
        "adminToken": ["file", "env"],
        "verification": ["collateral", "snpCertificates", "akRoots", "akHardwareBinding", "online"],
    ]

    /// Parses and checks YAML text.
    public init(yaml text: String) throws(KeyReleaseError) {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw KeyReleaseError(.configInvalid, "config is not YAML: \(error)") }
        guard let root = node?.mapping else { throw KeyReleaseError(.configInvalid, "config must be a YAML mapping") }
        for (key, value) in root {
            let name = key.string ?? ""
            guard Self.allowedKeys[""]!.contains(name) else { throw KeyReleaseError(.configInvalid, "line \(key.mark?.line ?? 0): unknown key \"\(name)\"") }
            if let allowed = Self.allowedKeys[name], let inner = value.mapping {
                for (k, _) in inner where !allowed.contains(k.string ?? "") {
                    throw KeyReleaseError(.configInvalid, "line \(k.mark?.line ?? 0): unknown key \"\(name).\(k.string ?? "")\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
                }
            }
        }
        do { self = try YAMLDecoder().decode(ServiceConfig.self, from: text) } catch {
            throw KeyReleaseError(.configInvalid, "config: \(error)")
        }
        try check()
    }

    /// Reads a config file.
    public init(file path: String) throws(KeyReleaseError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw KeyReleaseError(.configInvalid, "cannot read config file \(path)") }
        try self.init(yaml: String(decoding: data, as: UTF8.self))
    }

    private func check() throws(KeyReleaseError) {
        _ = try listenAddress()
        guard !policies.isEmpty else { throw KeyReleaseError(.configInvalid, "policies: at least one policy file is required (no policy would refuse everything)") }
        guard (try? Address(chain.dataPolicy)) != nil else { throw KeyReleaseError(.configInvalid, "chain.dataPolicy is not an address") }
        for (name, s) in [("escrowKey", escrowKey), ("adminToken", adminToken)] {
            guard let s else { continue }
            guard (s.file == nil) != (s.env == nil) else { throw KeyReleaseError(.configInvalid, "\(name): give exactly one of file or env") }
        }
        if let t = nonceTTLSeconds, !(1...3600).contains(t) { throw KeyReleaseError(.configInvalid, "nonceTTLSeconds must be 1…3600") }
        if let m = maxBodyBytes, !(1024...(64 << 20)).contains(m) { throw KeyReleaseError(.configInvalid, "maxBodyBytes must be 1 KiB…64 MiB") }
        if let l = limits {
            for (name, v, range) in [
                ("headerTimeoutSeconds", l.headerTimeoutSeconds, 1...600), ("bodyTimeoutSeconds", l.bodyTimeoutSeconds, 1...3600),
                ("idleTimeoutSeconds", l.idleTimeoutSeconds, 1...3600), ("maxConnections", l.maxConnections, 1...1_000_000),
                ("challengeBurst", l.challengeBurst, 0...1_000_000), ("maxTicketLifetimeSeconds", l.maxTicketLifetimeSeconds, 1...86400 * 7),
            ] {
                if let v, !range.contains(v) { throw KeyReleaseError(.configInvalid, "limits.\(name) must be \(range.lowerBound)…\(range.upperBound)") }
            }
            if let r = l.challengesPerSecond, !(r > 0 && r <= 1_000_000) { throw KeyReleaseError(.configInvalid, "limits.challengesPerSecond must be > 0") }
        }
        if let l = logLevel, Logger.Level(rawValue: l) == nil { throw KeyReleaseError(.configInvalid, "logLevel must be one of trace, debug, info, notice, warning, error, critical") }
    }

    /// `listen` split into host and port.
    public func listenAddress() throws(KeyReleaseError) -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw KeyReleaseError(.configInvalid, "listen must be host:port, not \"\(listen)\"")
        }
        return (String(listen[..<colon]), port)
    }

    /// Reads a secret.
    static func secret(_ s: SecretSource, environment: [String: String]) throws(KeyReleaseError) -> String {
        if let env = s.env {
            guard let v = environment[env], !v.isEmpty else { throw KeyReleaseError(.configInvalid, "environment variable \(env) is not set") }
            return v
        }
        guard let path = s.file, let d = FileManager.default.contents(atPath: path) else { throw KeyReleaseError(.configInvalid, "cannot read secret file \(s.file ?? "")") }
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Builds a running service from a ``ServiceConfig``.
public enum ReleaseServer {
    /// Opens the store (running migrations), loads policies and the escrow key, and builds the
    /// service and its listener settings.
    public static func make(
        _ config: ServiceConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "keyrelease")
    ) async throws(KeyReleaseError) -> (ReleaseService, ReleaseHTTP.Listener) {
        let escrow: EscrowKey
        if let env = config.escrowKey.env { escrow = try EscrowKey(environment: env, environment: environment) } else { escrow = try EscrowKey(file: config.escrowKey.file!) }
        let policies = try config.policies.map { (p) throws(KeyReleaseError) in try LoadedPolicy(file: p) }
        let v = config.verification
        let verification: QuoteVerification
        do {
            verification = try QuoteVerification(
                collateralFiles: (v?.collateral ?? []) + (v?.snpCertificates ?? []), akRootFiles: v?.akRoots ?? [],
                akHardwareBinding: v?.akHardwareBinding ?? false, online: v?.online ?? false)
        } catch {
            throw KeyReleaseError(.configInvalid, "verification: \(error.message)")
        }
        let store = try await ReleaseStores.open(config.store)
        var settings = ReleaseService.Settings()
        if let ttl = config.nonceTTLSeconds { settings.nonceTTL = TimeInterval(ttl) }
        let limits = config.limits
        if let t = limits?.maxTicketLifetimeSeconds { settings.maxTicketLifetime = TimeInterval(t) }
        if let burst = limits?.challengeBurst {
            settings.challengeRate = burst == 0 ? nil : (burst: burst, perSecond: limits?.challengesPerSecond ?? 2)
        } else if let rate = limits?.challengesPerSecond {
            settings.challengeRate = (burst: 60, perSecond: rate)
        }
        var log = logger
        if let l = config.logLevel.flatMap(Logger.Level.init(rawValue:)) { log.logLevel = l }
        let service = try ReleaseService(
            store: store, registry: ChainJobRegistry(rpc: config.chain.rpc, contract: try! Address(config.chain.dataPolicy)),
            policies: policies, verification: verification, escrowKey: escrow, settings: settings, logger: log)
        var listener = ReleaseHTTP.Listener()
        (listener.host, listener.port) = try config.listenAddress()
        if let t = config.tls { listener.tls = (t.certificateChain, t.privateKey) }
        if let m = config.maxBodyBytes { listener.maxBodyBytes = m }
        if let t = limits?.headerTimeoutSeconds { listener.headerTimeout = .seconds(t) }
        if let t = limits?.bodyTimeoutSeconds { listener.bodyTimeout = .seconds(t) }
        if let t = limits?.idleTimeoutSeconds { listener.idleTimeout = .seconds(t) }
        if let m = limits?.maxConnections { listener.maxConnections = m }
        if let a = config.adminToken { listener.adminToken = try ServiceConfig.secret(a, environment: environment) }
        return (service, listener)
    }
}
