extension TDX {
    /// A parsed Intel DCAP quote for a TD: v4 (TD 1.0 body) or v5 (TD 1.0 or TD 1.5 body), with
    /// ECDSA-P256 signature data and certification data type 6 (QE report) wrapping type 5 (PCK
    /// chain).
    ///
    /// Parsing goes by declared lengths: bytes after the quote's declared end (padding, text) are
    /// ignored, and every truncation throws ``AttestationError/Code/truncated``. Parsing checks
    /// structure only; nothing here is trusted until ``QuoteVerifier`` says so.
    public struct Quote: Sendable {
        /// The quote header.
        public let header: QuoteHeader
        /// The v5 body type (2: TD 1.0, 3: TD 1.5); 2 for v4 quotes.
        public let bodyType: UInt16
        /// The TD report body.
        public let report: TDReport
        /// The ECDSA signature (r ‖ s) over ``signedBytes`` by the attestation key.
        public let signature: FixedBytes<64>
        /// The attestation public key (x ‖ y, P-256).
        public let attestationKey: FixedBytes<64>
        /// The Quoting Enclave's report, signed by the PCK key.
        public let qeReport: EnclaveReport
        /// The PCK signature (r ‖ s) over the QE report.
        public let qeReportSignature: FixedBytes<64>
        /// QE authentication data, hashed into the QE report data.
        public let qeAuthData: [UInt8]
        /// The PCK certificate chain (PEM, leaf first), from certification data type 5.
        public let pckCertificateChainPEM: [UInt8]
        /// The bytes the attestation key signs: header, (v5: body descriptor,) body.
        public let signedBytes: [UInt8]
        /// The quote's own bytes, up to its declared end.
        public let rawRepresentation: [UInt8]

        /// Certification data type for a QE report certification data structure.
        public static let certDataQEReport: UInt16 = 6
        /// Certification data type for a concatenated PCK certificate chain (PEM).
        public static let certDataPCKChain: UInt16 = 5

        /// Parses a quote from binary bytes, or from hex text (with or without `0x`).
        public init(bytesOrText data: [UInt8]) throws(AttestationError) {
            try self.init(rawRepresentation: try EvidenceEncoding.decode(data))
        }

        /// Parses a binary quote. An SGX quote throws ``AttestationError/Code/wrongTEEType``;
        /// a version other than 4 or 5 throws ``AttestationError/Code/unsupportedVersion``.
        public init(rawRepresentation bytes: [UInt8]) throws(AttestationError) {
            var r = ByteReader(bytes)
            header = try QuoteHeader(reading: &r)
            guard header.teeType == TDX.teeTypeTDX else {
                throw AttestationError(.wrongTEEType, String(format: "TEE type 0x%08x is not TDX (0x81)%@", header.teeType, header.teeType == TDX.teeTypeSGX ? ": this is an SGX quote" : ""))
            }
            guard header.version == 4 || header.version == 5 else {
                throw AttestationError(.unsupportedVersion, "quote version \(header.version) is not 4 or 5")
            }
            guard header.attestationKeyType == TDX.attestationKeyTypeECDSAP256 else {
                throw AttestationError(.unsupportedAttestationKeyType, "attestation key type \(header.attestationKeyType) is not ECDSA-256-with-P-256 (2)")
            }
            if header.version == 5 {
                bodyType = try r.u16("body.type")
                let size = try r.u32("body.size")
                switch (bodyType, Int(size)) {
                case (2, TDReport.sizeTD10), (3, TDReport.sizeTD15): break
                case (2, _), (3, _):
                    throw AttestationError(.malformed, "body type \(bodyType) declares \(size) bytes, expected \(bodyType == 2 ? TDReport.sizeTD10 : TDReport.sizeTD15)")
                default:
                    throw AttestationError(.wrongTEEType, "v5 body type \(bodyType) is not a TD report (2 or 3)")
                }
            } else {
                bodyType = 2
            }
            report = try TDReport(reading: &r, td15: bodyType == 3)
            signedBytes = Array(bytes[0..<r.offset])

            let sigDataSize = Int(try r.u32("signatureData.size"))
            guard sigDataSize <= r.remaining else {
                throw AttestationError(.truncated, "signature data declares \(sigDataSize) bytes at offset \(r.offset), \(r.remaining) left")
            }
            let end = r.offset + sigDataSize
            var s = ByteReader(bytes, offset: r.offset, end: end)
            signature = try s.readFixed("signatureData.signature")
            attestationKey = try s.readFixed("signatureData.attestationKey")
            let certType = try s.u16("certificationData.type")
            guard certType == Self.certDataQEReport else {
                throw AttestationError(.unsupportedCertificationData, "certification data type \(certType) is not 6 (QE report)")
            }
            let certSize = Int(try s.u32("certificationData.size"))
            guard certSize <= s.remaining else {
                throw AttestationError(.truncated, "certification data declares \(certSize) bytes, \(s.remaining) left")
            }
            var c = ByteReader(bytes, offset: s.offset, end: s.offset + certSize)
            qeReport = try EnclaveReport(reading: &c, field: "qeReport")
            qeReportSignature = try c.readFixed("qeReportSignature")
            let authSize = Int(try c.u16("qeAuthData.size"))
            qeAuthData = try c.read(authSize, "qeAuthData")
            let innerType = try c.u16("pckCertificationData.type")
            guard innerType == Self.certDataPCKChain else {
                throw AttestationError(.unsupportedCertificationData, "inner certification data type \(innerType) is not 5 (PCK chain)")
            }
            let innerSize = Int(try c.u32("pckCertificationData.size"))
            pckCertificateChainPEM = try c.read(innerSize, "pckCertificationData")
            rawRepresentation = Array(bytes[0..<end])
        }
    }
}
