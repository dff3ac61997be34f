import Foundation

extension SEVSNP {
    /// A report whose signature, certificate chain and VCEK/VLEK bindings have all been checked
    /// at a given instant.
    ///
    /// Only ``ReportVerifier`` creates one. "Verified" means authentic, not acceptable: whether
    /// debug, the measurement or the TCB are acceptable is ``Validator``'s (or a policy's) decision.
    public struct VerifiedReport: Sendable {
        /// The report.
        public let report: Report
        /// The product of the pinned ARK the chain ends at.
        public let product: Product
        /// Which key signed the report.
        public let signingKey: SigningKey
        /// The AMD extensions of the VCEK/VLEK that signed it.
        public let endorsementKeyExtensions: VCEKExtensions
        /// The instant the verification was done for.
        public let verifiedAt: Date
        /// The earliest expiry among the certificates (and CRLs) used: after this instant the
        /// same report no longer verifies.
        public let validUntil: Date

        init(report: Report, product: Product, signingKey: SigningKey, endorsementKeyExtensions: VCEKExtensions, verifiedAt: Date, validUntil: Date) {
            self.report = report
            self.product = product
            self.signingKey = signingKey
            self.endorsementKeyExtensions = endorsementKeyExtensions
            self.verifiedAt = verifiedAt
            self.validUntil = validUntil
        }

        /// The claims of the guest, for policy and display.
        public var claims: Claims { Claims(verified: self) }
    }

    /// What a verified SEV-SNP report says about the guest, in the spec's words. Byte strings
    /// encode as lowercase hex in JSON.
    public struct Claims: Sendable, Codable, Hashable {
        /// Report format version.
        public let version: Int
        /// MEASUREMENT (SHA-384 launch digest).
        public let measurement: FixedBytes<48>
        /// REPORT_DATA.
        public let reportData: FixedBytes<64>
        /// HOST_DATA.
        public let hostData: FixedBytes<32>
        /// POLICY (raw, with the debug flag and the other bits decoded).
        public let policy: GuestPolicy
        /// Whether POLICY allows debugging (bit 19).
        public let debug: Bool
        /// REPORTED_TCB, which the VCEK certifies.
        public let reportedTCB: TCBVersion
        /// CURRENT_TCB.
        public let currentTCB: TCBVersion
        /// CHIP_ID (zero for VLEK-signed or chip-masked reports).
        public let chipID: FixedBytes<64>
        /// FAMILY_ID.
        public let familyID: FixedBytes<16>
        /// IMAGE_ID.
        public let imageID: FixedBytes<16>
        /// ID_KEY_DIGEST.
        public let idKeyDigest: FixedBytes<48>
        /// GUEST_SVN.
        public let guestSVN: UInt32
        /// VMPL.
        public let vmpl: UInt32
        /// VCEK or VLEK. Always set once verified; in unverified claims, nil when SIGNING_KEY
        /// names neither.
        public let signingKey: SigningKey?
        /// Milan, Genoa or Turin. Always set once verified (the pinned ARK's product); in
        /// unverified claims, the product the report's CPUID names (nil for version 2 reports).
        public let product: Product?

        /// The claims a report states before (or without) verification: its own fields, the
        /// signing key its SIGNER_INFO names and the product its CPUID names. Nothing here is
        /// vouched for: show them marked unverified, never judge them.
        public init(unverified r: Report) {
            self.init(report: r, signingKey: r.signerInfo.signingKey, product: r.product)
        }

        init(verified v: VerifiedReport) {
            self.init(report: v.report, signingKey: v.signingKey, product: v.product)
        }

        private init(report r: Report, signingKey: SigningKey?, product: Product?) {
            version = Int(r.version)
            measurement = r.measurement
            reportData = r.reportData
            hostData = r.hostData
            policy = r.policy
            debug = r.policy.debug
            reportedTCB = r.reportedTCB
            currentTCB = r.currentTCB
            chipID = r.chipID
            familyID = r.familyID
            imageID = r.imageID
            idKeyDigest = r.idKeyDigest
            guestSVN = r.guestSVN
            vmpl = r.vmpl
            self.signingKey = signingKey
            self.product = product
        }
    }
}
