import Crypto
import Foundation

/// What the service records about one release decision, before it is chained. Every field is
/// public information: digests, public keys, claims; never key material.
public struct AuditDraft: Sendable, Hashable, Codable {
    /// When the decision was made, milliseconds since the Unix epoch.
    public var timeMillis: Int64
    /// `released` or `refused`.
    public var outcome: String
    /// The refusal code (``KeyReleaseError/Code`` raw value), nil for a release.
    public var code: String?
    /// The request id (also in the HTTP response and the logs).
    public var requestID: String
    /// `0x`-hex job id, when the request carried a well-formed one.
    public var jobID: String?
    /// `0x`-hex dataset root, when the request carried a well-formed one.
    public var datasetRoot: String?
    /// `0x`-hex secp256k1 public key the TEE will sign its result manifest with.
    public var signerPublicKey: String?
    /// `0x`-hex X25519 public key the key was sealed to.
    public var hpkePublicKey: String?
    /// SHA-256 of the evidence bundle in canonical JSON (sorted keys; the bundle as parsed).
    public var evidenceDigest: String?
    /// The platform the evidence came from (tdx, snp, tpm).
    public var platform: String?
    /// Name of the policy that accepted the evidence (or was tried last).
    public var policyName: String?
    /// SHA-256 of that policy file's bytes.
    public var policyDigest: String?
    /// A summary of the verified claims (measurements, TCB status, workload identities).
    public var claims: [String: String]

    /// Creates a draft.
    public init(
        timeMillis: Int64, outcome: String, code: String? = nil, requestID: String, jobID: String? = nil, datasetRoot: String? = nil,
        signerPublicKey: String? = nil, hpkePublicKey: String? = nil, evidenceDigest: String? = nil, platform: String? = nil,
        policyName: String? = nil, policyDigest: String? = nil, claims: [String: String] = [:]
    ) {
        self.timeMillis = timeMillis
        self.outcome = outcome
        self.code = code
        self.requestID = requestID
        self.jobID = jobID
        self.datasetRoot = datasetRoot
        self.signerPublicKey = signerPublicKey
        self.hpkePublicKey = hpkePublicKey
        self.evidenceDigest = evidenceDigest
        self.platform = platform
        self.policyName = policyName
        self.policyDigest = policyDigest
        self.claims = claims
    }

    /// The canonical body: JSON with sorted keys and no insignificant whitespace. The stored
    /// bytes are what the hash covers, so re-encoding never changes a record's hash.
    public func canonicalBody() throws(KeyReleaseError) -> [UInt8] {
        do { return [UInt8](try CanonicalJSON.encode(self)) } catch { throw KeyReleaseError(.internalError, "audit record does not encode: \(error)") }
    }
}

/// One link of the audit chain: hash = SHA-256("licen-audit-v1" ‖ sequence (u64 big-endian) ‖
/// previousHash ‖ body). The first record's previousHash is 32 zero bytes. A record's hash is
/// its `attestationRef` (bytes32 on chain).
public struct AuditRecord: Sendable, Hashable {
    /// 1 for the first record, then +1.
    public let sequence: Int64
    /// The previous record's hash (32 zero bytes for the first).
    public let previousHash: [UInt8]
    /// This record's hash as stored.
    public let hash: [UInt8]
    /// The canonical JSON body as stored.
    public let body: [UInt8]
    /// The body decoded.
    public let draft: AuditDraft

    /// The domain separator in the hash.
    public static let domain = Array("licen-audit-v1".utf8)
    /// The first record's previous hash.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The hash a record with these contents must have.
    public static func computeHash(sequence: Int64, previousHash: [UInt8], body: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: domain)
        withUnsafeBytes(of: UInt64(sequence).bigEndian) { h.update(bufferPointer: $0) }
        h.update(data: previousHash)
        h.update(data: body)
        return Array(h.finalize())
    }

    /// Chains a new record after `previousHash` (what a store does inside its append transaction).
    public init(sequence: Int64, previousHash: [UInt8], draft: AuditDraft) throws(KeyReleaseError) {
        let body = try draft.canonicalBody()
        self.sequence = sequence
        self.previousHash = previousHash
        self.body = body
        self.draft = draft
        self.hash = Self.computeHash(sequence: sequence, previousHash: previousHash, body: body)
    }

    /// A record as read back from a store; the hash is taken as stored (``AuditChain`` checks it).
    /// Throws `.storeCorrupt` when the body does not decode.
    public init(sequence: Int64, previousHash: [UInt8], hash: [UInt8], body: [UInt8]) throws(KeyReleaseError) {
        do { draft = try JSONDecoder().decode(AuditDraft.self, from: Data(body)) } catch {
            throw KeyReleaseError(.storeCorrupt, "audit record \(sequence) has a body that does not decode")
        }
        self.sequence = sequence
        self.previousHash = previousHash
        self.hash = hash
        self.body = body
    }

    /// Whether the stored hash matches the contents.
    public var hashIsConsistent: Bool { Self.computeHash(sequence: sequence, previousHash: previousHash, body: body) == hash }
}
