import Attestation
import ByteEncoding
import Chain
import Crypto
import EVMCrypto
import Foundation

/// `GET /v1/challenge` response.
public struct ChallengeResponse: Codable, Sendable, Hashable {
    /// 32 random bytes, `0x`-hex.
    public let nonce: String
    /// ISO 8601 instant after which the nonce is refused.
    public let expiresAt: String
}

/// The dispatch ticket as sent in a release request (see ``DispatchTicket``).
public struct DispatchTicketMessage: Codable, Sendable, Hashable {
    /// `0x`-hex job id; must equal the request's.
    public var jobId: String
    /// `0x`-hex dataset root; must equal the request's.
    public var datasetRoot: String
    /// The node's address; must be the address of the request's `signerPublicKey`.
    public var node: String
    /// Unix seconds.
    public var expiry: UInt64
    /// `0x`-hex 65-byte EIP-712 signature by the job's on-chain provider.
    public var signature: String

    /// Creates a message.
    public init(jobId: String, datasetRoot: String, node: String, expiry: UInt64, signature: String) {
        self.jobId = jobId
        self.datasetRoot = datasetRoot
        self.node = node
        self.expiry = expiry
        self.signature = signature
    }

    /// Signs `ticket` (the coordinator's side).
    public init(signing ticket: DispatchTicket, with key: Secp256k1.PrivateKey, chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) {
        self.init(jobId: Hex.prefixed(ticket.jobID), datasetRoot: Hex.prefixed(ticket.datasetRoot), node: ticket.node.checksummed,
                  expiry: ticket.expiry, signature: Hex.prefixed(try ticket.sign(with: key, chainID: chainID, dataPolicy: dataPolicy)))
    }
}

/// `POST /v1/release` body.
public struct ReleaseRequest: Codable, Sendable, Hashable {
    /// `0x`-hex bytes32 job id.
    public var jobId: String
    /// `0x`-hex bytes32 0G root of the encrypted dataset.
    public var datasetRoot: String
    /// The TEE's evidence bundle (`licen-evidence/v1`).
    public var evidence: EvidenceBundle
    /// `0x`-hex 32-byte X25519 public key to seal the key to.
    public var hpkePublicKey: String
    /// `0x`-hex secp256k1 public key (33 or 65 bytes) that will sign the result manifest.
    public var signerPublicKey: String
    /// `0x`-hex nonce from `GET /v1/challenge`.
    public var nonce: String
    /// The coordinator's dispatch ticket.
    public var ticket: DispatchTicketMessage
    /// `0x`-hex 65-byte signature by `signerPublicKey` over ``possessionMessage(binding:)``:
    /// proof that the requester holds the key the ticket names (checked before the ticket).
    public var signerProof: String

    /// Creates a request.
    public init(jobId: String, datasetRoot: String, evidence: EvidenceBundle, hpkePublicKey: String, signerPublicKey: String, nonce: String,
                ticket: DispatchTicketMessage, signerProof: String) {
        self.jobId = jobId
        self.datasetRoot = datasetRoot
        self.evidence = evidence
        self.hpkePublicKey = hpkePublicKey
        self.signerPublicKey = signerPublicKey
        self.nonce = nonce
        self.ticket = ticket
        self.signerProof = signerProof
    }

    /// The EIP-191 message the signer key signs: `licen-keyrelease-v1 possession\n` and the
    /// binding's REPORTDATA in hex (it hashes the nonce, the job, the HPKE key and the signer key).
    public static func possessionMessage(binding: ReleaseBinding) -> [UInt8] {
        Array("licen-keyrelease-v1 possession\n\(Hex.prefixed(binding.reportData))".utf8)
    }

    /// The signer key's proof of possession for `binding` (the node's side).
    public static func proof(binding: ReleaseBinding, signer: Secp256k1.PrivateKey) throws(EVMCryptoError) -> String {
        Hex.prefixed(try signer.signature(forDigest: MessageSigning.personalMessageHash(possessionMessage(binding: binding))).rawRepresentation)
    }

    /// The decoder for release bodies (bundle dates are ISO 8601).
    public static func decode(_ body: some DataProtocol) throws(KeyReleaseError) -> ReleaseRequest {
        try strictJSON(body, "release request")
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { return try d.decode(ReleaseRequest.self, from: Data(body)) } catch {
            throw KeyReleaseError(.badRequest, "the body is not a release request: \(TDX.SignedDocument<TDX.QEIdentity>.describe(error))")
        }
    }
}

/// A release request with every field decoded and size-checked.
struct ParsedReleaseRequest: Sendable {
    let jobID: [UInt8]
    let datasetRoot: [UInt8]
    let hpkeKeyBytes: [UInt8]
    let signerKey: Secp256k1.PublicKey
    let signerKeyBytes: [UInt8]
    let nonce: [UInt8]
    let ticket: DispatchTicket
    let ticketJobID: [UInt8]
    let ticketDatasetRoot: [UInt8]
    let ticketSignature: [UInt8]
    let evidence: EvidenceBundle
    let evidenceDigest: [UInt8]
    let signerProof: [UInt8]

    /// The HPKE recipient key (swift-crypto's key type is not Sendable, so it is built on use).
    var hpkeKey: Curve25519.KeyAgreement.PublicKey {
        get throws(KeyReleaseError) { try Self.x25519(hpkeKeyBytes) }
    }

    private static func x25519(_ bytes: [UInt8]) throws(KeyReleaseError) -> Curve25519.KeyAgreement.PublicKey {
        do { return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes) } catch {
            throw KeyReleaseError(.badRequest, "hpkePublicKey is not an X25519 public key")
        }
    }

    /// Refuses low-order X25519 public keys (RFC 9180 §7.1.4, RFC 7748 §6.1): the key agreement
    /// with any private key is all zero, so the sealed key would open without one. X25519
    /// clamps every scalar to a multiple of the cofactor 8, so a point of order 1, 2, 4 or 8
    /// (in either encoding, including non-canonical ones) gives the all-zero output for every
    /// private key: one agreement with a throwaway key tells them all apart.
    static func checkNotLowOrder(_ key: Curve25519.KeyAgreement.PublicKey) throws(KeyReleaseError) {
        let probe = Curve25519.KeyAgreement.PrivateKey()
        let shared: [UInt8]
        do { shared = try probe.sharedSecretFromKeyAgreement(with: key).withUnsafeBytes { Array($0) } } catch {
            throw KeyReleaseError(.hpkeKeyWeak, "hpkePublicKey is a low-order X25519 point")
        }
        guard shared.contains(where: { $0 != 0 }) else { throw KeyReleaseError(.hpkeKeyWeak, "hpkePublicKey is a low-order X25519 point") }
    }

    var binding: ReleaseBinding { ReleaseBinding(nonce: nonce, jobID: jobID, hpkePublicKey: hpkeKeyBytes, signerPublicKey: signerKeyBytes) }

    init(_ r: ReleaseRequest) throws(KeyReleaseError) {
        jobID = try Self.hex(r.jobId, "jobId", count: 32)
        datasetRoot = try Self.hex(r.datasetRoot, "datasetRoot", count: 32)
        hpkeKeyBytes = try Self.hex(r.hpkePublicKey, "hpkePublicKey", count: 32)
        try Self.checkNotLowOrder(try Self.x25519(hpkeKeyBytes))
        signerKeyBytes = try Self.hex(r.signerPublicKey, "signerPublicKey", count: nil)
        do { signerKey = try Secp256k1.PublicKey(bytes: signerKeyBytes) } catch {
            throw KeyReleaseError(.badRequest, "signerPublicKey is not a secp256k1 public key (33 or 65 bytes)")
        }
        nonce = try Self.hex(r.nonce, "nonce", count: 32)
        ticketJobID = try Self.hex(r.ticket.jobId, "ticket.jobId", count: 32)
        ticketDatasetRoot = try Self.hex(r.ticket.datasetRoot, "ticket.datasetRoot", count: 32)
        ticketSignature = try Self.hex(r.ticket.signature, "ticket.signature", count: 65)
        let node: Address
        do { node = try Address(r.ticket.node) } catch { throw KeyReleaseError(.badRequest, "ticket.node is not an address") }
        ticket = DispatchTicket(jobID: ticketJobID, datasetRoot: ticketDatasetRoot, node: node, expiry: r.ticket.expiry)
        signerProof = try Self.hex(r.signerProof, "signerProof", count: 65)
        evidence = r.evidence
        guard evidence.format == EvidenceBundle.formatTag else {
            throw KeyReleaseError(.badRequest, "evidence.format is not \(EvidenceBundle.formatTag)")
        }
        evidenceDigest = Array(SHA256.hash(data: (try? CanonicalJSON.encode(r.evidence)) ?? Data()))
    }

    static func hex(_ text: String, _ field: String, count: Int?) throws(KeyReleaseError) -> [UInt8] {
        guard let b = try? Hex.decode(text) else { throw KeyReleaseError(.badRequest, "\(field) is not hex") }
        if let count, b.count != count { throw KeyReleaseError(.badRequest, "\(field) has \(b.count) bytes, not \(count)") }
        return b
    }
}

/// The one JSON form the service hashes and serves: sorted keys, unescaped slashes, ISO 8601
/// dates, no whitespace (audit bodies, evidence digests, response bodies).
enum CanonicalJSON {
    static func encode(_ value: some Encodable) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(value)
    }
}

/// `POST /v1/release` success body.
public struct ReleaseResponse: Codable, Sendable, Hashable {
    /// `0x`-hex job id.
    public let jobId: String
    /// `0x`-hex dataset root.
    public let datasetRoot: String
    /// `0x`-hex hash of the audit record (bytes32 for `confirmTrainingComplete`).
    public let attestationRef: String
    /// The HPKE-sealed key ‖ IV.
    public let sealedKey: SealedDatasetKey
    /// The HPKE suite, for the record: `DHKEM(X25519, HKDF-SHA256)/HKDF-SHA256/AES-256-GCM`.
    public let hpkeSuite: String
    /// The request id.
    public let requestId: String
}

/// `POST /v1/escrow` body: an owner's envelope for one dataset.
public struct EscrowUpload: Codable, Sendable, Hashable {
    /// `0x`-hex bytes32 dataset root.
    public var datasetRoot: String
    /// `0x`-hex 105-byte envelope sealed to the escrow key.
    public var envelope: String
    /// The owner's version of this upload, 1 or more, signed with it: the service keeps an
    /// upload only if its version is greater than the stored one's (no rollback by replay).
    public var version: UInt64
    /// `0x`-hex 65-byte EIP-191 signature of ``message(datasetRoot:envelope:version:)`` by the owner.
    public var signature: String

    /// Creates an upload.
    public init(datasetRoot: String, envelope: String, version: UInt64, signature: String) {
        self.datasetRoot = datasetRoot
        self.envelope = envelope
        self.version = version
        self.signature = signature
    }

    /// The text the owner signs (EIP-191 personal message):
    /// `licen-keyrelease-v1 escrow\ndatasetRoot: 0x…\nversion: N\nenvelopeSHA256: 0x…`.
    public static func message(datasetRoot: [UInt8], envelope: [UInt8], version: UInt64) -> [UInt8] {
        Array("licen-keyrelease-v1 escrow\ndatasetRoot: \(Hex.prefixed(datasetRoot))\nversion: \(version)\nenvelopeSHA256: \(Hex.prefixed(SHA256.hash(data: envelope)))".utf8)
    }

    /// Builds a signed upload (the owner's side).
    public static func signed(datasetRoot: [UInt8], envelope: [UInt8], version: UInt64, owner: Secp256k1.PrivateKey) throws(EVMCryptoError) -> EscrowUpload {
        let sig = try owner.signature(forDigest: MessageSigning.personalMessageHash(message(datasetRoot: datasetRoot, envelope: envelope, version: version)))
        return EscrowUpload(datasetRoot: Hex.prefixed(datasetRoot), envelope: Hex.prefixed(envelope), version: version, signature: Hex.prefixed(sig.rawRepresentation))
    }
}

/// Every error body: the code and the request id, nothing internal.
public struct ErrorBody: Codable, Sendable, Hashable {
    /// ``KeyReleaseError/Code`` raw value.
    public let code: String
    /// The request id (find the detail in the logs and the audit record).
    public let requestId: String
}

/// `GET /v1/escrow-key` body.
public struct EscrowKeyResponse: Codable, Sendable, Hashable {
    /// `0x`-hex compressed secp256k1 public key owners seal envelopes to.
    public let publicKey: String
    /// The same key uncompressed (65 bytes).
    public let publicKeyUncompressed: String
}

/// `GET /v1/audit/{ref}` body: the public record.
public struct AuditRecordResponse: Codable, Sendable, Hashable {
    /// Position in the chain.
    public let sequence: Int64
    /// `0x`-hex hash (the attestationRef).
    public let hash: String
    /// `0x`-hex previous hash.
    public let previousHash: String
    /// The canonical body exactly as hashed (a JSON text).
    public let body: String
    /// The body decoded.
    public let record: AuditDraft

    /// Renders a stored record.
    public init(_ r: AuditRecord) {
        sequence = r.sequence
        hash = Hex.prefixed(r.hash)
        previousHash = Hex.prefixed(r.previousHash)
        body = String(decoding: r.body, as: UTF8.self)
        record = r.draft
    }
}

/// Refuses bodies that are not strict RFC 8259 JSON, or that give one key twice: Foundation's
/// decoder would silently keep one of the two values, so a signature or a check could see a
/// value the decision does not use.
func strictJSON(_ body: some DataProtocol, _ what: String) throws(KeyReleaseError) {
    do { _ = try JSONValue(parsing: Array(body)) } catch { throw KeyReleaseError(.badRequest, "the \(what) is not strict JSON: \(error.message)") }
}
