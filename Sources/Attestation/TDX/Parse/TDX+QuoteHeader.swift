extension TDX {
    /// The 48-byte DCAP quote header (v4 and v5).
    public struct QuoteHeader: Sendable, Hashable {
        /// Size of the header in bytes.
        public static let size = 48
        /// Quote format version (4 or 5 for TDX).
        public let version: UInt16
        /// Attestation key type (2: ECDSA-256-with-P-256).
        public let attestationKeyType: UInt16
        /// TEE type (0x81: TDX, 0: SGX).
        public let teeType: UInt32
        /// QE security version (reserved in TDX quotes, usually 0).
        public let qeSVN: UInt16
        /// PCE security version (reserved in TDX quotes, usually 0).
        public let pceSVN: UInt16
        /// QE vendor ID (Intel: 939a7233f79c4ca9940a0db3957f0607).
        public let qeVendorID: FixedBytes<16>
        /// Vendor-defined user data (for Intel's QE, the first 16 bytes are the QE ID).
        public let userData: FixedBytes<20>

        init(reading r: inout ByteReader) throws(AttestationError) {
            version = try r.u16("header.version")
            attestationKeyType = try r.u16("header.attestationKeyType")
            teeType = try r.u32("header.teeType")
            qeSVN = try r.u16("header.qeSVN")
            pceSVN = try r.u16("header.pceSVN")
            qeVendorID = try r.readFixed("header.qeVendorID")
            userData = try r.readFixed("header.userData")
        }
    }
}
