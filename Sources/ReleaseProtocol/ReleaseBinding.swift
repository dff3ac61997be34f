import Crypto

/// What a TEE's evidence must bind for a release (Docs/protocol.md):
/// `report_data = SHA-512("licen-keyrelease-v1" ‖ nonce ‖ jobId ‖ hpkePublicKey ‖ signerPublicKey)`,
/// 64 bytes, the whole REPORTDATA of a TDX quote or SEV-SNP report. A TPM quote carries the first
/// 32 bytes as extraData (qualifyingData is at most a digest long).
public struct ReleaseBinding: Sendable, Hashable {
    /// The domain separator.
    public static let domain = Array("licen-keyrelease-v1".utf8)

    /// The 32-byte nonce from `GET /v1/challenge`.
    public let nonce: [UInt8]
    /// The 32-byte on-chain job id.
    public let jobID: [UInt8]
    /// The 32-byte X25519 public key the key is sealed to.
    public let hpkePublicKey: [UInt8]
    /// The secp256k1 public key (33 bytes compressed or 65 uncompressed, as sent) that signs the
    /// result manifest.
    public let signerPublicKey: [UInt8]

    /// The 64-byte value TDX and SEV-SNP evidence must carry as REPORTDATA (hashed once, here).
    public let reportData: [UInt8]

    /// Creates the binding of one release request.
    public init(nonce: [UInt8], jobID: [UInt8], hpkePublicKey: [UInt8], signerPublicKey: [UInt8]) {
        self.nonce = nonce
        self.jobID = jobID
        self.hpkePublicKey = hpkePublicKey
        self.signerPublicKey = signerPublicKey
        var h = SHA512()
        h.update(data: Self.domain)
        h.update(data: nonce)
        h.update(data: jobID)
        h.update(data: hpkePublicKey)
        h.update(data: signerPublicKey)
        reportData = Array(h.finalize())
    }

    /// The 32-byte value a TPM quote must carry as extraData (the first half of ``reportData``).
    public var tpmExtraData: [UInt8] { Array(reportData.prefix(32)) }
}
