import ByteEncoding
import Foundation

/// Every piece of one platform's evidence in one JSON document, so it can be verified, stored and
/// sent over HTTP as a unit. Format `licen-evidence/v1`, documented in `Docs/evidence-bundle.md`.
///
/// Binary fields are base64 (JSON `Data`), hashes and nonces lowercase hex. A bundle is only
/// transport: nothing in it is trusted until the platform's verifier checks it.
public struct EvidenceBundle: Codable, Sendable, Hashable {
    /// The format tag every bundle carries.
    public static let formatTag = "licen-evidence/v1"

    /// The TPM pieces.
    public struct TPMEvidence: Codable, Sendable, Hashable {
        /// TPMS_ATTEST bytes (the signed quote).
        public var attest: Data
        /// TPMT_SIGNATURE bytes.
        public var signature: Data
        /// The AK: TPMT_PUBLIC, TPM2B_PUBLIC, or a PEM/DER SubjectPublicKeyInfo.
        public var akPublic: Data
        /// PCR values presented with the quote: `{bank: {index: hex}}`.
        public var pcrs: [String: [String: String]]
        /// The AK certificate chain (DER or PEM each), leaf first, if any.
        public var akCertificates: [Data]?
        /// The qualified name (hex) of the AK's parent, when the AK is not a primary object of a
        /// hierarchy: the quote's qualifiedSigner must be H(parent QN ‖ AK name).
        public var akParentQualifiedName: String?

        /// Creates the TPM pieces.
        public init(attest: Data, signature: Data, akPublic: Data, pcrs: [String: [String: String]], akCertificates: [Data]? = nil, akParentQualifiedName: String? = nil) {
            self.attest = attest
            self.signature = signature
            self.akPublic = akPublic
            self.pcrs = pcrs
            self.akCertificates = akCertificates
            self.akParentQualifiedName = akParentQualifiedName
        }

        /// Creates the TPM pieces from files as tpm2-tools writes them; `pcrFile` is JSON
        /// `{bank: {index: hex}}` or tpm2-tools' binary PCR output (``TPM/pcrValues(parsing:)``).
        public init(attest: Data, signature: Data, akPublic: Data, pcrFile: Data, akCertificates: [Data]? = nil) throws(AttestationError) {
            self.init(
                attest: attest, signature: signature, akPublic: akPublic, pcrs: try TPM.pcrValues(parsing: [UInt8](pcrFile)),
                akCertificates: akCertificates.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// Always ``formatTag``.
    public var format: String
    /// `tdx`, `snp` or `tpm`.
    public var platform: Platform
    /// The nonce the evidence binds (hex), if any.
    public var nonce: String?
    /// When the producer says it collected the evidence (a claim, not a fact: the key-release
    /// service uses the time it issued the nonce instead).
    public var collectedAt: Date?
    /// TDX quote or SNP report bytes; for TPM evidence, an Azure HCL report whose verified
    /// runtime data names the AK (the hardware anchor of a cloud vTPM).
    public var report: Data?
    /// TDX collateral files or SNP certificates (VCEK/VLEK, ASK/ASVK, ARK), by file name.
    public var collateral: [String: Data]?
    /// TPM pieces.
    public var tpm: TPMEvidence?
    /// Event log: TCG crypto-agile (TPM, TDX CCEL).
    public var eventLog: Data?
    /// SNP: the workload manifest whose SHA-256 is HOST_DATA.
    public var workloadManifest: Data?

    /// Creates a bundle.
    public init(
        platform: Platform, nonce: String? = nil, collectedAt: Date? = nil, report: Data? = nil, collateral: [String: Data]? = nil,
        tpm: TPMEvidence? = nil, eventLog: Data? = nil, workloadManifest: Data? = nil
    ) {
        self.format = Self.formatTag
        self.platform = platform
        self.nonce = nonce
        self.collectedAt = collectedAt
        self.report = report
        self.collateral = collateral
        self.tpm = tpm
        self.eventLog = eventLog
        self.workloadManifest = workloadManifest
    }

    /// Parses a bundle. Throws ``AttestationError/Code/malformed`` if it is not a v1 bundle.
    public init(json: Data) throws(AttestationError) {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { self = try d.decode(Self.self, from: json) } catch {
            throw AttestationError(.malformed, "not an evidence bundle: \(ErrorDescription.describe(error))")
        }
        guard format == Self.formatTag else { throw AttestationError(.malformed, "evidence bundle format \(format) is not \(Self.formatTag)") }
    }

    /// The bundle as pretty, key-sorted JSON.
    public var json: Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return (try? e.encode(self)) ?? Data()
    }

    /// Whether `bytes` should be read as a bundle: a JSON object (no quote or report format
    /// starts with `{`), which ``init(json:)`` then accepts or rejects.
    public static func looksLikeBundle(_ bytes: [UInt8]) -> Bool {
        bytes.first(where: { !Hex.isSpace($0) }) == UInt8(ascii: "{")
    }
}
