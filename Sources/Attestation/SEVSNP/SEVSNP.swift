/// AMD SEV-SNP: attestation report parsing (`SEVSNP.Report`, `SEVSNP.HCLReport`), verification
/// (`SEVSNP.ReportVerifier`) and validation (`SEVSNP.Validator`).
public enum SEVSNP {
    /// The size of an attestation report (ABI spec table "ATTESTATION_REPORT"), in bytes.
    public static let reportSize = 0x4A0
    /// End of the signed region: the signature covers bytes 0x000–0x29F.
    public static let signedSize = 0x2A0

    /// The AMD EPYC generation of a platform; picks the pinned ARK and the TCB layout.
    public enum Product: String, Sendable, Codable, CaseIterable, Hashable {
        /// EPYC 7003 (family 0x19, models 0x00–0x0F).
        case milan
        /// EPYC 9004/8004 (family 0x19, models 0x10–0x1F and 0xA0–0xAF).
        case genoa
        /// EPYC 9005 (family 0x1A).
        case turin

        /// The name AMD uses in certificate subjects ("Milan", "Genoa", "Turin").
        public var amdName: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

        /// Parses AMD's capitalised name, as in "SEV-Milan" or "ARK-Genoa".
        init?(amdName: String) {
            guard let p = Product(rawValue: amdName.lowercased()) else { return nil }
            self = p
        }

        /// The product for a CPUID family and model (from v3+ reports), or nil when unknown.
        public init?(family: UInt8, model: UInt8) {
            switch (family, model) {
            case (0x19, 0x00...0x0F): self = .milan
            case (0x19, 0x10...0x1F), (0x19, 0xA0...0xAF): self = .genoa
            case (0x1A, _): self = .turin
            default: return nil
            }
        }
    }

    /// Which key signed a report (SIGNER_INFO bits 2–4).
    public enum SigningKey: String, Sendable, Codable, Hashable {
        /// Versioned Chip Endorsement Key: unique to the chip and its TCB.
        case vcek
        /// Versioned Loaded Endorsement Key: issued to a cloud provider, not chip-specific.
        case vlek
    }
}
