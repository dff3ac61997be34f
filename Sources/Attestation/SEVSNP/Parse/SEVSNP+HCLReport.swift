import Crypto

extension SEVSNP {
    /// An Azure confidential-VM HCL report: an SEV-SNP report wrapped by the paravisor (HCL)
    /// together with the runtime data (a JSON document with the vTPM keys) whose hash the HCL put
    /// into REPORT_DATA.
    ///
    /// Layout (2600 bytes as read from the vTPM NV index): a 32-byte header (`HCLA` magic,
    /// version, report size, request type, status, reserved), the 1184-byte SNP report at offset
    /// 32, then at offset 1216 the IGVM request data: a 20-byte header (data size, version,
    /// report type, hash type, variable data size) followed by that many bytes of runtime JSON.
    /// Parsing goes by declared lengths; trailing padding is ignored.
    public struct HCLReport: Sendable {
        /// The `HCLA` magic at offset 0.
        public static let magic: [UInt8] = Array("HCLA".utf8)
        /// Offset of the SNP report.
        public static let reportOffset = 32
        /// Offset of the IGVM request data (runtime data header).
        public static let runtimeDataOffset = 32 + SEVSNP.reportSize

        /// IGVM report type of an SEV-SNP report.
        public static let reportTypeSNP: UInt32 = 2
        /// IGVM report type of a TDX TD report (Azure TDX confidential VMs).
        public static let reportTypeTDX: UInt32 = 4

        /// The wrapped SEV-SNP report (verify it with ``ReportVerifier``).
        public let report: Report
        /// The runtime data: UTF-8 JSON, exactly the declared variable-data length.
        public let runtimeData: [UInt8]
        /// The hash type of the request data (1 SHA-256, 2 SHA-384, 3 SHA-512).
        public let hashType: UInt32

        /// Parses an HCL report from binary bytes, hex or base64 text.
        public init(bytesOrText data: [UInt8]) throws(AttestationError) {
            try self.init(rawRepresentation: try EvidenceEncoding.decode(data))
        }

        /// Parses a binary HCL report. A wrong magic throws ``AttestationError/Code/malformed``, a
        /// report type other than SNP ``AttestationError/Code/wrongTEEType``; short input throws
        /// ``AttestationError/Code/truncated``.
        public init(rawRepresentation bytes: [UInt8]) throws(AttestationError) {
            var r = ByteReader(bytes)
            guard try r.read(4, "HCL header magic") == Self.magic else {
                throw AttestationError(.malformed, "HCL report does not start with the HCLA magic")
            }
            try r.skip(Self.reportOffset - 4, "HCL header")
            let reportBytes = try r.read(SEVSNP.reportSize, "HCL SNP report")
            _ = try r.u32("runtime data size")
            _ = try r.u32("runtime data version")
            // The same wrapper carries a TD report on Azure TDX VMs (type 4): refuse it by type
            // before reading it as an SNP report.
            let reportType = try r.u32("runtime data report type")
            hashType = try r.u32("runtime data hash type")
            let length = Int(try r.u32("runtime data variable data size"))
            runtimeData = try r.read(length, "runtime data JSON")
            guard reportType == Self.reportTypeSNP else {
                // Why refuse a TD report: nothing in it is signed by Intel (a TD report is MACed
                // for the local QE only); Azure TDX evidence is judged by its TD quote.
                if reportType == Self.reportTypeTDX {
                    throw AttestationError(
                        .wrongTEEType,
                        "the HCL report carries a TDX TD report (report type 4), which no one can verify remotely: "
                            + "Azure TDX evidence is verified through its TD quote, not through the HCL report")
                }
                throw AttestationError(.wrongTEEType, "HCL report type \(reportType) is not SNP (2) or TDX (4)")
            }
            report = try Report(rawRepresentation: reportBytes)
        }

        /// Checks that REPORT_DATA starts with the hash of ``runtimeData`` (of ``hashType``) and
        /// is zero after it. Throws ``AttestationError/Code/runtimeDataMismatch`` otherwise, and
        /// ``AttestationError/Code/malformed`` for an unknown hash type (fail closed).
        ///
        /// This binds the runtime data to the report only once the report itself is verified.
        public func verifyRuntimeDataBinding() throws(AttestationError) {
            let digest: [UInt8]
            switch hashType {
            case 1: digest = Array(SHA256.hash(data: runtimeData))
            case 2: digest = Array(SHA384.hash(data: runtimeData))
            case 3: digest = Array(SHA512.hash(data: runtimeData))
            default: throw AttestationError(.malformed, "HCL runtime data hash type \(hashType) is not 1, 2 or 3")
            }
            let rd = report.reportData.bytes
            guard rd[0..<digest.count].elementsEqual(digest), rd[digest.count...].allSatisfy({ $0 == 0 }) else {
                throw AttestationError(.runtimeDataMismatch, "REPORT_DATA does not start with the hash of the HCL runtime data")
            }
        }
    }
}
