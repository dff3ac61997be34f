import ByteEncoding
import Crypto
import Foundation

/// Evidence of any platform that has passed verification (signatures, chains, collateral), not
/// yet judged: ``QuoteVerification/report(_:)`` or a policy decides.
public enum VerifiedEvidence: Sendable {
    /// A verified TDX quote.
    case tdx(TDX.VerifiedQuote)
    /// A verified SEV-SNP report, with the workload its HOST_DATA binds, if the bundle carried
    /// the manifest.
    case snp(SEVSNP.VerifiedReport, workload: Workload?)
    /// A verified TPM quote.
    case tpm(TPM.VerifiedQuote)

    /// What a workload identity shows: container image digests and training-code hashes.
    public struct Workload: Sendable, Hashable, Codable {
        /// Image digests (`sha256:<hex>`).
        public var imageDigests: [String]
        /// Code hashes (`sha256:<hex>`).
        public var codeHashes: [String]

        /// Creates a workload identity.
        public init(imageDigests: [String], codeHashes: [String]) {
            self.imageDigests = imageDigests
            self.codeHashes = codeHashes
        }

        /// Reads an SNP workload manifest `{"imageDigest": "sha256:…", "codeHash": "sha256:…"}`
        /// after checking that its SHA-256 is HOST_DATA: only then does the signed report vouch
        /// for it. Throws ``AttestationError/Code/hostDataMismatch`` or
        /// ``AttestationError/Code/malformed``.
        public init(snpManifest: [UInt8], hostData: FixedBytes<32>) throws(AttestationError) {
            let digest = Array(SHA256.hash(data: snpManifest))
            guard digest == hostData.bytes else {
                throw AttestationError(.hostDataMismatch, "SHA-256 of the workload manifest is \(Hex.encode(digest)), HOST_DATA is \(hostData.hex)")
            }
            let json: JSONValue
            do { json = try JSONValue(parsing: snpManifest) } catch {
                throw AttestationError(.malformed, "workload manifest: \(error.message)")
            }
            guard let image = json["imageDigest"]?.string, let code = json["codeHash"]?.string,
                Self.isDigest(image), Self.isDigest(code)
            else {
                throw AttestationError(.malformed, "workload manifest must be {\"imageDigest\": \"sha256:<64 hex>\", \"codeHash\": \"sha256:<64 hex>\"}")
            }
            self.init(imageDigests: [image], codeHashes: [code])
        }

        static func isDigest(_ s: String) -> Bool {
            s.hasPrefix("sha256:") && s.utf8.count == 71 && s.utf8.dropFirst(7).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
    }

    /// The workload identity the evidence vouches for: the SNP manifest bound by HOST_DATA, or
    /// the workload events of a replayed event log (TDX RTMR3, TPM PCR 23); nil when none came.
    public var workload: Workload? {
        switch self {
        case .tdx(let q): q.eventLog.map { Workload(imageDigests: $0.imageDigests, codeHashes: $0.codeHashes) }
        case .snp(_, let w): w
        case .tpm(let q): q.eventLog.map { Workload(imageDigests: $0.imageDigests, codeHashes: $0.codeHashes) }
        }
    }

    /// The policy's view of this evidence.
    public func policyInput(evidenceTime: Date?) -> PolicyInput {
        switch self {
        case .tdx(let q):
            return PolicyInput(tdx: q, evidenceTime: evidenceTime)
        case .snp(let r, let w):
            return PolicyInput(snp: r, evidenceTime: evidenceTime, imageDigests: w?.imageDigests, codeHashes: w?.codeHashes)
        case .tpm(let q):
            return PolicyInput(tpm: q, evidenceTime: evidenceTime)
        }
    }
}
