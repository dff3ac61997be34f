/// Intel TDX: DCAP quote parsing (`TDX.Quote`), verification (`TDX.QuoteVerifier`) and
/// validation (`TDX.Validator`).
public enum TDX {
    /// TEE type of a TDX quote header.
    public static let teeTypeTDX: UInt32 = 0x81
    /// TEE type of an SGX quote header.
    public static let teeTypeSGX: UInt32 = 0
    /// ECDSA-256-with-P-256 attestation key type.
    public static let attestationKeyTypeECDSAP256: UInt16 = 2
    /// Intel's QE vendor ID.
    public static let intelQEVendorID: FixedBytes<16> = try! FixedBytes(hex: "939a7233f79c4ca9940a0db3957f0607")
}
