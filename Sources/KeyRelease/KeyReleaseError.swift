/// The KeyRelease module's one error type: a stable machine-readable code (the `code` of every
/// HTTP error body and audit refusal) and a message for operators. Messages never carry key
/// material; HTTP responses carry only the code and the request id, never the message.
public struct KeyReleaseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable codes. Raw values appear in HTTP bodies, audit records and metrics labels.
    public enum Code: String, Sendable, Hashable, CaseIterable, Codable {
        // Request shape (400 / 413)
        /// The body is not the JSON the route expects, or a field has the wrong size or encoding.
        case badRequest = "bad_request"
        /// The body is larger than the configured limit.
        case payloadTooLarge = "payload_too_large"
        /// Missing or wrong admin token.
        case unauthorized = "unauthorized"
        /// No such resource (an audit reference, an escrow entry).
        case notFound = "not_found"
        // Nonce (401 / 409 / 410)
        /// The nonce was never issued by this service.
        case nonceUnknown = "nonce_unknown"
        /// The nonce expired before use.
        case nonceExpired = "nonce_expired"
        /// The nonce was already consumed.
        case nonceUsed = "nonce_used"
        // Evidence and policy (403 / 422)
        /// The evidence does not verify (format, signature, chain, collateral).
        case evidenceInvalid = "evidence_invalid"
        /// The evidence verifies but does not bind this nonce, job and keys.
        case bindingMismatch = "binding_mismatch"
        /// Nothing the operator configured vouches for the TPM attestation key (no AK
        /// certificate chain to a configured root, no verified hardware report, no policy pin).
        case akUntrusted = "ak_untrusted"
        /// The TPM attestation key is not a TPM public area of a restricted signing key fixed to
        /// its TPM, or the quote's qualifiedSigner does not name it.
        case akNotRestricted = "ak_not_restricted"
        /// The AK certificate chain does not verify: another key, expired, revoked, another CA.
        case akCertificateInvalid = "ak_certificate_invalid"
        /// The hardware report in TPM evidence does not verify or does not name the AK.
        case akBindingInvalid = "ak_binding_invalid"
        /// The HPKE public key is a low-order X25519 point: the key agreement would be all zero
        /// and anyone could open the sealed key (RFC 9180 §7.1.4).
        case hpkeKeyWeak = "hpke_key_weak"
        /// No configured policy accepts the evidence (a reason not covered by the codes below).
        case policyRejected = "policy_rejected"
        /// The evidence comes from a debug TEE and the policy forbids it.
        case debugNotAllowed = "debug_not_allowed"
        /// The policy has no section for the evidence's platform.
        case platformNotAllowed = "platform_not_allowed"
        /// The TCB status or level is not accepted (or no TCB level matched).
        case tcbNotAccepted = "tcb_not_accepted"
        /// A measurement (MRTD, RTMR, PCR, MEASUREMENT, HOST_DATA …) is outside the policy.
        case measurementNotAllowed = "measurement_not_allowed"
        /// A container image digest or training-code hash is outside the policy (or absent).
        case workloadNotAllowed = "workload_not_allowed"
        /// The evidence is older than the policy's maxEvidenceAge.
        case evidenceTooOld = "evidence_too_old"
        // Chain (403 / 404 / 409)
        /// The job does not exist on chain.
        case jobNotFound = "job_not_found"
        /// The job is not Granted or Running.
        case jobNotActive = "job_not_active"
        /// The request's datasetRoot differs from the job's.
        case datasetMismatch = "dataset_mismatch"
        /// The dispatch ticket is malformed, expired, or names another job or node.
        case ticketInvalid = "ticket_invalid"
        /// The dispatch ticket is not signed by the job's on-chain provider.
        case ticketSigner = "ticket_wrong_signer"
        /// The request's signerProof is not a signature by its signerPublicKey over the binding.
        case possessionInvalid = "possession_invalid"
        // Escrow
        /// No envelope is escrowed for the dataset.
        case escrowMissing = "escrow_missing"
        /// An escrow upload not signed by the dataset's on-chain owner.
        case escrowSignature = "escrow_not_owner"
        /// An escrow envelope that does not open under the service's escrow key.
        case escrowEnvelope = "escrow_envelope_invalid"
        /// The escrow upload's version is not greater than the stored one (a replayed or
        /// reordered older upload).
        case escrowStale = "escrow_version_stale"
        /// Too many requests from this client address; retry later.
        case rateLimited = "rate_limited"
        // Dependencies (503) and internals (500)
        /// The store cannot be reached.
        case storeUnavailable = "store_unavailable"
        /// A stored row does not decode.
        case storeCorrupt = "store_corrupt"
        /// The chain RPC cannot be reached or answers with an error.
        case chainUnavailable = "chain_unavailable"
        /// Verification collateral (Intel PCS, AMD KDS) cannot be fetched now: retry later. Not
        /// a judgement of the evidence.
        case collateralUnavailable = "collateral_unavailable"
        /// The configuration is invalid.
        case configInvalid = "config_invalid"
        /// An internal failure (sealing, encoding).
        case internalError = "internal_error"
        /// The audit chain is broken: a gap, a fork, or a record whose hash does not match.
        case auditChainBroken = "audit_chain_broken"

        /// The HTTP status this code maps to.
        public var httpStatus: Int {
            switch self {
            case .badRequest, .escrowEnvelope, .hpkeKeyWeak: 400
            case .unauthorized: 401
            case .notFound, .jobNotFound, .escrowMissing: 404
            case .payloadTooLarge: 413
            case .nonceUnknown, .nonceExpired, .nonceUsed: 409
            case .evidenceInvalid, .bindingMismatch, .policyRejected, .debugNotAllowed, .platformNotAllowed, .tcbNotAccepted, .measurementNotAllowed, .workloadNotAllowed, .evidenceTooOld,
                .ticketInvalid, .ticketSigner, .escrowSignature, .possessionInvalid,
                .akUntrusted, .akNotRestricted, .akCertificateInvalid, .akBindingInvalid:
                403
            case .jobNotActive, .datasetMismatch, .escrowStale: 409
            case .rateLimited: 429
            case .storeUnavailable, .chainUnavailable, .collateralUnavailable: 503
            case .storeCorrupt, .configInvalid, .internalError, .auditChainBroken: 500
            }
        }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// Operator-facing detail (logs and CLI only; never an HTTP body).
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
