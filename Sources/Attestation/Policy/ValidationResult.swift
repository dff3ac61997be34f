/// One reason evidence was rejected by validation: authentic, but not acceptable.
public struct ValidationFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Stable codes for validation failures.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// No TCB level of the collateral matches the platform (Intel: TCB not supported).
        case noMatchingTCBLevel
        /// The TCB status is not among the accepted ones.
        case tcbStatusNotAccepted
        /// The TEE runs in debug mode and debug is not allowed.
        case debugNotAllowed
        /// A measured value is not the one the policy expects.
        case measurementMismatch
        /// The policy has no section for the evidence's platform.
        case platformNotAllowed
        /// A TCB component is below the policy's minimum.
        case tcbBelowMinimum
        /// The evidence is older than the policy allows, or its age is unknown.
        case evidenceTooOld
        /// The workload identity (image digest, code hash) is not allowed or absent.
        case workloadNotAllowed
        /// Nothing the operator configured vouches for the TPM attestation key: no certificate
        /// chain to an AK root, no verified hardware report, no policy pin that names it.
        case akUntrusted
    }

    /// The stable code.
    public let code: Code
    /// What was wrong, naming the field.
    public let message: String

    /// Creates a failure.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The outcome of validating verified evidence: accepted, or rejected with every failure.
public enum ValidationResult<Claims: Sendable>: Sendable {
    /// Every check passed.
    case accepted(Claims)
    /// At least one check failed; all failures are listed, not just the first.
    case rejected([ValidationFailure])

    /// Whether the evidence was accepted.
    public var isAccepted: Bool { if case .accepted = self { true } else { false } }

    /// The failures (empty when accepted).
    public var failures: [ValidationFailure] { if case .rejected(let f) = self { f } else { [] } }
}
