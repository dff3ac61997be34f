extension SEVSNP {
    /// A parsed SEV-SNP attestation report (AMD SEV-SNP ABI spec, table "ATTESTATION_REPORT"),
    /// versions 2 to 5, 1184 bytes.
    ///
    /// Parsing goes by the fixed layout: bytes after the 1184th are ignored, and every shorter
    /// input throws ``AttestationError/Code/truncated``. Parsing checks structure only; nothing
    /// here is trusted until ``ReportVerifier`` says so.
    public struct Report: Sendable {
        /// Report format version (2, 3, 4 or 5).
        public let version: UInt32
        /// The guest's SVN (GUEST_SVN), from its ID block.
        public let guestSVN: UInt32
        /// The guest policy the VM was launched with.
        public let policy: GuestPolicy
        /// FAMILY_ID from the ID block (16 bytes).
        public let familyID: FixedBytes<16>
        /// IMAGE_ID from the ID block (16 bytes).
        public let imageID: FixedBytes<16>
        /// The VMPL the report was requested from (0–3).
        public let vmpl: UInt32
        /// SIGNATURE_ALGO: 1 is ECDSA P-384 with SHA-384, the only one defined.
        public let signatureAlgorithm: UInt32
        /// CURRENT_TCB: the TCB the platform runs now (may be above ``reportedTCB``).
        public let currentTCB: TCBVersion
        /// PLATFORM_INFO (SMT enabled bit 0, TSME bit 1, …).
        public let platformInfo: UInt64
        /// SIGNER_INFO: which key signed, whether CHIP_ID is masked, whether an author key exists.
        public let signerInfo: SignerInfo
        /// REPORT_DATA (64 bytes) supplied by the guest, at 0x50.
        public let reportData: FixedBytes<64>
        /// MEASUREMENT (SHA-384 launch digest), at 0x90.
        public let measurement: FixedBytes<48>
        /// HOST_DATA (32 bytes) supplied by the host at launch, at 0xC0.
        public let hostData: FixedBytes<32>
        /// SHA-384 of the ID key that signed the ID block (zero without one), at 0xE0.
        public let idKeyDigest: FixedBytes<48>
        /// SHA-384 of the author key that certified the ID key (zero without one), at 0x110.
        public let authorKeyDigest: FixedBytes<48>
        /// REPORT_ID (32 bytes), the guest's identifier for this launch.
        public let reportID: FixedBytes<32>
        /// REPORT_ID_MA (32 bytes), the migration agent's report ID.
        public let reportIDMA: FixedBytes<32>
        /// REPORTED_TCB at 0x180: the TCB the VCEK was derived for, the one its extensions state.
        public let reportedTCB: TCBVersion
        /// CPUID family (v3+, 0 before).
        public let cpuidFamilyID: UInt8
        /// CPUID model (v3+, 0 before).
        public let cpuidModelID: UInt8
        /// CPUID stepping (v3+, 0 before).
        public let cpuidStepping: UInt8
        /// CHIP_ID (64 bytes) at 0x1A0; zero when MASK_CHIP_ID is set or a VLEK signs.
        public let chipID: FixedBytes<64>
        /// COMMITTED_TCB at 0x1E0.
        public let committedTCB: TCBVersion
        /// Running firmware version (build, minor, major).
        public let currentBuild: UInt8, currentMinor: UInt8, currentMajor: UInt8
        /// Committed firmware version (build, minor, major).
        public let committedBuild: UInt8, committedMinor: UInt8, committedMajor: UInt8
        /// LAUNCH_TCB at 0x1F0: the TCB when the guest was launched.
        public let launchTCB: TCBVersion
        /// Signature R, 72 bytes little-endian as in the report (0x2A0).
        public let signatureR: FixedBytes<72>
        /// Signature S, 72 bytes little-endian as in the report (0x2E8).
        public let signatureS: FixedBytes<72>
        /// The signed bytes 0x000–0x29F.
        public let signedBytes: [UInt8]
        /// The report's own 1184 bytes.
        public let rawRepresentation: [UInt8]

        /// The product the CPUID fields name (v3+), or nil for v2 reports or unknown CPUs.
        public var product: Product? {
            version >= 3 ? Product(family: cpuidFamilyID, model: cpuidModelID) : nil
        }

        /// Parses a report from binary bytes, hex text (with or without `0x`) or base64 text.
        public init(bytesOrText data: [UInt8]) throws(AttestationError) {
            try self.init(rawRepresentation: try EvidenceEncoding.decode(data))
        }

        /// Parses a binary report. A version outside 2–5 throws
        /// ``AttestationError/Code/unsupportedVersion``; a SIGNATURE_ALGO other than 1 throws
        /// ``AttestationError/Code/malformed``.
        public init(rawRepresentation bytes: [UInt8]) throws(AttestationError) {
            guard bytes.count >= SEVSNP.reportSize else {
                throw AttestationError(.truncated, "SEV-SNP report needs \(SEVSNP.reportSize) bytes, got \(bytes.count)")
            }
            var r = ByteReader(bytes, end: SEVSNP.reportSize)
            version = try r.u32("VERSION")
            guard (2...5).contains(version) else {
                throw AttestationError(.unsupportedVersion, "SEV-SNP report version \(version) is not 2, 3, 4 or 5")
            }
            guestSVN = try r.u32("GUEST_SVN")
            policy = GuestPolicy(rawValue: try r.u64("POLICY"))
            familyID = try r.readFixed("FAMILY_ID")
            imageID = try r.readFixed("IMAGE_ID")
            vmpl = try r.u32("VMPL")
            signatureAlgorithm = try r.u32("SIGNATURE_ALGO")
            guard signatureAlgorithm == 1 else {
                throw AttestationError(.malformed, "SIGNATURE_ALGO \(signatureAlgorithm) is not 1 (ECDSA P-384 with SHA-384)")
            }
            let current: FixedBytes<8> = try r.readFixed("CURRENT_TCB")
            platformInfo = try r.u64("PLATFORM_INFO")
            signerInfo = SignerInfo(rawValue: try r.u32("SIGNER_INFO"))
            try r.skip(4, "reserved 0x4C")
            reportData = try r.readFixed("REPORT_DATA")
            measurement = try r.readFixed("MEASUREMENT")
            hostData = try r.readFixed("HOST_DATA")
            idKeyDigest = try r.readFixed("ID_KEY_DIGEST")
            authorKeyDigest = try r.readFixed("AUTHOR_KEY_DIGEST")
            reportID = try r.readFixed("REPORT_ID")
            reportIDMA = try r.readFixed("REPORT_ID_MA")
            let reported: FixedBytes<8> = try r.readFixed("REPORTED_TCB")
            let cpuid = try r.read(3, "CPUID_FAM_ID/CPUID_MOD_ID/CPUID_STEP")
            // Before v3 these bytes are reserved: read them as zero whatever they hold.
            (cpuidFamilyID, cpuidModelID, cpuidStepping) = version >= 3 ? (cpuid[0], cpuid[1], cpuid[2]) : (0, 0, 0)
            try r.skip(0x1A0 - 0x18B, "reserved 0x18B")
            chipID = try r.readFixed("CHIP_ID")
            let committed: FixedBytes<8> = try r.readFixed("COMMITTED_TCB")
            let fw = try r.read(8, "CURRENT/COMMITTED version")
            (currentBuild, currentMinor, currentMajor) = (fw[0], fw[1], fw[2])
            (committedBuild, committedMinor, committedMajor) = (fw[4], fw[5], fw[6])
            let launch: FixedBytes<8> = try r.readFixed("LAUNCH_TCB")
            try r.skip(SEVSNP.signedSize - 0x1F8, "reserved 0x1F8")
            signatureR = try r.readFixed("SIGNATURE.R")
            signatureS = try r.readFixed("SIGNATURE.S")

            let turin = version >= 3 && Product(family: cpuidFamilyID, model: cpuidModelID) == .turin
            currentTCB = TCBVersion(raw: current, turin: turin)
            reportedTCB = TCBVersion(raw: reported, turin: turin)
            committedTCB = TCBVersion(raw: committed, turin: turin)
            launchTCB = TCBVersion(raw: launch, turin: turin)
            signedBytes = Array(bytes[0..<SEVSNP.signedSize])
            rawRepresentation = Array(bytes[0..<SEVSNP.reportSize])
        }
    }

    /// The guest policy (POLICY, u64) the VM was launched with.
    public struct GuestPolicy: Sendable, Hashable, Codable {
        /// The raw 64-bit value.
        public let rawValue: UInt64

        /// Wraps a raw POLICY value.
        public init(rawValue: UInt64) { self.rawValue = rawValue }

        /// Minimum ABI minor version (bits 0–7).
        public var abiMinor: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
        /// Minimum ABI major version (bits 8–15).
        public var abiMajor: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }
        /// SMT allowed (bit 16).
        public var smt: Bool { rawValue & (1 << 16) != 0 }
        /// Migration agent allowed (bit 18).
        public var migrateMA: Bool { rawValue & (1 << 18) != 0 }
        /// Debugging allowed (bit 19): the host can read and write guest memory.
        public var debug: Bool { rawValue & (1 << 19) != 0 }
        /// Single-socket only (bit 20).
        public var singleSocket: Bool { rawValue & (1 << 20) != 0 }

        /// Decodes from `{"raw": "0x…", "debug": …}`; only `raw` is read.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let text = try c.decode(String.self, forKey: .raw)
            guard let v = UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: .raw, in: c, debugDescription: "POLICY is not hex")
            }
            rawValue = v
        }

        /// Encodes `raw` as `0x` and 16 lowercase hex digits, with the flags beside it.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            let digits = String(rawValue, radix: 16)
            try c.encode("0x" + String(repeating: "0", count: 16 - digits.count) + digits, forKey: .raw)
            try c.encode(debug, forKey: .debug)
            try c.encode(smt, forKey: .smt)
            try c.encode(migrateMA, forKey: .migrateMA)
            try c.encode(Int(abiMajor), forKey: .abiMajor)
            try c.encode(Int(abiMinor), forKey: .abiMinor)
        }

        private enum CodingKeys: String, CodingKey { case raw, debug, smt, migrateMA, abiMajor, abiMinor }
    }

    /// SIGNER_INFO (u32 at 0x48).
    public struct SignerInfo: Sendable, Hashable {
        /// The raw 32-bit value.
        public let rawValue: UInt32

        /// Wraps a raw SIGNER_INFO value.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// SIGNING_KEY (bits 2–4): 0 VCEK, 1 VLEK, 7 none; other values reserved.
        public var signingKeyField: UInt8 { UInt8((rawValue >> 2) & 0x7) }
        /// The signing key, or nil when SIGNING_KEY is "none" or reserved.
        public var signingKey: SigningKey? {
            switch signingKeyField {
            case 0: .vcek
            case 1: .vlek
            default: nil
            }
        }
        /// MASK_CHIP_KEY (bit 1): the chip key is masked and the signature is all zeros.
        public var maskChipKey: Bool { rawValue & 0x2 != 0 }
        /// AUTHOR_KEY_EN (bit 0): AUTHOR_KEY_DIGEST is present.
        public var authorKeyEnabled: Bool { rawValue & 0x1 != 0 }
    }
}
