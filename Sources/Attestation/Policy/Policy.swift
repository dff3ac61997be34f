import Foundation

/// An attestation policy: per platform, the measurements, TCB and debug rules that evidence must
/// meet, the workload identities (image digests, training-code hashes) allowed to run, and the
/// maximum evidence age. Version 1 of the schema is documented in `policies/README.md`.
///
/// A platform without a section is not allowed at all. Inside a section every field is required
/// (measurements either per field or as complete sets, one of the two); `unchecked` must be
/// written out. Validation lists every failure, not the first.
public struct Policy: Sendable, Hashable {
    /// The only schema version this build reads.
    public static let schemaVersion = 1

    /// The rules for one platform.
    public struct PlatformRules: Sendable, Hashable {
        /// Expected measured values by claim name (lowercase hex, or decimal for integers), each
        /// judged on its own. Which names are required depends on the platform
        /// (``Policy/requiredMeasurements``); TPM names are `pcr.<bank>.<index>`. Empty when the
        /// section is written with ``measurementSets`` instead.
        public var measurements: [String: Expectation<String>]
        /// Complete measurement sets (written `measurementSets`, for TPM `pcrSets`): evidence is
        /// accepted only when every one of its measurements meets the same set, so values of
        /// different golden evidence are never combined. Each set names what ``measurements``
        /// would (every required name; for TPM the PCRs it checks). Nil when the section uses the
        /// per-field form. Never empty when set; when both are set, both must be met (fails closed).
        public var measurementSets: [[String: Expectation<String>]]?
        /// TCB statuses accepted (TDX: Intel's names). Nil for platforms without a status (TPM).
        public var tcbStatuses: Set<String>?
        /// Minimum TCB component versions by name (SNP: bootloader, tee, snp, microcode[, fmc]),
        /// or nil when written `unchecked`.
        public var minimumTCB: [String: Int]?
        /// Whether debug TEEs are accepted.
        public var allowDebug: Bool
        /// TPM only: the attestation keys this policy vouches for, each an AK name (lowercase
        /// hex, nameAlg ‖ digest) or `sha256:<hex>` of the AK's SubjectPublicKeyInfo. When set,
        /// the quote's AK must be one of them; when nil, the AK must be anchored by the evidence
        /// (a certificate chain to a configured root, or a verified hardware report).
        public var attestationKeys: [String]?
        /// TDX only: the lowest TCB evaluation data number of the collateral the evidence may be
        /// judged with (refuses judgements made with collateral from before a TCB recovery).
        public var minimumTCBEvaluationDataNumber: Int?

        /// Creates platform rules: per-field `measurements`, or (with `measurements` empty)
        /// complete `measurementSets`.
        public init(
            measurements: [String: Expectation<String>], measurementSets: [[String: Expectation<String>]]? = nil, tcbStatuses: Set<String>?,
            minimumTCB: [String: Int]?, allowDebug: Bool, attestationKeys: [String]? = nil
        ) {
            self.measurements = measurements
            self.measurementSets = measurementSets
            self.tcbStatuses = tcbStatuses
            self.minimumTCB = minimumTCB
            self.allowDebug = allowDebug
            self.attestationKeys = attestationKeys
        }
    }

    /// Workload identity rules: what may run inside the TEE.
    public struct Workload: Sendable, Hashable {
        /// Allowed container image digests (`sha256:<hex>`).
        public var imageDigests: Expectation<String>
        /// Allowed training-code hashes (`sha256:<hex>`).
        public var codeHashes: Expectation<String>

        /// Creates workload rules.
        public init(imageDigests: Expectation<String>, codeHashes: Expectation<String>) {
            self.imageDigests = imageDigests
            self.codeHashes = codeHashes
        }
    }

    /// A human name for the policy (appears in audit records).
    public var name: String
    /// Maximum age of evidence in seconds, or nil when written `unchecked`.
    public var maxEvidenceAge: TimeInterval?
    /// Rules by platform; a platform absent here is rejected.
    public var platforms: [Platform: PlatformRules]
    /// Workload identity rules.
    public var workload: Workload

    /// Creates a policy.
    public init(name: String, maxEvidenceAge: TimeInterval?, platforms: [Platform: PlatformRules], workload: Workload) {
        self.name = name
        self.maxEvidenceAge = maxEvidenceAge
        self.platforms = platforms
        self.workload = workload
    }

    /// Measurement names every section of a platform must state (each may be `unchecked`).
    public static func requiredMeasurements(_ platform: Platform) -> [String] {
        switch platform {
        case .tdx: ["mrTD", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrSeam", "mrConfigID", "mrOwner", "mrOwnerConfig"]
        case .snp: ["measurement", "hostData", "idKeyDigest", "familyID", "imageID", "guestSVN", "vmpl"]
        case .tpm: []
        }
    }
}

/// What a policy judges: the verified claims of one piece of evidence, flattened.
public struct PolicyInput: Sendable {
    /// The platform.
    public var platform: Platform
    /// Measured values by claim name (lowercase hex, or decimal for integers). For TPM the names
    /// are `pcr.<bank>.<index>`.
    public var measurements: [String: String]
    /// Whether the TEE runs in debug mode.
    public var debug: Bool
    /// The TCB status (TDX), or nil when the platform has none or no level matched.
    public var tcbStatus: String?
    /// TCB component versions (SNP REPORTED_TCB), by name.
    public var tcbComponents: [String: Int]
    /// When the evidence was produced (for example when its nonce was issued), if known.
    public var evidenceTime: Date?
    /// Image digests the workload identity shows (from the replayed event log, or the SNP
    /// workload manifest bound by HOST_DATA); nil when the evidence carries no workload identity.
    public var imageDigests: [String]?
    /// Code hashes the workload identity shows; nil when absent.
    public var codeHashes: [String]?
    /// TPM: the attestation key that signed the quote and what anchors it; nil for other platforms.
    public var attestationKey: TPM.AttestationKeyIdentity?
    /// TDX: the TCB evaluation data number of the collateral used; nil for other platforms.
    public var tcbEvaluationDataNumber: Int?

    /// Creates an input.
    public init(
        platform: Platform, measurements: [String: String], debug: Bool, tcbStatus: String? = nil, tcbComponents: [String: Int] = [:],
        evidenceTime: Date? = nil, imageDigests: [String]? = nil, codeHashes: [String]? = nil, attestationKey: TPM.AttestationKeyIdentity? = nil
    ) {
        self.attestationKey = attestationKey
        self.platform = platform
        self.measurements = measurements
        self.debug = debug
        self.tcbStatus = tcbStatus
        self.tcbComponents = tcbComponents
        self.evidenceTime = evidenceTime
        self.imageDigests = imageDigests
        self.codeHashes = codeHashes
    }
}
