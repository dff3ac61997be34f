import Foundation

extension TPM {
    /// PCR values as presented with a quote: `{bank: {index: hex}}` (JSON), as in evidence bundles.
    public typealias PCRValues = [String: [String: String]]

    /// A quote whose signature, PCR digest and nonce have been checked.
    public struct VerifiedQuote: Sendable {
        /// The parsed attestation.
        public let attest: Attest
        /// The AK's TPM name, when the AK came as a public area.
        public let akName: [UInt8]?
        /// The quoted PCR values (only the selected ones), by bank and index.
        public let pcrs: [String: [Int: [UInt8]]]

        /// Claims as lowercase hex, for reports and policies.
        public var claims: Claims {
            Claims(pcrs: pcrs.mapValues { Dictionary(uniqueKeysWithValues: $0.map { (String($0.key), Hex.encode($0.value)) }) },
                   extraData: Hex.encode(attest.extraData), akName: akName.map(Hex.encode), qualifiedSigner: Hex.encode(attest.qualifiedSigner),
                   clock: attest.clock, resetCount: attest.resetCount, restartCount: attest.restartCount, firmwareVersion: String(format: "%016llx", attest.firmwareVersion),
                   pcrDigest: Hex.encode(attest.pcrDigest))
        }
    }

    /// TPM quote claims (lowercase hex).
    public struct Claims: Sendable, Codable, Hashable {
        /// Quoted PCR values `{bank: {index: hex}}`.
        public let pcrs: [String: [String: String]]
        /// The nonce the quote carries.
        public let extraData: String
        /// The AK name (nameAlg ‖ digest), when known.
        public let akName: String?
        /// The signer's qualified name.
        public let qualifiedSigner: String
        /// TPM clock (ms).
        public let clock: UInt64
        /// Reset count.
        public let resetCount: UInt32
        /// Restart count.
        public let restartCount: UInt32
        /// Firmware version (hex).
        public let firmwareVersion: String
        /// PCR digest.
        public let pcrDigest: String
    }

    /// Verifies TPM quotes: the AK signature over TPMS_ATTEST, the PCR digest over the presented
    /// values (hashed with the signature's hash for every bank, as TPM2_Quote does), and
    /// extraData against the expected nonce. Each failure has its own code.
    public struct QuoteVerifier: Sendable {
        /// Creates a verifier.
        public init() {}

        /// Verifies. `expectedNonce` nil means the caller accepts any extraData (reference
        /// evidence only: a key-release decision must always pass the nonce it issued).
        public func verify(attest: Attest, signature: Signature, ak: PublicKey, pcrs: PCRValues, expectedNonce: [UInt8]?) throws(AttestationError) -> VerifiedQuote {
            guard ak.isValid(signature, over: attest.rawBytes) else {
                throw AttestationError(.quoteSignatureInvalid, "the quote's \(signature.scheme) signature does not verify under the AK")
            }
            if let expectedNonce, attest.extraData != expectedNonce {
                throw AttestationError(.nonceMismatch, "the quote carries nonce \(Hex.encode(attest.extraData)), expected \(Hex.encode(expectedNonce))")
            }
            var concatenated = [UInt8]()
            var quoted = [String: [Int: [UInt8]]]()
            for sel in attest.selection {
                guard let bank = sel.bank.bankName else { continue }
                for i in sel.indices {
                    guard let hex = pcrs[bank]?[String(i)] else { throw AttestationError(.pcrMissing, "PCR \(bank):\(i) is selected by the quote but not presented") }
                    let value: [UInt8]
                    do { value = try Hex.decode(hex) } catch { throw AttestationError(.badEncoding, "PCR \(bank):\(i) is not hex") }
                    guard value.count == (sel.bank.hash([])?.count ?? -1) else {
                        throw AttestationError(.malformed, "PCR \(bank):\(i) has \(value.count) bytes, a \(bank) PCR has \(sel.bank.hash([])?.count ?? 0)")
                    }
                    concatenated += value
                    quoted[bank, default: [:]][i] = value
                }
            }
            guard let digest = signature.hash.hash(concatenated), digest == attest.pcrDigest else {
                throw AttestationError(.pcrDigestMismatch, "the presented PCR values do not hash to the quoted pcrDigest \(Hex.encode(attest.pcrDigest))")
            }
            return VerifiedQuote(attest: attest, akName: ak.name, pcrs: quoted)
        }

        /// Verifies the TPM part of an evidence bundle.
        public func verify(_ evidence: EvidenceBundle.TPMEvidence, expectedNonce: [UInt8]?) throws(AttestationError) -> VerifiedQuote {
            try verify(attest: Attest(rawRepresentation: [UInt8](evidence.attest)), signature: Signature(rawRepresentation: [UInt8](evidence.signature)),
                       ak: PublicKey(bytes: [UInt8](evidence.akPublic)), pcrs: evidence.pcrs, expectedNonce: expectedNonce)
        }
    }
}

extension PolicyInput {
    /// The policy view of a verified TPM quote: measurements `pcr.<bank>.<index>` (lowercase hex).
    public init(tpm verified: TPM.VerifiedQuote, evidenceTime: Date? = nil, imageDigests: [String]? = nil, codeHashes: [String]? = nil) {
        var m = [String: String]()
        for (bank, values) in verified.pcrs { for (i, v) in values { m["pcr.\(bank).\(i)"] = Hex.encode(v) } }
        self.init(platform: .tpm, measurements: m, debug: false, evidenceTime: evidenceTime, imageDigests: imageDigests, codeHashes: codeHashes)
    }
}
