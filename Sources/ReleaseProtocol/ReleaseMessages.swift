import Attestation
import ByteEncoding
import Crypto
import EVMCrypto
import Foundation

/// `GET /v1/challenge` response.
public struct ChallengeResponse: Codable, Sendable, Hashable {
    /// 32 random bytes, `0x`-hex.
    public let nonce: String
    /// ISO 8601 instant after which the nonce is refused.
    public let expiresAt: String

    /// Creates a response.
    public init(nonce: String, expiresAt: String) {
        self.nonce = nonce
        self.expiresAt = expiresAt
    }
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
        self.init(
            jobId: Hex.prefixed(ticket.jobID), datasetRoot: Hex.prefixed(ticket.datasetRoot), node: ticket.node.checksummed,
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
    public init(
        jobId: String, datasetRoot: String, evidence: EvidenceBundle, hpkePublicKey: String, signerPublicKey: String, nonce: String,
        ticket: DispatchTicketMessage, signerProof: String
    ) {
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

    /// Creates a response.
    public init(jobId: String, datasetRoot: String, attestationRef: String, sealedKey: SealedDatasetKey, hpkeSuite: String, requestId: String) {
        self.jobId = jobId
        self.datasetRoot = datasetRoot
        self.attestationRef = attestationRef
        self.sealedKey = sealedKey
        self.hpkeSuite = hpkeSuite
        self.requestId = requestId
    }
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
    /// The service's error code (`KeyReleaseError.Code` raw value, listed in Docs/protocol.md).
    public let code: String
    /// The request id (find the detail in the logs and the audit record).
    public let requestId: String

    /// Creates a body.
    public init(code: String, requestId: String) {
        self.code = code
        self.requestId = requestId
    }
}

/// `GET /v1/escrow-key` body.
public struct EscrowKeyResponse: Codable, Sendable, Hashable {
    /// `0x`-hex compressed secp256k1 public key owners seal envelopes to.
    public let publicKey: String
    /// The same key uncompressed (65 bytes).
    public let publicKeyUncompressed: String

    /// Creates a body.
    public init(publicKey: String, publicKeyUncompressed: String) {
        self.publicKey = publicKey
        self.publicKeyUncompressed = publicKeyUncompressed
    }
}
