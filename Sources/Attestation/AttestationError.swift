import ByteEncoding
/// The one error type of the Attestation module.
///
/// Every failure carries a stable ``Code`` that scripts and HTTP responses may rely on, and a
/// human-readable message meant for operators. Messages name fields and offsets, never secrets:
/// evidence is public by construction, but callers must still not put key material in here.
public struct AttestationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable, machine-readable error code (`camelCase`, never renamed once shipped).
    public enum Code: String, Sendable, Codable, CaseIterable {
        // Format
        /// The evidence ended before a declared length was satisfied.
        case truncated
        /// A field holds a value the format does not allow.
        case malformed
        /// The quote version is not one this verifier supports.
        case unsupportedVersion
        /// The quote is from another TEE (for example an SGX quote given to the TDX verifier).
        case wrongTEEType
        /// The attestation key type is not ECDSA-256-with-P-256.
        case unsupportedAttestationKeyType
        /// The certification data type is not the one expected (6 wrapping 5).
        case unsupportedCertificationData
        /// Hex or base64 text could not be decoded.
        case badEncoding

        // Signatures and bindings
        /// The quote signature by the attestation key does not verify.
        case quoteSignatureInvalid
        /// The QE report signature by the PCK key does not verify.
        case qeReportSignatureInvalid
        /// QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
        case qeReportDataMismatch

        // Certificates and CRLs
        /// A certificate in a chain could not be parsed or the chain has the wrong shape.
        case certificateChainMalformed
        /// A certificate's signature by its issuer does not verify, or names do not chain.
        case certificateSignatureInvalid
        /// The chain does not end at the pinned trust anchor.
        case untrustedRoot
        /// A certificate's notAfter is before `now`.
        case certificateExpired
        /// A certificate's notBefore is after `now`.
        case certificateNotYetValid
        /// A certificate in the chain is listed in a CRL.
        case certificateRevoked
        /// A CRL could not be parsed.
        case crlMalformed
        /// A CRL's signature does not verify under its issuer.
        case crlSignatureInvalid
        /// A CRL's nextUpdate is before `now`.
        case crlExpired
        /// A CRL's thisUpdate is after `now`.
        case crlNotYetValid
        /// A certificate lacks an extension the platform requires (for example the SGX extension).
        case certificateExtensionMissing

        // Collateral
        /// Collateral could not be parsed.
        case collateralMalformed
        /// A required piece of collateral was not supplied.
        case collateralMissing
        /// TCB Info's signature does not verify under the TCB signing chain.
        case tcbInfoSignatureInvalid
        /// TCB Info's nextUpdate is before `now`.
        case tcbInfoExpired
        /// TCB Info's issueDate is after `now`.
        case tcbInfoNotYetValid
        /// QE Identity's signature does not verify under the TCB signing chain.
        case qeIdentitySignatureInvalid
        /// QE Identity's nextUpdate is before `now`.
        case qeIdentityExpired
        /// QE Identity's issueDate is after `now`.
        case qeIdentityNotYetValid
        /// TCB Info is for another FMSPC than the PCK certificate's.
        case fmspcMismatch
        /// TCB Info is for another PCE ID than the PCK certificate's.
        case pceIDMismatch
        /// TCB Info or QE Identity is for another TEE type or version.
        case collateralTypeMismatch
        /// The QE report does not match QE Identity (MRSIGNER, ISVPRODID, MISCSELECT, attributes).
        case qeIdentityMismatch
        /// The TDX module (MRSIGNERSEAM, SEAMATTRIBUTES) does not match TCB Info.
        case tdxModuleMismatch
        /// Fetching collateral failed (network, HTTP status, cache I/O); says nothing about the quote.
        case collateralUnavailable

        // SEV-SNP
        /// The SEV-SNP report signature does not verify under the VCEK/VLEK public key.
        case reportSignatureInvalid
        /// A TCB SVN in the VCEK/VLEK certificate differs from the report's REPORTED_TCB.
        case tcbMismatch
        /// The VCEK's hwID extension differs from the report's CHIP_ID.
        case chipIDMismatch
        /// The report's SIGNING_KEY (VCEK or VLEK) is not the kind of certificate supplied.
        case signingKeyMismatch
        /// The AMD product (Milan, Genoa, Turin) is unknown, or the report, certificate and
        /// chain disagree about it.
        case unsupportedProduct
        /// Runtime data bound by a report (Azure HCL) does not hash to its REPORT_DATA.
        case runtimeDataMismatch

        /// SHA-256 of the SNP workload manifest is not HOST_DATA.
        case hostDataMismatch

        // Policy
        /// A policy file does not follow the schema (the message lists every problem with its line).
        case policyInvalid
        /// Golden evidence given to derive a policy would widen it silently (a debug TEE, or TDX
        /// evidence that matched no TCB level) and was not explicitly allowed.
        case goldenEvidenceRefused

        // TPM
        /// The PCR digest in the quote is not the digest of the presented PCR values.
        case pcrDigestMismatch
        /// A PCR the quote selects is missing from the presented values.
        case pcrMissing
        /// The quote's extraData is not the expected nonce.
        case nonceMismatch
        /// The signature scheme, hash or key type is not one this verifier supports.
        case unsupportedAlgorithm
        /// The attestation key is not a TPM public area of a restricted signing key generated in
        /// and fixed to one TPM (fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign).
        case akAttributesInvalid
        /// The quote's qualifiedSigner is not a qualified name of the AK that signed it.
        case qualifiedSignerMismatch
        /// The hardware report that should vouch for the AK names another key, or none.
        case akBindingMismatch
        /// Nothing the verifier was configured with vouches for the TPM attestation key: no
        /// certificate chain to an AK root, no verified hardware report, no pin.
        case akUntrusted

        // Binding
        /// The evidence's user data (TDX/SEV-SNP REPORTDATA, TPM extraData) does not bind the
        /// request it was presented for.
        case bindingMismatch

        // Event logs
        /// Replaying the event log does not give the registers (PCRs, RTMRs) the evidence signs.
        case eventLogMismatch
    }

    /// The stable error code.
    public let code: Code
    /// An operator-facing explanation; never contains key material.
    public let message: String

    /// Creates an error with a code and an explanation.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension AttestationError {
    /// Text that should be hex and is not: ``Code/badEncoding``.
    public init(_ error: Hex.DecodingError) { self.init(.badEncoding, error.message) }
}
