/// The TEE platforms whose evidence this library verifies: the one platform type of the
/// package (evidence bundles, policies, reports, the CLI's `--platform`).
public enum Platform: String, Sendable, Hashable, CaseIterable, Codable {
    /// Intel TDX (a DCAP quote).
    case tdx
    /// AMD SEV-SNP (an attestation report, or an Azure HCL report around one).
    case snp
    /// TPM 2.0 (a quote with its attestation key and PCR values).
    case tpm
}
