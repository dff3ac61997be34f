extension SEVSNP {
    /// Decides whether a verified report is acceptable without a policy file: debug guests.
    ///
    /// Defaults fail closed: a guest whose POLICY allows debugging is rejected, since the host can
    /// then read and write its memory and so would hold any key released to it. Measurements and
    /// TCB minimums are judged by a ``Policy`` through ``PolicyInput/init(snp:evidenceTime:imageDigests:codeHashes:)``.
    public struct Validator: Sendable {
        /// Whether guests with POLICY.DEBUG set are accepted (default: false).
        public var allowDebug: Bool

        /// Creates a validator; the default rejects debug guests.
        public init(allowDebug: Bool = false) {
            self.allowDebug = allowDebug
        }

        /// Returns `.accepted(claims)` or `.rejected` listing every failure.
        public func validate(_ verified: VerifiedReport) -> ValidationResult<Claims> {
            var failures = [ValidationFailure]()
            let policy = verified.report.policy
            if policy.debug && !allowDebug {
                failures.append(ValidationFailure(.debugNotAllowed, String(format: "POLICY 0x%016llx has DEBUG (bit 19) set; debug guests are rejected", policy.rawValue)))
            }
            return failures.isEmpty ? .accepted(verified.claims) : .rejected(failures)
        }
    }
}
