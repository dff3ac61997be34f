extension TPM {
    /// A parsed TPMT_SIGNATURE (Part 2, §11.3.4): RSASSA, RSAPSS or ECDSA.
    public struct Signature: Sendable {
        /// The scheme.
        public let scheme: Alg
        /// The hash the signer used (the digest algorithm for the signed data and, for quotes,
        /// for the PCR digest too).
        public let hash: Alg
        /// RSA signature bytes, or ECDSA r ‖ s (each left-padded to the curve size by the verifier).
        public let rsa: [UInt8]?
        /// ECDSA r.
        public let r: [UInt8]?
        /// ECDSA s.
        public let s: [UInt8]?

        /// Parses TPMT_SIGNATURE bytes.
        public init(rawRepresentation bytes: [UInt8]) throws(AttestationError) {
            var rd = ByteReader(bytes)
            let alg = try rd.u16be("sigAlg")
            guard let scheme = Alg(rawValue: alg), [.rsassa, .rsapss, .ecdsa].contains(scheme) else {
                throw AttestationError(.unsupportedAlgorithm, "signature scheme 0x\(String(alg, radix: 16)) is not RSASSA, RSAPSS or ECDSA")
            }
            let h = try rd.u16be("hashAlg")
            guard let hash = Alg(rawValue: h), hash.bankName != nil else { throw AttestationError(.unsupportedAlgorithm, "signature hash 0x\(String(h, radix: 16)) is not supported") }
            self.scheme = scheme
            self.hash = hash
            if scheme == .ecdsa {
                r = try rd.tpm2b("signatureR")
                s = try rd.tpm2b("signatureS")
                rsa = nil
            } else {
                rsa = try rd.tpm2b("signature")
                r = nil
                s = nil
            }
        }
    }
}
